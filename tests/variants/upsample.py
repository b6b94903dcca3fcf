"""Chapter 06: one-bug versions of the reference answers, and the hint each must earn."""
import types

import numpy as np

from booktools import solution

CHAPTER = "06_unpooling_upsampling"


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


def _unpool_bugs(ref, d):
    unpool = {1: ref.max_unpool1d, 2: ref.max_unpool2d, 3: ref.max_unpool3d}[d]

    def output_size_ignored(input, indices, kernel_size, stride=None, padding=0, output_size=None):
        return unpool(input, indices, kernel_size, stride, padding)

    def stride_defaults_to_one(input, indices, kernel_size, stride=None, padding=0, output_size=None):
        return unpool(input, indices, kernel_size, 1 if stride is None else stride, padding, output_size)

    def padding_ignored(input, indices, kernel_size, stride=None, padding=0, output_size=None):
        if output_size is not None:
            return unpool(input, indices, kernel_size, stride, padding, output_size)
        return unpool(input, indices, kernel_size, stride, 0)

    def indices_over_padded_plane(input, indices, kernel_size, stride=None, padding=0, output_size=None):
        right = unpool(input, indices, kernel_size, stride, padding, output_size)
        pads = ref._ntuple(padding, d)
        if not any(pads):
            return right
        size = right.shape[-d:]
        big = tuple(s + 2 * p for s, p in zip(size, pads))
        lead = input.shape[:-d]
        out = np.zeros(lead + (int(np.prod(big)),))
        np.put_along_axis(out, indices.reshape(lead + (-1,)), input.reshape(lead + (-1,)), axis=-1)
        out = out.reshape(lead + big)
        return out[(Ellipsis,) + tuple(slice(p, p + s) for s, p in zip(size, pads))]

    def column_major(input, indices, kernel_size, stride=None, padding=0, output_size=None):
        right = unpool(input, indices, kernel_size, stride, padding, output_size)
        size = right.shape[-d:]
        count = int(np.prod(input.shape[-d:]))
        values, flat = input.reshape(-1, count), indices.reshape(-1, count)
        out = np.zeros((values.shape[0],) + size)
        for plane in range(values.shape[0]):
            out[(plane,) + np.unravel_index(flat[plane], size, order="F")] = values[plane]
        return out.reshape(right.shape)

    name = f"max_unpool{d}d"
    bugs = [
        (name, output_size_ignored, "output_size is ignored"),
        (name, stride_defaults_to_one, "not 1"),
        (name, padding_ignored, "subtracts the padding"),
        (name, indices_over_padded_plane, "UNPADDED output plane"),
    ]
    if d > 1:
        bugs.append((name, column_major, "column-first"))
    return bugs


def catalogue():
    ref = solution(CHAPTER)
    interpolate = ref.interpolate
    interpolating = ("linear", "bilinear", "bicubic", "trilinear")

    # interpolate: wrong arguments passed on --------------------------------------------
    def nearest_modes_swapped(input, size=None, scale_factor=None, mode="nearest", **kw):
        mode = {"nearest": "nearest-exact", "nearest-exact": "nearest"}.get(mode, mode)
        return interpolate(input, size, scale_factor, mode, **kw)

    def align_corners_swapped(input, size=None, scale_factor=None, mode="nearest", align_corners=None, **kw):
        if mode in interpolating:
            align_corners = not align_corners
        return interpolate(input, size, scale_factor, mode, align_corners, **kw)

    def scale_from_sizes(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                         recompute_scale_factor=None, antialias=False):
        if scale_factor is not None and mode in ref._MODE_DIMS:
            recompute_scale_factor = True
        return interpolate(input, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias)

    def axes_reversed(input, size=None, scale_factor=None, **kw):
        size = tuple(reversed(size)) if isinstance(size, (tuple, list)) else size
        if isinstance(scale_factor, (tuple, list)):
            scale_factor = tuple(reversed(scale_factor))
        return interpolate(input, size, scale_factor, **kw)

    # interpolate: one helper replaced ----------------------------------------------------
    def nearest_rounds(in_size, out_size, scale_factor, exact, kernel_2d):
        if exact:
            return ref._nearest_matrix(in_size, out_size, scale_factor, exact, kernel_2d)
        dst = np.arange(out_size)
        src = np.minimum(np.round(dst * ref._scale(in_size, out_size, scale_factor, False)), in_size - 1)
        matrix = np.zeros((out_size, in_size))
        matrix[dst, src.astype(int)] = 1.0
        return matrix

    def nearest_without_2d_kernel(in_size, out_size, scale_factor, exact, kernel_2d):
        return ref._nearest_matrix(in_size, out_size, scale_factor, exact, False)

    def linear_matrix(in_size, out_size, scale_factor, align_corners, *, half_pixel=True,
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

    def no_half_pixel(*args):
        return linear_matrix(*args, half_pixel=False)

    def negative_wraps(*args):
        return linear_matrix(*args, clamp=False)

    def no_shortcut(*args):
        return linear_matrix(*args, shortcut=False)

    def scale_from_sizes_with_corners(in_size, out_size, scale_factor, align_corners):
        if align_corners:
            return in_size / out_size
        return ref._scale(in_size, out_size, scale_factor, align_corners)

    def cubic_matrix(in_size, out_size, scale_factor, align_corners, *, A=-0.75, zero_outside=False,
                     clamp_src=False, half_pixel=True):
        dst = np.arange(out_size)
        scale = ref._scale(in_size, out_size, scale_factor, align_corners)
        src = scale * dst if align_corners or not half_pixel else scale * (dst + 0.5) - 0.5
        if clamp_src and not align_corners:
            src = np.maximum(src, 0.0)
        i0 = np.minimum(np.floor(src.astype(np.float32)).astype(np.int64), in_size - 1)
        t = np.clip(src - i0, 0.0, 1.0)

        def near(x):
            return ((A + 2) * x - (A + 3)) * x * x + 1

        def far(x):
            return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A

        matrix = np.zeros((out_size, in_size))
        for k, w in enumerate([far(t + 1), near(t), near(1 - t), far(2 - t)]):
            idx = i0 - 1 + k
            if zero_outside:
                inside = (idx >= 0) & (idx < in_size)
                np.add.at(matrix, (dst[inside], idx[inside]), w[inside])
            else:
                np.add.at(matrix, (dst, np.clip(idx, 0, in_size - 1)), w)
        return matrix

    def area_matrix(in_size, out_size, *, bug):
        matrix = np.zeros((out_size, in_size))
        for i in range(out_size):
            start, end = (i * in_size) // out_size, -(-((i + 1) * in_size) // out_size)
            if bug == "end floored":
                end = ((i + 1) * in_size) // out_size
            elif bug == "start ceiled":
                start = -(-(i * in_size) // out_size)
            else:
                end = min(start + -(-in_size // out_size), in_size)
            with np.errstate(all="ignore"):
                matrix[i, start:end] = np.float64(1.0) / (end - start)
        return matrix

    def with_helper(**replacements):
        fn = _rebound(ref, **replacements).interpolate
        return fn

    nearest_round = with_helper(_nearest_matrix=nearest_rounds)
    nearest_round.__name__ = "nearest_round"
    nearest_generic = with_helper(_nearest_matrix=nearest_without_2d_kernel)
    nearest_generic.__name__ = "nearest_generic"
    half_pixel_missing = with_helper(_linear_matrix=no_half_pixel)
    half_pixel_missing.__name__ = "half_pixel_missing"
    wraps = with_helper(_linear_matrix=negative_wraps)
    wraps.__name__ = "negative_wraps"
    copies_missing = with_helper(_linear_matrix=no_shortcut)
    copies_missing.__name__ = "same_size_not_copied"
    corners_scale = with_helper(_scale=scale_from_sizes_with_corners)
    corners_scale.__name__ = "align_corners_scale_from_sizes"
    cubic_a_half = with_helper(_cubic_matrix=lambda *a: cubic_matrix(*a, A=-0.5))
    cubic_a_half.__name__ = "cubic_a_half"
    cubic_zero = with_helper(_cubic_matrix=lambda *a: cubic_matrix(*a, zero_outside=True))
    cubic_zero.__name__ = "cubic_zero_outside"
    cubic_clamped = with_helper(_cubic_matrix=lambda *a: cubic_matrix(*a, clamp_src=True))
    cubic_clamped.__name__ = "cubic_source_clamped"
    cubic_no_half_pixel = with_helper(_cubic_matrix=lambda *a: cubic_matrix(*a, half_pixel=False))
    cubic_no_half_pixel.__name__ = "cubic_half_pixel_missing"
    area_end = with_helper(_area_matrix=lambda i, o: area_matrix(i, o, bug="end floored"))
    area_end.__name__ = "area_end_floored"
    area_start = with_helper(_area_matrix=lambda i, o: area_matrix(i, o, bug="start ceiled"))
    area_start.__name__ = "area_start_ceiled"
    area_equal = with_helper(_area_matrix=lambda i, o: area_matrix(i, o, bug="equal"))
    area_equal.__name__ = "area_equal_windows"

    # Upsample ------------------------------------------------------------------------------
    class UpsampleModeIgnored(ref.Upsample):
        def __call__(self, input):
            return interpolate(input, self.size, self.scale_factor, "nearest", None,
                               self.recompute_scale_factor)

    class UpsampleAlignIgnored(ref.Upsample):
        def __call__(self, input):
            align = None if self.align_corners is None else False
            return interpolate(input, self.size, self.scale_factor, self.mode, align,
                               self.recompute_scale_factor)

    class UpsampleRecomputeIgnored(ref.Upsample):
        def __call__(self, input):
            return interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners)

    class UpsampleScaleFromSizes(ref.Upsample):
        def __call__(self, input):
            return scale_from_sizes(input, self.size, self.scale_factor, self.mode, self.align_corners,
                                    self.recompute_scale_factor)

    # pixel_shuffle / pixel_unshuffle -----------------------------------------------------
    def shuffle(order, flip=False):
        def wrong(input, upscale_factor):
            r = upscale_factor
            *lead, c, h, w = input.shape
            if c % (r * r):
                raise ValueError("channels not divisible by r²")
            n = len(lead)
            if order == "channel order":
                x = input.reshape(*lead, r, r, c // (r * r), h, w)
                x = x.transpose(*range(n), n + 2, n + 3, n, n + 4, n + 1)
            else:
                x = input.reshape(*lead, c // (r * r), r, r, h, w)
                if flip:
                    x = x[..., ::-1, ::-1, :, :]
                perm = {"rows and columns": (n, n + 3, n + 2, n + 4, n + 1),
                        "blocks": (n, n + 1, n + 3, n + 2, n + 4),
                        "right": (n, n + 3, n + 1, n + 4, n + 2)}[order]
                x = x.transpose(*range(n), *perm)
            return x.reshape(*lead, c // (r * r), h * r, w * r)
        wrong.__name__ = f"shuffle_{order.replace(' ', '_')}{'_flipped' if flip else ''}"
        return wrong

    def unshuffle(order, flip=False):
        def wrong(input, downscale_factor):
            r = downscale_factor
            *lead, c, h, w = input.shape
            if h % r or w % r:
                raise ValueError("sizes not divisible by r")
            n = len(lead)
            if order == "blocks":
                x = input.reshape(*lead, c, r, h // r, r, w // r)
                x = x.transpose(*range(n), n, n + 1, n + 3, n + 2, n + 4)
            else:
                x = input.reshape(*lead, c, h // r, r, w // r, r)
                if flip:
                    x = x[..., ::-1, :, ::-1]
                perm = {"channel order": (n + 2, n + 4, n, n + 1, n + 3),
                        "rows and columns": (n, n + 4, n + 2, n + 1, n + 3),
                        "right": (n, n + 2, n + 4, n + 1, n + 3)}[order]
                x = x.transpose(*range(n), *perm)
            return x.reshape(*lead, c * r * r, h // r, w // r)
        wrong.__name__ = f"unshuffle_{order.replace(' ', '_')}{'_flipped' if flip else ''}"
        return wrong

    out = []
    for d in (1, 2, 3):
        out += _unpool_bugs(ref, d)
    out += [
        ("interpolate/nearest", nearest_modes_swapped, "you used the other one"),
        ("interpolate/nearest", nearest_round, "not round"),
        ("interpolate/nearest", nearest_generic, "whatever scale_factor says"),
        ("interpolate/nearest", scale_from_sizes, "uses 1/scale_factor as the scale"),
        ("interpolate/nearest", axes_reversed, "in reverse"),
        ("interpolate/linear", align_corners_swapped, "wrong way round"),
        ("interpolate/linear", half_pixel_missing, "(i + 0.5)·scale − 0.5 (pixel centres)"),
        ("interpolate/linear", wraps, "LAST pixel"),
        ("interpolate/linear", copies_missing, "copy an axis"),
        ("interpolate/linear", corners_scale, "not in/out"),
        ("interpolate/bicubic", align_corners_swapped, "wrong way round"),
        ("interpolate/bicubic", cubic_a_half, "A = −0.75"),
        ("interpolate/bicubic", cubic_zero, "clamped to the border"),
        ("interpolate/bicubic", cubic_clamped, "does NOT clamp"),
        ("interpolate/bicubic", cubic_no_half_pixel, "(i + 0.5)·scale − 0.5 (pixel centres)"),
        ("interpolate/area", area_end, "the end rounds UP"),
        ("interpolate/area", area_start, "start rounds DOWN"),
        ("interpolate/area", area_equal, "lengths vary"),
        ("interpolate/area", axes_reversed, "in reverse"),
        ("interpolate", align_corners_swapped, "wrong way round"),
        ("interpolate", nearest_modes_swapped, "you used the other one"),
        ("interpolate", area_end, "the end rounds UP"),
        ("interpolate", cubic_a_half, "A = −0.75"),
        ("Upsample", UpsampleModeIgnored, "ignores `mode`"),
        ("Upsample", UpsampleAlignIgnored, "ignores align_corners"),
        ("Upsample", UpsampleRecomputeIgnored, "ignores recompute_scale_factor"),
        ("Upsample", UpsampleScaleFromSizes, "1/scale_factor"),
        ("pixel_shuffle", shuffle("channel order"), "c-major"),
        ("pixel_shuffle", shuffle("rows and columns"), "comes before j"),
        ("pixel_shuffle", shuffle("blocks"), "interleaved"),
        ("pixel_shuffle", shuffle("right", flip=True), "from the other end"),
        ("pixel_unshuffle", unshuffle("channel order"), "c-major"),
        ("pixel_unshuffle", unshuffle("rows and columns"), "comes before j"),
        ("pixel_unshuffle", unshuffle("blocks"), "interleaved"),
        ("pixel_unshuffle", unshuffle("right", flip=True), "from the other end"),
    ]
    return out
