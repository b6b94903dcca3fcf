"""Chapter 06b: one-bug versions of interpolate, and the bug each must be caught as."""
import types

import numpy as np
from booktools import solution


def _rebound(ref, **replacements):
    """The chapter's functions again, in a namespace where some helpers are replaced.

    interpolate finds _nearest_matrix & co. through its globals: copying every function
    onto a patched copy of the namespace swaps one helper without touching the others.
    """
    namespace = dict(vars(ref))
    namespace.update(replacements)
    for name, value in list(namespace.items()):
        if isinstance(value, types.FunctionType) and name not in replacements:
            namespace[name] = types.FunctionType(value.__code__, namespace, value.__name__,
                                                 value.__defaults__, value.__closure__)
    return types.SimpleNamespace(**namespace)


def _linear_matrix(ref, in_size, out_size, scale_factor, align_corners, *, half_pixel=True,
                   clamp=True, shortcut=True):
    matrix = np.zeros((out_size, in_size))
    dst = np.arange(out_size)
    if shortcut and out_size == in_size:
        matrix[dst, dst] = 1.0
        return matrix
    scale = ref._scale(in_size, out_size, scale_factor, align_corners)
    if align_corners or not half_pixel:
        src = scale * dst
    else:
        src = scale * (dst + 0.5) - 0.5
        src = np.maximum(src, 0.0) if clamp else src
    i0 = np.minimum(np.floor(src.astype(np.float32)).astype(np.int64), in_size - 1)
    lam = np.clip(src - i0, 0.0, 1.0)
    i1 = np.minimum(i0 + 1, in_size - 1)
    np.add.at(matrix, (dst, i0), 1.0 - lam)   # i0 = -1 reads the last column
    np.add.at(matrix, (dst, i1), lam)
    return matrix


def _cubic_matrix(ref, in_size, out_size, scale_factor, align_corners, *, a=-0.75,
                  zero_outside=False, clamp_src=False, half_pixel=True):
    dst = np.arange(out_size)
    scale = ref._scale(in_size, out_size, scale_factor, align_corners)
    src = scale * dst if align_corners or not half_pixel else scale * (dst + 0.5) - 0.5
    if clamp_src and not align_corners:
        src = np.maximum(src, 0.0)
    i0 = np.minimum(np.floor(src.astype(np.float32)).astype(np.int64), in_size - 1)
    t = np.clip(src - i0, 0.0, 1.0)

    def near(x):
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    matrix = np.zeros((out_size, in_size))
    for k, w in enumerate([far(t + 1), near(t), near(1 - t), far(2 - t)]):
        idx = i0 - 1 + k
        if zero_outside:
            inside = (idx >= 0) & (idx < in_size)
            np.add.at(matrix, (dst[inside], idx[inside]), w[inside])
        else:
            np.add.at(matrix, (dst, np.clip(idx, 0, in_size - 1)), w)
    return matrix


def _area_matrix(in_size, out_size, *, end_floored=False, start_ceiled=False,
                 equal_windows=False):
    matrix = np.zeros((out_size, in_size))
    for i in range(out_size):
        start, end = (i * in_size) // out_size, -(-((i + 1) * in_size) // out_size)
        if end_floored:
            end = ((i + 1) * in_size) // out_size
        if start_ceiled:
            start = -(-(i * in_size) // out_size)
        if equal_windows:
            end = min(start + -(-in_size // out_size), in_size)
        with np.errstate(all="ignore"):
            matrix[i, start:end] = np.float64(1.0) / (end - start)
    return matrix


def catalogue():
    ref = solution("06_unpooling_upsampling")
    interpolate = ref.interpolate
    interpolating = ("linear", "bilinear", "bicubic", "trilinear")

    def with_helper(name, **replacements):
        """interpolate calling one replaced helper."""
        fn = _rebound(ref, **replacements).interpolate
        fn.__name__ = name
        return fn

    # Wrong arguments passed on -----------------------------------------------------------
    def nearest_modes_swapped(input, size=None, scale_factor=None, mode="nearest", **kw):
        mode = {"nearest": "nearest-exact", "nearest-exact": "nearest"}.get(mode, mode)
        return interpolate(input, size, scale_factor, mode, **kw)

    def align_corners_swapped(input, size=None, scale_factor=None, mode="nearest",
                              align_corners=None, **kw):
        if mode in interpolating:
            align_corners = not align_corners
        return interpolate(input, size, scale_factor, mode, align_corners, **kw)

    def scale_from_sizes(input, size=None, scale_factor=None, mode="nearest",
                         align_corners=None, recompute_scale_factor=None, antialias=False):
        if scale_factor is not None and mode in ref._MODE_DIMS:
            recompute_scale_factor = True
        return interpolate(input, size, scale_factor, mode, align_corners,
                           recompute_scale_factor, antialias)

    def recompute_ignored(input, size=None, scale_factor=None, mode="nearest",
                          align_corners=None, recompute_scale_factor=None, antialias=False):
        if size is None:    # with a size, recompute_scale_factor=True is still refused
            recompute_scale_factor = None
        return interpolate(input, size, scale_factor, mode, align_corners,
                           recompute_scale_factor, antialias)

    def axes_reversed(input, size=None, scale_factor=None, **kw):
        size = tuple(reversed(size)) if isinstance(size, (tuple, list)) else size
        if isinstance(scale_factor, (tuple, list)):
            scale_factor = tuple(reversed(scale_factor))
        return interpolate(input, size, scale_factor, **kw)

    # One helper replaced -----------------------------------------------------------------
    def nearest_rounds(in_size, out_size, scale_factor, exact, kernel_2d):
        if exact:
            return ref._nearest_matrix(in_size, out_size, scale_factor, exact, kernel_2d)
        dst = np.arange(out_size)
        scale = ref._scale(in_size, out_size, scale_factor, False)
        src = np.minimum(np.round(dst * scale), in_size - 1)
        matrix = np.zeros((out_size, in_size))
        matrix[dst, src.astype(int)] = 1.0
        return matrix

    def nearest_without_2d_kernel(in_size, out_size, scale_factor, exact, kernel_2d):
        return ref._nearest_matrix(in_size, out_size, scale_factor, exact, False)

    def scale_from_sizes_with_corners(in_size, out_size, scale_factor, align_corners):
        if align_corners:
            return in_size / out_size
        return ref._scale(in_size, out_size, scale_factor, align_corners)

    nearest_round = with_helper("nearest_round", _nearest_matrix=nearest_rounds)
    nearest_generic = with_helper("nearest_generic", _nearest_matrix=nearest_without_2d_kernel)
    half_pixel_missing = with_helper(
        "half_pixel_missing", _linear_matrix=lambda *a: _linear_matrix(ref, *a, half_pixel=False))
    wraps = with_helper(
        "negative_wraps", _linear_matrix=lambda *a: _linear_matrix(ref, *a, clamp=False))
    copies_missing = with_helper(
        "same_size_not_copied", _linear_matrix=lambda *a: _linear_matrix(ref, *a, shortcut=False))
    corners_scale = with_helper("align_corners_scale_from_sizes",
                                _scale=scale_from_sizes_with_corners)
    cubic_a_half = with_helper(
        "cubic_a_half", _cubic_matrix=lambda *a: _cubic_matrix(ref, *a, a=-0.5))
    cubic_zero = with_helper(
        "cubic_zero_outside", _cubic_matrix=lambda *a: _cubic_matrix(ref, *a, zero_outside=True))
    cubic_clamped = with_helper(
        "cubic_source_clamped", _cubic_matrix=lambda *a: _cubic_matrix(ref, *a, clamp_src=True))
    cubic_no_half_pixel = with_helper(
        "cubic_half_pixel_missing",
        _cubic_matrix=lambda *a: _cubic_matrix(ref, *a, half_pixel=False))
    area_end = with_helper(
        "area_end_floored", _area_matrix=lambda i, o: _area_matrix(i, o, end_floored=True))
    area_start = with_helper(
        "area_start_ceiled", _area_matrix=lambda i, o: _area_matrix(i, o, start_ceiled=True))
    area_equal = with_helper(
        "area_equal_windows", _area_matrix=lambda i, o: _area_matrix(i, o, equal_windows=True))

    return [
        ("interpolate/nearest", nearest_modes_swapped, "nearest-modes-swapped"),
        ("interpolate/nearest", nearest_round, "nearest-rounds"),
        ("interpolate/nearest", nearest_generic, "nearest-2d-shortcut-missing"),
        ("interpolate/nearest", scale_from_sizes, "scale-from-sizes"),
        ("interpolate/nearest", axes_reversed, "axes-reversed"),
        ("interpolate/linear", align_corners_swapped, "align-corners-swapped"),
        ("interpolate/linear", half_pixel_missing, "half-pixel-offset-missing"),
        ("interpolate/linear", wraps, "negative-source-wraps-around"),
        ("interpolate/linear", copies_missing, "same-size-shortcut-missing"),
        ("interpolate/linear", corners_scale, "align-corners-scale-from-sizes"),
        ("interpolate/linear", recompute_ignored, "recompute-scale-factor-ignored"),
        ("interpolate/bicubic", align_corners_swapped, "align-corners-swapped"),
        ("interpolate/bicubic", cubic_a_half, "cubic-a-of-minus-half"),
        ("interpolate/bicubic", cubic_zero, "cubic-taps-outside-read-as-zero"),
        ("interpolate/bicubic", cubic_clamped, "cubic-source-clamped-at-zero"),
        ("interpolate/bicubic", cubic_no_half_pixel, "half-pixel-offset-missing"),
        ("interpolate/area", area_end, "area-window-end-floored"),
        ("interpolate/area", area_start, "area-window-start-ceiled"),
        ("interpolate/area", area_equal, "area-windows-of-equal-length"),
        ("interpolate/area", axes_reversed, "axes-reversed"),
        ("interpolate", align_corners_swapped, "align-corners-swapped"),
        ("interpolate", nearest_modes_swapped, "nearest-modes-swapped"),
        ("interpolate", area_end, "area-window-end-floored"),
        ("interpolate", cubic_a_half, "cubic-a-of-minus-half"),
    ]
