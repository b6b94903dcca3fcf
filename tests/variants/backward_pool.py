"""Chapter 12, the pooling backward passes: one-bug versions of the reference answers, and
the bug each must be caught as."""
import numpy as np
from booktools import solution


def catalogue():
    ref = solution("12_backward")

    # max_pool2d_backward ---------------------------------------------------------------
    def _max_pool_with(share, overwrite=False):
        """Each window hands grad_output to its elements as ``share(window)`` says; with
        ``overwrite`` the chosen elements are assigned, not accumulated."""
        def wrong(grad_output, input, kernel_size, stride=None, padding=0, dilation=1,
                  ceil_mode=False):
            x4, batched = ref._batched(input)
            k, s, p, d, out, extra = ref._pool_geometry(x4.shape, kernel_size, stride, padding,
                                                        dilation, ceil_mode)
            go = grad_output if batched else grad_output[None]
            xp = np.pad(x4, [(0, 0), (0, 0), (p[0], p[0] + extra[0]), (p[1], p[1] + extra[1])],
                        constant_values=-np.inf)
            grad = np.zeros_like(xp)
            for i in range(out[0]):
                for j in range(out[1]):
                    rows = i * s[0] + d[0] * np.arange(k[0])
                    cols = j * s[1] + d[1] * np.arange(k[1])
                    weights = share(xp[:, :, rows[:, None], cols[None, :]])
                    for a in range(k[0]):
                        for b in range(k[1]):
                            here = grad[:, :, rows[a], cols[b]]
                            if overwrite:
                                grad[:, :, rows[a], cols[b]] = np.where(
                                    weights[:, :, a, b] > 0, go[:, :, i, j], here)
                            else:
                                grad[:, :, rows[a], cols[b]] += weights[:, :, a, b] * go[:, :, i, j]
            h, w = x4.shape[-2:]
            grad = grad[..., p[0]:p[0] + h, p[1]:p[1] + w]
            return grad if batched else grad[0]
        return wrong

    def every_tie(window):
        return (window == window.max(axis=(2, 3), keepdims=True)).astype(float)

    def last_tie(window):
        flat = window.reshape(*window.shape[:2], -1)
        last = flat.shape[-1] - 1 - np.argmax(flat[..., ::-1], axis=-1)
        mask = np.zeros_like(flat)
        np.put_along_axis(mask, last[..., None], 1.0, axis=-1)
        return mask.reshape(window.shape)

    def split_ties(window):
        ties = every_tie(window)
        return ties / ties.sum(axis=(2, 3), keepdims=True)

    def first_tie(window):
        flat = window.reshape(*window.shape[:2], -1)
        mask = np.zeros_like(flat)
        np.put_along_axis(mask, np.argmax(flat, axis=-1)[..., None], 1.0, axis=-1)
        return mask.reshape(window.shape)

    # avg_pool2d_backward ---------------------------------------------------------------
    def avg_not_divided(grad_output, input, kernel_size, stride=None, padding=0,
                        ceil_mode=False, count_include_pad=True, divisor_override=None):
        return ref.avg_pool2d_backward(grad_output, input, kernel_size, stride, padding,
                                       ceil_mode, count_include_pad, 1)

    def avg_include_ignored(grad_output, input, kernel_size, stride=None, padding=0,
                            ceil_mode=False, count_include_pad=True, divisor_override=None):
        return ref.avg_pool2d_backward(grad_output, input, kernel_size, stride, padding,
                                       ceil_mode, True, divisor_override)

    def avg_override_ignored(grad_output, input, kernel_size, stride=None, padding=0,
                             ceil_mode=False, count_include_pad=True, divisor_override=None):
        return ref.avg_pool2d_backward(grad_output, input, kernel_size, stride, padding,
                                       ceil_mode, count_include_pad, None)

    def avg_always_k2(grad_output, input, kernel_size, stride=None, padding=0, ceil_mode=False,
                      count_include_pad=True, divisor_override=None):
        if count_include_pad and divisor_override is None:
            kh, kw = ref._ntuple(kernel_size, 2)
            divisor_override = kh * kw
        return ref.avg_pool2d_backward(grad_output, input, kernel_size, stride, padding,
                                       ceil_mode, count_include_pad, divisor_override)

    # adaptive_avg_pool2d_backward -------------------------------------------------------
    def _adaptive_with(window, divide=True):
        def wrong(grad_output, input, output_size):
            x4, batched = ref._batched(input)
            go = grad_output if batched else grad_output[None]
            mats = []
            for size, out in zip(x4.shape[2:], go.shape[2:], strict=True):
                m = np.zeros((out, size))
                for i in range(out):
                    start, end = window(i, size, out)
                    if end > start:
                        m[i, start:end] = 1.0 / (end - start) if divide else 1.0
                mats.append(m)
            grad = mats[0].T @ go @ mats[1]
            return grad if batched else grad[0]
        return wrong

    def _ceil(a, b):
        return -(-a // b)

    return [
        ("max_pool2d_backward", _max_pool_with(every_tie), "every-tied-maximum"),
        ("max_pool2d_backward", _max_pool_with(last_tie), "last-tied-maximum"),
        ("max_pool2d_backward", _max_pool_with(split_ties), "gradient-split-among-ties"),
        ("max_pool2d_backward", _max_pool_with(first_tie, overwrite=True),
         "overlapping-windows-overwritten"),
        ("avg_pool2d_backward", avg_not_divided, "gradient-not-divided-by-divisor"),
        ("avg_pool2d_backward", avg_include_ignored, "count-include-pad-ignored"),
        ("avg_pool2d_backward", avg_override_ignored, "divisor-override-ignored"),
        ("avg_pool2d_backward", avg_always_k2, "divisor-always-kernel-area"),
        ("adaptive_avg_pool2d_backward",
         _adaptive_with(lambda i, n, o: (i * n // o, (i + 1) * n // o)), "window-end-rounded-down"),
        ("adaptive_avg_pool2d_backward",
         _adaptive_with(lambda i, n, o: (i * (n // o), i * (n // o) + max(n // o, 1))),
         "uniform-windows"),
        ("adaptive_avg_pool2d_backward",
         _adaptive_with(lambda i, n, o: (i * n // o, _ceil((i + 1) * n, o)), divide=False),
         "gradient-not-divided-by-area"),
        ("adaptive_avg_pool2d_backward",
         _adaptive_with(lambda i, n, o: (_ceil(i * n, o), _ceil((i + 1) * n, o))),
         "window-start-rounded-up"),
    ]
