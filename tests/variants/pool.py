"""Chapter 05: one-bug versions of the reference pooling answers, and the hint each must earn."""
import numpy as np

from booktools import solution


def _shift(idx, from_shape, to_shape, offset):
    """Flat indices in a plane of `from_shape` -> in `to_shape`, coordinates + offset."""
    coords = np.unravel_index(idx, from_shape)
    flat = np.zeros_like(idx)
    for c, o, n in zip(coords, offset, to_shape):
        flat = flat * n + (c + o)
    return flat.astype(np.int64)


def _max_wrongs(ref, f, d):
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
        return values, _shift(idx, sizes, tuple(n + 2 * q for n, q in zip(sizes, p)), p)

    def nan_ignored(input, *args, **kwargs):
        return f(np.where(np.isnan(input), -np.inf, input), *args, **kwargs)

    def ceil_keeps_window_in_right_padding(input, kernel_size, stride=None, padding=0,
                                           dilation=1, ceil_mode=False, return_indices=False):
        if not ceil_mode:
            return f(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)
        sizes, k, s, p, dl = geometry(input, kernel_size, stride, padding, dilation)
        outs = [-(-(n + 2 * q - dd * (kk - 1) - 1) // ss) + 1 for n, kk, ss, q, dd in zip(sizes, k, s, p, dl)]
        pairs = [(q, max(q, (o - 1) * ss + dd * (kk - 1) + 1 - q - n))
                 for n, kk, ss, q, dd, o in zip(sizes, k, s, p, dl, outs)]
        padded = np.pad(input, [(0, 0)] * (input.ndim - d) + pairs, constant_values=-np.inf)
        result = f(padded, kernel_size, s, 0, dilation, False, return_indices)
        if not return_indices:
            return result
        values, idx = result
        return values, _shift(idx, padded.shape[-d:], sizes, [-a for a, _ in pairs])

    def dilation_ignored(input, kernel_size, stride=None, padding=0, dilation=1,
                         ceil_mode=False, return_indices=False):
        return f(input, kernel_size, stride, padding, 1, ceil_mode, return_indices)

    def zero_padding(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                     return_indices=False):
        sizes, k, s, p, dl = geometry(input, kernel_size, stride, padding, dilation)
        if not any(p) or ceil_mode or return_indices or any(q > kk // 2 for q, kk in zip(p, k)):
            return f(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)
        padded = np.pad(input, [(0, 0)] * (input.ndim - d) + [(q, q) for q in p])
        return f(padded, kernel_size, s, 0, dilation, ceil_mode, return_indices)

    return [
        (stride_one, "not 1"),
        (indices_in_padded_plane, "UNPADDED input plane"),
        (nan_ignored, "propagates NaN"),
        (ceil_keeps_window_in_right_padding, "drops a last window"),
        (dilation_ignored, "dilation is ignored"),
        (zero_padding, "pads with -inf"),
    ]


def _avg_wrongs(ref, f, d):
    nt = ref._ntuple

    def call(input, kernel_size, stride, padding, ceil_mode, cip, dov):
        if d == 1:
            return f(input, kernel_size, stride, padding, ceil_mode, cip)
        return f(input, kernel_size, stride, padding, ceil_mode, cip, dov)

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

    def ceil_divides_by_whole_kernel(input, kernel_size, stride=None, padding=0, ceil_mode=False,
                                     count_include_pad=True, divisor_override=None):
        if not ceil_mode or not count_include_pad or divisor_override is not None:
            return call(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                        divisor_override)
        k = nt(kernel_size, d)
        s = k if stride is None else nt(stride, d)
        p, sizes = nt(padding, d), input.shape[-d:]
        outs = [ref.pool_output_size(n, kk, ss, q, 1, True) for n, kk, ss, q in zip(sizes, k, s, p)]
        pairs = [(q, max(q, (o - 1) * ss + kk - q - n)) for n, kk, ss, q, o in zip(sizes, k, s, p, outs)]
        padded = np.pad(input, [(0, 0)] * (input.ndim - d) + pairs)
        return call(padded, kernel_size, s, 0, False, True, None)

    def ceil_ignored(input, kernel_size, stride=None, padding=0, ceil_mode=False,
                     count_include_pad=True, divisor_override=None):
        return call(input, kernel_size, stride, padding, False, count_include_pad, divisor_override)

    wrongs = [
        (stride_one, "not 1"),
        (always_count_pad, "averaged over the padded zeros"),
        (never_count_pad, "counts the padded zeros"),
        (ceil_divides_by_whole_kernel, "not by the whole kernel"),
        (ceil_ignored, "rounds the output size up"),
    ]
    if d > 1:
        wrongs.append((divisor_override_ignored, "whatever it covers"))
    return wrongs


def _lp_wrongs(ref, f, d):
    nt = ref._ntuple
    max_pool = getattr(ref, f"max_pool{d}d")
    avg_pool = getattr(ref, f"avg_pool{d}d")

    def stride_one(input, norm_type, kernel_size, stride=None, ceil_mode=False):
        return f(input, norm_type, kernel_size, 1 if stride is None else stride, ceil_mode)

    def power_mean(input, norm_type, kernel_size, stride=None, ceil_mode=False):
        if not np.isfinite(norm_type):
            return f(input, norm_type, kernel_size, stride, ceil_mode)
        with np.errstate(all="ignore"):
            return avg_pool(input ** norm_type, kernel_size, stride, 0, ceil_mode) ** (1.0 / norm_type)

    def abs_first(input, norm_type, kernel_size, stride=None, ceil_mode=False):
        if not np.isfinite(norm_type):
            return f(input, norm_type, kernel_size, stride, ceil_mode)
        return f(np.abs(input), norm_type, kernel_size, stride, ceil_mode)

    def partial_window_summed(input, norm_type, kernel_size, stride=None, ceil_mode=False):
        if not ceil_mode or not np.isfinite(norm_type):
            return f(input, norm_type, kernel_size, stride, ceil_mode)
        k = nt(kernel_size, d)
        s = k if stride is None else nt(stride, d)
        with np.errstate(all="ignore"):
            xp = input ** norm_type
            if d == 1:
                total = ref.avg_pool2d(xp[..., None, :], (1, k[0]), (1, s[0]), 0, True, True, 1)[..., 0, :]
            else:
                total = getattr(ref, f"avg_pool{d}d")(xp, k, s, 0, True, True, 1)
            return total ** (1.0 / norm_type)

    def inf_without_abs(input, norm_type, kernel_size, stride=None, ceil_mode=False):
        if np.isfinite(norm_type):
            return f(input, norm_type, kernel_size, stride, ceil_mode)
        if norm_type > 0:
            return max_pool(input, kernel_size, stride, 0, 1, ceil_mode)
        return -max_pool(-input, kernel_size, stride, 0, 1, ceil_mode)

    return [
        (stride_one, "not 1"),
        (power_mean, "power mean"),
        (abs_first, "not |x|"),
        (partial_window_summed, "AVERAGE of x^p"),
        (inf_without_abs, "absolute value first"),
    ]


def _frac_wrongs(ref):
    f = ref.fractional_max_pool2d

    def samples_swapped(input, kernel_size, output_size=None, output_ratio=None,
                        return_indices=False, _random_samples=None):
        return f(input, kernel_size, output_size, output_ratio, return_indices,
                 None if _random_samples is None else _random_samples[..., ::-1])

    def first_image_samples(input, kernel_size, output_size=None, output_ratio=None,
                            return_indices=False, _random_samples=None):
        if _random_samples is not None:
            _random_samples = np.broadcast_to(_random_samples[:1], _random_samples.shape)
        return f(input, kernel_size, output_size, output_ratio, return_indices, _random_samples)

    def indices_over_whole_tensor(input, kernel_size, output_size=None, output_ratio=None,
                                  return_indices=False, _random_samples=None):
        result = f(input, kernel_size, output_size, output_ratio, return_indices, _random_samples)
        if not return_indices or input.ndim != 4:
            return result
        n, c, h, w = input.shape
        offset = (np.arange(n)[:, None] * c + np.arange(c)[None, :]) * h * w
        return result[0], result[1] + offset[:, :, None, None]

    def ratio_swapped(input, kernel_size, output_size=None, output_ratio=None,
                      return_indices=False, _random_samples=None):
        if output_ratio is not None:
            output_ratio = tuple(output_ratio)[::-1]
        return f(input, kernel_size, output_size, output_ratio, return_indices, _random_samples)

    def nan_ignored(input, *args, **kwargs):
        return f(np.where(np.isnan(input), -np.inf, input), *args, **kwargs)

    return [
        (samples_swapped, "other way round"),
        (first_image_samples, "its own samples"),
        (indices_over_whole_tensor, "within each H×W plane"),
        (ratio_swapped, "(rows, columns)"),
        (nan_ignored, "propagates NaN"),
    ]


def _named(name, fn):
    """A distinct function per exercise, so the test ids stay readable and unique."""
    def wrong(*args, **kwargs):
        return fn(*args, **kwargs)
    wrong.__name__ = fn.__name__
    wrong.__qualname__ = f"{name}.{fn.__name__}"
    return wrong


def catalogue():
    ref = solution("05_pooling")
    out = []
    for d in (1, 2, 3):
        for fn, hint in _max_wrongs(ref, getattr(ref, f"max_pool{d}d"), d):
            out.append((f"max_pool{d}d", _named(f"max_pool{d}d", fn), hint))
        for fn, hint in _avg_wrongs(ref, getattr(ref, f"avg_pool{d}d"), d):
            out.append((f"avg_pool{d}d", _named(f"avg_pool{d}d", fn), hint))
    for fn, hint in _max_wrongs(ref, ref.max_pool2d_loop, 2):
        out.append(("max_pool2d_loop", _named("max_pool2d_loop", fn), hint))
    for d in (1, 2, 3):
        for fn, hint in _lp_wrongs(ref, getattr(ref, f"lp_pool{d}d"), d):
            out.append((f"lp_pool{d}d", _named(f"lp_pool{d}d", fn), hint))
    for fn, hint in _frac_wrongs(ref):
        out.append(("fractional_max_pool2d", _named("fractional_max_pool2d", fn), hint))
    for fn, hint in _frac3_wrongs(ref):
        out.append(("fractional_max_pool3d", _named("fractional_max_pool3d", fn), hint))
    for d in (1, 2, 3):
        out.append((f"avg_pool{d}d", _named(f"avg_pool{d}d", _upcast(getattr(ref, f"avg_pool{d}d"))),
                    "np.zeros(shape)"))
    return out


def _upcast(f):
    """Right values, computed in float64 whatever the input (a float64 buffer or divisor)."""
    def upcast(input, *args, **kwargs):
        return f(input.astype(np.float64), *args, **kwargs)
    return upcast


def _frac3_wrongs(ref):
    f = ref.fractional_max_pool3d

    def samples_in_2d_order(input, kernel_size, output_size=None, output_ratio=None,
                            return_indices=False, _random_samples=None):
        return f(input, kernel_size, output_size, output_ratio, return_indices,
                 None if _random_samples is None else _random_samples[..., ::-1].copy())

    def nan_ignored(input, *args, **kwargs):
        return f(np.where(np.isnan(input), -np.inf, input), *args, **kwargs)

    return [(samples_in_2d_order, "(T, H, W)"), (nan_ignored, "propagates NaN")]
