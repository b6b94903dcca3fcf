"""Chapter 05a: one-bug versions of the reference max pooling answers, and the bug each must
be named for."""
import numpy as np
from booktools import solution


def shift(idx, from_shape, to_shape, offset):
    """Flat indices in a plane of `from_shape` -> in `to_shape`, coordinates + offset."""
    coords = np.unravel_index(idx, from_shape)
    flat = np.zeros_like(idx)
    for c, o, n in zip(coords, offset, to_shape, strict=True):
        flat = flat * n + (c + o)
    return flat.astype(np.int64)


def named(name, fn):
    """A distinct function per exercise, so the test ids stay readable and unique."""
    def wrong(*args, **kwargs):
        return fn(*args, **kwargs)
    wrong.__name__ = fn.__name__
    wrong.__qualname__ = f"{name}.{fn.__name__}"
    return wrong


def max_wrongs(ref, f, d):
    """(one-bug max_pool{d}d built on the reference ``f``, bug id) pairs."""
    nt = ref._ntuple

    def geometry(input, kernel_size, stride, padding, dilation):
        k = nt(kernel_size, d)
        s = k if stride is None else nt(stride, d)
        return input.shape[-d:], k, s, nt(padding, d), nt(dilation, d)

    def stride_one(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                   return_indices=False):
        return f(input, kernel_size, 1 if stride is None else stride, padding, dilation,
                 ceil_mode, return_indices)

    def indices_in_padded_plane(input, kernel_size, stride=None, padding=0, dilation=1,
                                ceil_mode=False, return_indices=False):
        result = f(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)
        sizes, _, _, p, _ = geometry(input, kernel_size, stride, padding, dilation)
        if not return_indices or not any(p):
            return result
        values, idx = result
        return values, shift(idx, sizes, tuple(n + 2 * q for n, q in zip(sizes, p, strict=True)), p)

    def nan_ignored(input, *args, **kwargs):
        return f(np.where(np.isnan(input), -np.inf, input), *args, **kwargs)

    def ceil_keeps_window_in_right_padding(input, kernel_size, stride=None, padding=0,
                                           dilation=1, ceil_mode=False, return_indices=False):
        if not ceil_mode:
            return f(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)
        sizes, k, s, p, dl = geometry(input, kernel_size, stride, padding, dilation)
        outs = [-(-(n + 2 * q - dd * (kk - 1) - 1) // ss) + 1
                for n, kk, ss, q, dd in zip(sizes, k, s, p, dl, strict=True)]
        pairs = [(q, max(q, (o - 1) * ss + dd * (kk - 1) + 1 - q - n))
                 for n, kk, ss, q, dd, o in zip(sizes, k, s, p, dl, outs, strict=True)]
        padded = np.pad(input, [(0, 0)] * (input.ndim - d) + pairs, constant_values=-np.inf)
        result = f(padded, kernel_size, s, 0, dilation, False, return_indices)
        if not return_indices:
            return result
        values, idx = result
        return values, shift(idx, padded.shape[-d:], sizes, [-a for a, _ in pairs])

    def dilation_ignored(input, kernel_size, stride=None, padding=0, dilation=1,
                         ceil_mode=False, return_indices=False):
        return f(input, kernel_size, stride, padding, 1, ceil_mode, return_indices)

    def zero_padding(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                     return_indices=False):
        sizes, k, s, p, dl = geometry(input, kernel_size, stride, padding, dilation)
        if (not any(p) or ceil_mode or return_indices
                or any(q > kk // 2 for q, kk in zip(p, k, strict=True))):
            return f(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)
        padded = np.pad(input, [(0, 0)] * (input.ndim - d) + [(q, q) for q in p])
        return f(padded, kernel_size, s, 0, dilation, ceil_mode, return_indices)

    def ceil_mode_ignored(input, kernel_size, stride=None, padding=0, dilation=1,
                          ceil_mode=False, return_indices=False):
        return f(input, kernel_size, stride, padding, dilation, False, return_indices)

    return [
        (stride_one, "stride-defaults-to-1"),
        (indices_in_padded_plane, "indices-over-padded-plane"),
        (nan_ignored, "nan-ignored"),
        (ceil_keeps_window_in_right_padding, "ceil-mode-keeps-window-in-right-padding"),
        (dilation_ignored, "dilation-ignored"),
        (zero_padding, "zero-padding"),
        (ceil_mode_ignored, "ceil-mode-ignored"),
    ]


def catalogue():
    ref = solution("05_pooling")
    out = []
    for name, d in {"max_pool1d": 1, "max_pool2d": 2, "max_pool3d": 3}.items():
        out += [(name, named(name, fn), bug) for fn, bug in max_wrongs(ref, getattr(ref, name), d)]
    out += [("max_pool2d_loop", named("max_pool2d_loop", fn), bug)
            for fn, bug in max_wrongs(ref, ref.max_pool2d_loop, 2)]
    return out
