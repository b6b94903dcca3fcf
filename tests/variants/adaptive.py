"""Chapter 07: one-bug versions of the adaptive pooling answers, and the bug each must be named
for."""
import itertools

import numpy as np
from booktools import solution


def _edges(L, out):
    return [((i * L) // out, -((-(i + 1) * L) // out)) for i in range(out)]


def _edges_floor(L, out):
    return [((i * L) // out, ((i + 1) * L) // out) for i in range(out)]


def _edges_uniform(L, out):
    stride = L // out
    kernel = L - (out - 1) * stride
    return [(i * stride, i * stride + kernel) for i in range(out)]


def _edges_fixed_width(L, out):
    width = -(-L // out)
    return [((i * L) // out, min((i * L) // out + width, L)) for i in range(out)]


def catalogue():
    ref = solution("07_adaptive_pooling")

    def pool(d, kind, x, output_size, return_indices=False, edges=_edges, widest_divisor=False,
             index="plane", ties="first", whole_plane=False, none_as_one=False, nan="last"):
        """Adaptive pooling box by box, with one bug switched on."""
        if none_as_one and isinstance(output_size, (tuple, list)):
            output_size = tuple(1 if o is None else o for o in output_size)
        sizes = ref._adaptive_output_size(d, x.shape, output_size)
        spatial, lead = x.shape[-d:], x.shape[:-d]
        per_axis = [edges(L, o) if o else [] for L, o in zip(spatial, sizes, strict=True)]
        widest = int(np.prod([max([e - s for s, e in ax] or [1]) for ax in per_axis]))
        values = np.zeros(lead + sizes, dtype=x.dtype)
        indices = np.zeros(lead + sizes, dtype=np.int64)
        for pos in itertools.product(*[range(o) for o in sizes]):
            box = [(0, L) for L in spatial] if whole_plane else \
                [per_axis[k][p] for k, p in enumerate(pos)]
            part = x[(Ellipsis,) + tuple(slice(s, e) for s, e in box)]
            flat = part.reshape(lead + (int(np.prod(part.shape[len(lead):])),))
            at = (Ellipsis,) + pos
            if kind == "avg":
                values[at] = flat.sum(-1) / (widest if widest_divisor else flat.shape[-1])
                continue
            isnan = np.isnan(flat)
            if nan == "ignore":
                flat = np.where(isnan, -np.inf, flat)
            j = np.argmax(flat, axis=-1) if ties == "first" else \
                flat.shape[-1] - 1 - np.argmax(flat[..., ::-1], axis=-1)
            if nan == "last":
                last = flat.shape[-1] - 1 - np.argmax(isnan[..., ::-1], axis=-1)
                j = np.where(isnan.any(-1), last, j)
            # nan == "first": np.argmax already stops at the first NaN
            values[at] = np.take_along_axis(flat, j[..., None], -1)[..., 0]
            if index == "bin":
                indices[at] = j
            else:
                coords = np.unravel_index(j, [e - s for s, e in box])
                indices[at] = np.ravel_multi_index(
                    tuple(c + s for c, (s, _) in zip(coords, box, strict=True)), spatial)
        return (values, indices) if return_indices else values

    def avg(d, **bug):
        def fn(input, output_size):
            return pool(d, "avg", input, output_size, **bug)
        return fn

    def mx(d, **bug):
        def fn(input, output_size, return_indices=False):
            return pool(d, "max", input, output_size, return_indices, **bug)
        return fn

    def matrix_product(d):
        """The averaging-matrix product: right on finite inputs, spreads inf and NaN."""
        def fn(input, output_size):
            sizes = ref._adaptive_output_size(d, input.shape, output_size)
            out = input
            for axis, o in zip(range(-d, 0), sizes, strict=True):
                L = out.shape[axis]
                pool = np.zeros((o, L), dtype=input.dtype)
                for i, (s, e) in enumerate(_edges(L, o)):
                    pool[i, s:e] = 1 / (e - s)
                with np.errstate(all="ignore"):
                    out = np.moveaxis(np.moveaxis(out, axis, -1) @ pool.T, -1, axis)
            return out
        return fn

    def named(fn, name):
        fn.__name__ = name
        return fn

    out = []
    for d in (1, 2, 3):
        a = {1: "adaptive_avg_pool1d", 2: "adaptive_avg_pool2d", 3: "adaptive_avg_pool3d"}[d]
        m = {1: "adaptive_max_pool1d", 2: "adaptive_max_pool2d", 3: "adaptive_max_pool3d"}[d]
        out += [
            (a, named(avg(d, edges=_edges_floor), "floor_both_ends"), "bin-ends-rounded-down"),
            (a, named(avg(d, edges=_edges_uniform), "uniform_kernel_stride"),
             "uniform-kernel-and-stride"),
            (a, named(avg(d, edges=_edges_fixed_width), "fixed_width_bins"), "fixed-width-bins"),
            (a, named(avg(d, widest_divisor=True), "divide_by_widest_bin"),
             "divisor-of-widest-bin"),
            (a, named(avg(d, whole_plane=True), "whole_plane"), "whole-plane"),
            (m, named(mx(d, edges=_edges_floor), "floor_both_ends"), "bin-ends-rounded-down"),
            (m, named(mx(d, edges=_edges_uniform), "uniform_kernel_stride"),
             "uniform-kernel-and-stride"),
            (m, named(mx(d, edges=_edges_fixed_width), "fixed_width_bins"), "fixed-width-bins"),
            (m, named(mx(d, index="bin"), "index_within_bin"), "index-within-bin"),
            (m, named(mx(d, ties="last"), "last_maximum_on_ties"), "last-maximum-on-ties"),
            (m, named(mx(d, whole_plane=True), "whole_plane"), "whole-plane"),
            (a, named(matrix_product(d), "matrix_product"), "matrix-product"),
            (m, named(mx(d, nan="ignore"), "nan_ignored"), "nan-ignored"),
            (m, named(mx(d, nan="first"), "first_nan"), "first-nan"),
        ]
        if d > 1:
            out += [
                (a, named(avg(d, none_as_one=True), "none_as_one"), "none-treated-as-1"),
                (m, named(mx(d, none_as_one=True), "none_as_one"), "none-treated-as-1"),
            ]
    avg_loop, max_loop = "adaptive_avg_pool2d_loop", "adaptive_max_pool2d_loop"
    out += [
        (avg_loop, named(avg(2, edges=_edges_floor), "floor_both_ends"), "bin-ends-rounded-down"),
        (avg_loop, named(avg(2, edges=_edges_uniform), "uniform_kernel_stride"),
         "uniform-kernel-and-stride"),
        (avg_loop, named(avg(2, none_as_one=True), "none_as_one"), "none-treated-as-1"),
        (avg_loop, named(avg(2, widest_divisor=True), "divide_by_widest_bin"),
         "divisor-of-widest-bin"),
        (avg_loop, named(matrix_product(2), "matrix_product"), "matrix-product"),
        (max_loop, named(mx(2, edges=_edges_floor), "floor_both_ends"), "bin-ends-rounded-down"),
        (max_loop, named(mx(2, index="bin"), "index_within_bin"), "index-within-bin"),
        (max_loop, named(mx(2, nan="first"), "first_nan"), "first-nan"),
        (max_loop, named(mx(2, nan="ignore"), "nan_ignored"), "nan-ignored"),
        (max_loop, named(mx(2, ties="last"), "last_maximum_on_ties"), "last-maximum-on-ties"),
        (max_loop, named(mx(2, none_as_one=True), "none_as_one"), "none-treated-as-1"),
    ]
    return out
