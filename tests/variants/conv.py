"""Chapter 01: one-bug versions of the reference answers, and the bug each must be named for."""
import numpy as np
from booktools import solution

from autograder.checks._shapes import expand


def catalogue():
    ref = solution("01_convolution")

    def flipped(x, w, b=None, **kw):
        return ref.conv2d(x, w[..., ::-1, ::-1], b, **kw)

    def upcast(x, w, b=None, **kw):
        """Right values, but float32 input comes back float64 (a float64 buffer)."""
        return ref.conv2d(x.astype(np.float64), w.astype(np.float64), b, **kw)

    def bias_ignored(x, w, b=None, **kw):
        return ref.conv2d(x, w, None, **kw)

    def _one_sided(x, w, b, stride, padding, at_end):
        if isinstance(padding, str) or padding == 0:
            return ref.conv2d(x, w, b, stride=stride, padding=padding)
        ph, pw = expand(padding, 2)
        sides = [(0, 2 * ph), (0, 2 * pw)] if at_end else [(2 * ph, 0), (2 * pw, 0)]
        return ref.conv2d(np.pad(x, [(0, 0)] * (x.ndim - 2) + sides), w, b, stride=stride)

    def padding_at_end(x, w, b=None, stride=1, padding=0, **kw):
        return _one_sided(x, w, b, stride, padding, at_end=True)

    def padding_at_start(x, w, b=None, stride=1, padding=0, **kw):
        return _one_sided(x, w, b, stride, padding, at_end=False)

    def same_extra_first(x, w, b=None, stride=1, padding=0, **kw):
        if padding != "same":
            return ref.conv2d(x, w, b, stride=stride, padding=padding)
        if stride != 1:
            raise ValueError("strided 'same'")
        widths = [(0, 0)] * (x.ndim - 2) + [(k - 1 - (k - 1) // 2, (k - 1) // 2)
                                            for k in w.shape[2:]]
        return ref.conv2d(np.pad(x, widths), w, b)

    def weight_axes_swapped(x, w, b=None, **kw):
        return ref.conv2d(x, np.swapaxes(w, 0, 1), b, **kw)

    def kernel_transposed(x, w, b=None, **kw):
        return ref.conv2d(x, np.swapaxes(w, -1, -2), b, **kw)

    def stride_ignored(x, w, b=None, stride=1, padding=0, **kw):
        if padding == "same" and stride != 1:
            raise ValueError("strided 'same'")
        return ref.conv2d(x, w, b, padding=padding)

    def output_size_ceil(x, w, b=None, stride=1, padding=0, **kw):
        """Rounds the output size up: a last window that runs past the padding is kept."""
        if isinstance(padding, str):
            return ref.conv2d(x, w, b, stride=stride, padding=padding)
        (sh, sw), (ph, pw) = expand(stride, 2), expand(padding, 2)
        extra = []
        for size, k, s, p in zip(x.shape[-2:], w.shape[-2:], (sh, sw), (ph, pw), strict=True):
            out = -(-(size + 2 * p - k) // s) + 1
            extra.append((out - 1) * s + k - (size + 2 * p))
        widths = [(0, 0)] * (x.ndim - 2) + [(ph, ph + extra[0]), (pw, pw + extra[1])]
        return ref.conv2d(np.pad(x, widths), w, b, stride=stride)

    def symmetric_reflect(x, pad, mode="constant", value=None):
        if mode != "reflect":
            return ref.pad(x, pad, mode, value)
        widths = [(0, 0)] * x.ndim
        for i in range(len(pad) // 2):
            widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
        return np.pad(x, widths, mode="symmetric")

    def pad_pairs_first_dim_first(x, pad, mode="constant", value=None):
        pairs = [pad[i:i + 2] for i in range(0, len(pad), 2)]
        return ref.pad(x, tuple(v for pair in reversed(pairs) for v in pair), mode, value)

    def pad_sides_swapped(x, pad, mode="constant", value=None):
        return ref.pad(x, tuple(v for i in range(0, len(pad), 2) for v in (pad[i + 1], pad[i])),
                       mode, value)

    def value_ignored(x, pad, mode="constant", value=None):
        return ref.pad(x, pad, mode)

    def padding_mode_ignored(*args, padding_mode="zeros", **kwargs):
        return ref.Conv2d(*args, **kwargs)

    return [
        ("conv2d", flipped, "flipped-kernel"),
        ("conv2d", upcast, "upcast-to-float64"),
        ("conv2d", bias_ignored, "bias-ignored"),
        ("conv2d", padding_at_end, "padding-at-end-only"),
        ("conv2d", padding_at_start, "padding-at-start-only"),
        ("conv2d", same_extra_first, "same-extra-padding-at-start"),
        ("conv2d", weight_axes_swapped, "weight-axes-swapped"),
        ("conv2d", kernel_transposed, "kernel-transposed"),
        ("conv2d", stride_ignored, "stride-ignored"),
        ("conv2d", output_size_ceil, "output-size-rounded-up"),
        ("conv2d_loop", flipped, "flipped-kernel"),
        ("pad", symmetric_reflect, "symmetric-instead-of-reflect"),
        ("pad", pad_pairs_first_dim_first, "pad-pairs-in-wrong-order"),
        ("pad", pad_sides_swapped, "pad-sides-swapped"),
        ("pad", value_ignored, "pad-value-ignored"),
        ("Conv2d", padding_mode_ignored, "padding-mode-ignored"),
    ]
