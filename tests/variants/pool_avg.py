"""Chapter 05b: one-bug versions of the reference average pooling answers, and the bug each
must be named for."""
import numpy as np
from booktools import solution

from variants.pool_max import named


def avg_wrongs(ref, f, d):
    """(one-bug avg_pool{d}d built on the reference ``f``, bug id) pairs."""
    nt = ref._ntuple

    def call(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
        if d == 1:
            return f(input, kernel_size, stride, padding, ceil_mode, count_include_pad)
        return f(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                 divisor_override)

    def stride_one(input, kernel_size, stride=None, padding=0, ceil_mode=False,
                   count_include_pad=True, divisor_override=None):
        return call(input, kernel_size, 1 if stride is None else stride, padding, ceil_mode,
                    count_include_pad, divisor_override)

    def always_count_pad(input, kernel_size, stride=None, padding=0, ceil_mode=False,
                         count_include_pad=True, divisor_override=None):
        return call(input, kernel_size, stride, padding, ceil_mode, True, divisor_override)

    def never_count_pad(input, kernel_size, stride=None, padding=0, ceil_mode=False,
                        count_include_pad=True, divisor_override=None):
        return call(input, kernel_size, stride, padding, ceil_mode, False, divisor_override)

    def divisor_override_ignored(input, kernel_size, stride=None, padding=0, ceil_mode=False,
                                 count_include_pad=True, divisor_override=None):
        return call(input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)

    def zero_padded(input, kernel_size, stride, padding, outs):
        """Pooled with padding 0 over the input padded with zeros so that `outs` windows fit:
        every window divided by the whole kernel."""
        k = nt(kernel_size, d)
        s = k if stride is None else nt(stride, d)
        p, sizes = nt(padding, d), input.shape[-d:]
        pairs = [(q, max(q, (o - 1) * ss + kk - q - n))
                 for n, kk, ss, q, o in zip(sizes, k, s, p, outs, strict=True)]
        padded = np.pad(input, [(0, 0)] * (input.ndim - d) + pairs)
        return call(padded, kernel_size, s, 0, False, True, None)

    def windows(input, kernel_size, stride, padding, drop):
        k = nt(kernel_size, d)
        s = k if stride is None else nt(stride, d)
        p, sizes = nt(padding, d), input.shape[-d:]
        if drop:
            return [ref.pool_output_size(n, kk, ss, q, 1, True)
                    for n, kk, ss, q in zip(sizes, k, s, p, strict=True)]
        return [-(-(n + 2 * q - kk) // ss) + 1 for n, kk, ss, q in zip(sizes, k, s, p, strict=True)]

    def ceil_divides_by_whole_kernel(input, kernel_size, stride=None, padding=0, ceil_mode=False,
                                     count_include_pad=True, divisor_override=None):
        if not ceil_mode or not count_include_pad or divisor_override is not None:
            return call(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                        divisor_override)
        return zero_padded(input, kernel_size, stride, padding,
                           windows(input, kernel_size, stride, padding, drop=True))

    def ceil_keeps_window_in_right_padding(input, kernel_size, stride=None, padding=0,
                                           ceil_mode=False, count_include_pad=True,
                                           divisor_override=None):
        right = call(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)
        if not ceil_mode or not count_include_pad or divisor_override is not None:
            return right
        kept = windows(input, kernel_size, stride, padding, drop=False)
        if kept == windows(input, kernel_size, stride, padding, drop=True):
            return right
        return zero_padded(input, kernel_size, stride, padding, kept)

    def ceil_ignored(input, kernel_size, stride=None, padding=0, ceil_mode=False,
                     count_include_pad=True, divisor_override=None):
        return call(input, kernel_size, stride, padding, False, count_include_pad, divisor_override)

    wrongs = [
        (stride_one, "stride-defaults-to-1"),
        (always_count_pad, "count-include-pad-false-ignored"),
        (never_count_pad, "count-include-pad-true-ignored"),
        (ceil_divides_by_whole_kernel, "ceil-mode-divisor-whole-kernel"),
        (ceil_keeps_window_in_right_padding, "ceil-mode-keeps-window-in-right-padding"),
        (ceil_ignored, "ceil-mode-ignored"),
    ]
    if d > 1:
        wrongs.append((divisor_override_ignored, "divisor-override-ignored"))
    return wrongs


def upcast(f):
    """Right values, computed in float64 whatever the input (a float64 buffer or divisor)."""
    def upcast(input, *args, **kwargs):
        return f(input.astype(np.float64), *args, **kwargs)
    return upcast


def catalogue():
    ref = solution("05_pooling")
    out = []
    for name, d in {"avg_pool1d": 1, "avg_pool2d": 2, "avg_pool3d": 3}.items():
        f = getattr(ref, name)
        out += [(name, named(name, fn), bug) for fn, bug in avg_wrongs(ref, f, d)]
        out.append((name, named(name, upcast(f)), "upcast-to-float64"))
    return out
