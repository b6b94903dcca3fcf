"""Chapter 06 — unpooling and upsampling: max_unpool1d/2d/3d, interpolate (every mode),
the Upsample module, pixel_shuffle and pixel_unshuffle.

Everything about grading these exercises is here: the seeded cases (indices for unpooling
are made in NumPy, as the argmax of each pooling window or as distinct random positions),
the configurations torch refuses, and the known-wrong variants with the hint each earns.
Expected values and variants are computed with torch: a variant that is not a torch call
with other arguments is built from torch operations (a per-axis resampling matrix).
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from .. import oracle
from ..exercise import Case, Exercise, Variant, register

UNPOOL_ARGS = ("input", "indices", "kernel_size", "stride", "padding", "output_size")
TORCH_UNPOOL = {1: "max_unpool1d", 2: "max_unpool2d", 3: "max_unpool3d"}


def _tuple(value, d):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * d


# max_unpool ------------------------------------------------------------------------------

def _cut(value, d):
    """A 3-tuple in the case tables becomes a d-tuple; an int or None stays."""
    return tuple(value[:d]) if isinstance(value, (tuple, list)) else value


def _pool_argmax(x, k, s, p):
    """Max pooling with flat indices into each (N, C) plane, in NumPy: the case's inputs.

    Ties go to the first element of the window, as torch's pooling does.
    """
    d = len(k)
    padded = np.pad(x, [(0, 0)] * (x.ndim - d) + [(pp, pp) for pp in p], constant_values=-np.inf)
    position = np.arange(int(np.prod(x.shape[-d:]))).reshape(x.shape[-d:])
    position = np.pad(position, [(pp, pp) for pp in p], constant_values=-1)
    axes = tuple(range(x.ndim - d, x.ndim))
    win = np.lib.stride_tricks.sliding_window_view(padded, k, axis=axes)
    pos = np.lib.stride_tricks.sliding_window_view(position, k)
    sl = tuple(slice(None, None, st) for st in s)
    win = win[(Ellipsis,) + sl + (slice(None),) * d]
    pos = pos[sl + (slice(None),) * d]
    flat_win = win.reshape(win.shape[:x.ndim] + (-1,))
    flat_pos = pos.reshape(pos.shape[:d] + (-1,))
    arg = np.argmax(flat_win, axis=-1)
    values = np.take_along_axis(flat_win, arg[..., None], axis=-1)[..., 0]
    index = np.take_along_axis(np.broadcast_to(flat_pos, flat_win.shape), arg[..., None], axis=-1)[..., 0]
    return np.ascontiguousarray(values), np.ascontiguousarray(index.astype(np.int64))


def unpool_case(rng, d, *, n=2, c=2, size=(6, 5, 4), k=2, stride=None, padding=0,
                output_size="auto", batched=True, note=""):
    """Pool a random input in NumPy, then ask to unpool it (to its original size by default)."""
    k, stride, padding = _cut(k, d), _cut(stride, d), _cut(padding, d)
    size = tuple(size[:d])
    kk, pp = _tuple(k, d), _tuple(padding, d)
    ss = kk if stride is None else _tuple(stride, d)
    shape = ((n,) if batched else ()) + (c,) + size
    x = rng.standard_normal(shape)
    pooled, index = _pool_argmax(x, kk, ss, pp)
    kwargs = {}
    if stride is not None:
        kwargs["stride"] = stride
    if padding != 0:
        kwargs["padding"] = padding
    if output_size == "auto":
        default = tuple((o - 1) * st + q - 2 * r for o, st, q, r in zip(pooled.shape[-d:], ss, kk, pp))
        if default != size:
            kwargs["output_size"] = size
    elif output_size is not None:
        kwargs["output_size"] = output_size
    return Case((pooled, index, k), kwargs, note=note)


def scatter_case(rng, d, *, n=1, c=2, size=(3, 2, 2), k=2, stride=None, padding=0,
                 output_size=None, limit=None, bad_index=None, note=""):
    """Distinct random positions in the output plane (not from a pooling)."""
    k, stride, padding = _cut(k, d), _cut(stride, d), _cut(padding, d)
    size = tuple(size[:d])
    kk, pp = _tuple(k, d), _tuple(padding, d)
    ss = kk if stride is None else _tuple(stride, d)
    out = output_size[-d:] if output_size is not None else tuple(
        (o - 1) * st + q - 2 * r for o, st, q, r in zip(size, ss, kk, pp))
    plane, count = int(np.prod(out)), int(np.prod(size))
    pool = plane if limit is None else min(plane, limit)
    index = np.stack([rng.permutation(pool)[:count] for _ in range(n * c)]).reshape((n, c) + size)
    if bad_index is not None:
        index.flat[-1] = plane if bad_index == "past" else -1
    kwargs = {}
    if stride is not None:
        kwargs["stride"] = stride
    if padding != 0:
        kwargs["padding"] = padding
    if output_size is not None:
        kwargs["output_size"] = output_size
    x = rng.standard_normal((n, c) + size)
    return Case((x, index.astype(np.int64), k), kwargs, note=note)


def worked_example_case(output_size=None, note=""):
    x = np.arange(1.0, 17.0).reshape(1, 1, 4, 4)
    pooled, index = _pool_argmax(x, (2, 2), (2, 2), (0, 0))
    kwargs = {"stride": 2}
    if output_size is not None:
        kwargs["output_size"] = output_size
    return Case((pooled, index, 2), kwargs, note=note)


def _unpool_visible(d):
    def cases(rng):
        out = []
        if d == 2:
            out += [worked_example_case(note="the 4×4 input 1…16, max-pooled 2×2 and unpooled"),
                    worked_example_case((1, 1, 5, 5), note="the same indices in a 5×5 plane")]
        out += [
            unpool_case(rng, d, size=(4, 6, 4), k=2, note="kernel 2, stride 2"),
            unpool_case(rng, d, size=(7, 6, 5), k=3, stride=2, padding=1,
                        note="overlapping windows, padding 1, output_size = the pooled input's size"),
            scatter_case(rng, d, size=(3, 2, 2)[:d], limit=(4, 9, 14)[d - 1],
                         note="stride=None means stride = kernel_size: positions in the first cells"),
            scatter_case(rng, d, size=(2, 2, 2)[:d], output_size=(5, 5, 5)[:d], limit=4 ** d,
                         note="output_size one larger than the default: random distinct positions"),
        ]
        return out
    return cases


def _unpool_hidden(d):
    def cases(rng):
        out = []
        for k, stride, padding in itertools.product((1, 2, 3, (3, 2, 1)[:d]), (None, 1, 2, (2, 1, 3)[:d]),
                                                    (0, 1)):
            kk = _tuple(k, d)
            if any(2 * p > q for p, q in zip(_tuple(padding, d), kk)):
                continue
            size = tuple(int(v) for v in rng.integers(3, 8 if d < 3 else 6, size=3))
            out.append(unpool_case(rng, d, n=int(rng.integers(1, 3)), c=int(rng.integers(1, 3)), size=size,
                                   k=k, stride=stride, padding=padding, batched=bool(rng.integers(0, 4)),
                                   note=f"kernel_size={k}, stride={stride}, padding={padding}"))
        base = (4, 4, 3)[:d]
        default = tuple(2 * b for b in base)
        big = tuple(v + 1 for v in default)
        out += [
            scatter_case(rng, d, size=base, output_size=big,
                         note="output_size one bigger than the default: random distinct positions"),
            scatter_case(rng, d, n=2, c=1, size=base, output_size=(2, 1) + big,
                         note="output_size given as the full (N, C, *spatial) shape"),
            scatter_case(rng, d, size=(2, 3, 2)[:d], k=(3, 2, 2)[:d], stride=(2, 3, 2)[:d], padding=(1, 0, 1)[:d],
                         note="non-square kernel, stride and padding; random positions"),
            unpool_case(rng, d, size=(5, 5, 5), k=3, stride=1, padding=1,
                        note="stride 1, kernel 3, padding 1: heavily overlapping windows"),
            unpool_case(rng, d, n=1, c=1, size=(1, 1, 1), k=1, note="size-1 everything"),
            unpool_case(rng, d, size=(4, 3, 2), k=(4, 3, 2), note="kernel as large as the input"),
            scatter_case(rng, d, size=(3, 2, 2)[:d], limit=(4, 9, 14)[d - 1],
                         note="stride=None means stride = kernel_size: random positions in the first cells"),
            scatter_case(rng, d, size=base, bad_index="past",
                         note="an index past the end of the output plane (torch refuses)"),
            scatter_case(rng, d, size=base, bad_index="negative",
                         note="a negative index (torch refuses)"),
            scatter_case(rng, d, size=base, output_size=tuple(v + 2 for v in default),
                         note="output_size more than stride - 1 above the default (torch refuses)"),
            scatter_case(rng, d, size=base, output_size=(1,) + default,
                         note="output_size of the wrong length (torch refuses)"),
        ]
        return out
    return cases


def _unpool_fn(d):
    return getattr(oracle.F(), TORCH_UNPOOL[d])


def _unpool_reference(d):
    def reference(case):
        return oracle.call(_unpool_fn(d), *case.args, **case.kwargs)
    return reference


def _spec(case, d):
    x, _, k = case.args
    kk = _tuple(k, d)
    stride = case.kwargs.get("stride")
    ss = kk if stride is None else _tuple(stride, d)
    pp = _tuple(case.kwargs.get("padding", 0), d)
    default = tuple((o - 1) * st + q - 2 * r for o, st, q, r in zip(x.shape[-d:], ss, kk, pp))
    size = case.kwargs.get("output_size")
    size = default if size is None else tuple(size)[-d:]
    return kk, ss, pp, default, size


def _raw_unpool(d, x, index, size):
    """Scatter with torch into a plane of the given size, no checks on the size."""
    t = oracle.torch()
    xt, it = oracle.to_torch(x), oracle.to_torch(index)
    batched = x.ndim == d + 2
    if not batched:
        xt, it = xt[None], it[None]
    if d == 1:
        out = t._C._nn.max_unpool2d(xt[..., None], it[..., None], list(size) + [1])[..., 0]
    elif d == 2:
        out = t._C._nn.max_unpool2d(xt, it, list(size))
    else:
        out = t._C._nn.max_unpool3d(xt, it, list(size), [1, 1, 1], [0, 0, 0])
    out = out if batched else out[0]
    return oracle.to_numpy(out)


def _unpool_variants(d):
    def output_size_ignored(case):
        if "output_size" not in case.kwargs:
            return None
        return oracle.call(_unpool_fn(d), *case.args, **dict(case.kwargs, output_size=None))

    def stride_one(case):
        kk = _tuple(case.args[2], d)
        if case.kwargs.get("stride") is not None or all(q == 1 for q in kk) or "output_size" in case.kwargs:
            return None
        return oracle.call(_unpool_fn(d), *case.args, **dict(case.kwargs, stride=1))

    def padding_ignored(case):
        if not any(_tuple(case.kwargs.get("padding", 0), d)) or "output_size" in case.kwargs:
            return None
        return oracle.call(_unpool_fn(d), *case.args, **dict(case.kwargs, padding=0))

    def padded_plane(case):
        kk, ss, pp, default, size = _spec(case, d)
        if not any(pp):
            return None
        x, index, _ = case.args
        big = _raw_unpool(d, x, index, tuple(o + 2 * r for o, r in zip(size, pp)))
        crop = tuple(slice(r, r + o) for o, r in zip(size, pp))
        return big[(Ellipsis,) + crop]

    def column_major(case):
        kk, ss, pp, default, size = _spec(case, d)
        if d == 1:
            return None
        x, index, _ = case.args
        out = _raw_unpool(d, x, index, tuple(reversed(size)))
        lead = out.ndim - d
        return np.ascontiguousarray(out.transpose(tuple(range(lead)) + tuple(reversed(range(lead, out.ndim)))))

    variants = [
        Variant("output_size ignored", "output_size is ignored: when it is given, the output "
                "has that spatial size (it may be up to stride - 1 larger or smaller than "
                "(H_in - 1)·stride − 2·padding + kernel_size)", output_size_ignored),
        Variant("stride defaults to 1", "stride=None means stride = kernel_size (as in max "
                "pooling), not 1", stride_one),
        Variant("padding ignored", "the output size subtracts the padding: "
                "(H_in - 1)·stride − 2·padding + kernel_size", padding_ignored),
        Variant("indices over the padded plane", "the indices count positions in the "
                "UNPADDED output plane (row·W_out + column); you read them in the padded "
                "plane and cropped the border", padded_plane),
    ]
    if d > 1:
        variants.append(Variant("column-major indices", "a flat index is row-major over "
                                "the output plane: index = row·W_out + column (C order); "
                                "you unravelled it column-first", column_major))
    return variants


def _unpool_diagnose(d):
    def diagnose(case, got, expected):
        got_shape = getattr(got, "shape", None)
        exp_shape = np.asarray(expected).shape
        if got_shape is None or got_shape == exp_shape:
            return None
        return ("check the output size: output_size if given (its last spatial entries), "
                "else (H_in − 1)·stride − 2·padding + kernel_size per axis")
    return diagnose


for _d in (1, 2, 3):
    register(Exercise(
        name=TORCH_UNPOOL[_d], arg_names=UNPOOL_ARGS, visible=_unpool_visible(_d),
        hidden=_unpool_hidden(_d), reference=_unpool_reference(_d), bugs=_unpool_variants(_d),
        diagnose=_unpool_diagnose(_d),
    ))


# interpolate -----------------------------------------------------------------------------

INTERP_ARGS = ("input", "size", "scale_factor", "mode", "align_corners", "recompute_scale_factor",
               "antialias")
MODE_DIMS = {"nearest": (1, 2, 3), "nearest-exact": (1, 2, 3), "area": (1, 2, 3), "linear": (1,),
             "bilinear": (2,), "bicubic": (2,), "trilinear": (3,)}
INTERPOLATING = ("linear", "bilinear", "bicubic", "trilinear")


def interp_case(rng, mode, d, *, shape=None, size=None, scale_factor=None, align_corners="omit",
                recompute="omit", note=""):
    shape = shape or ((int(rng.integers(1, 3)), int(rng.integers(1, 3)))
                      + tuple(int(v) for v in rng.integers(2, 7 if d < 3 else 5, size=d)))
    x = rng.standard_normal(shape)
    kwargs = {}
    if size is not None:
        kwargs["size"] = size
    if scale_factor is not None:
        kwargs["scale_factor"] = scale_factor
    kwargs["mode"] = mode
    if align_corners != "omit":
        kwargs["align_corners"] = align_corners
    if recompute != "omit":
        kwargs["recompute_scale_factor"] = recompute
    return Case((x,), kwargs, note=note or ", ".join(f"{k}={v!r}" for k, v in kwargs.items()))


def _interp_reference(case):
    return oracle.call(oracle.F().interpolate, *case.args, **case.kwargs)


def _sweep(rng, modes, align_options):
    """size or scale_factor (integer, fractional, per axis), recompute, align_corners."""
    out = []
    for mode in modes:
        for d in MODE_DIMS[mode]:
            for align in align_options(mode):
                for how in ("size", "int", "frac", "tuple", "recompute", "down"):
                    shape = ((int(rng.integers(1, 3)), int(rng.integers(1, 3)))
                             + tuple(int(v) for v in rng.integers(2, 7 if d < 3 else 5, size=d)))
                    kw = {}
                    if how == "size":
                        sizes = tuple(int(v) for v in rng.integers(1, 11 if d < 3 else 7, size=d))
                        kw["size"] = sizes if d > 1 or rng.integers(2) else sizes[0]
                    elif how == "int":
                        kw["scale_factor"] = int(rng.integers(2, 4))
                    elif how == "frac":
                        kw["scale_factor"] = float(rng.choice([1.5, 1.7, 2.3, 1.25, 2.6]))
                    elif how == "tuple":
                        kw["scale_factor"] = tuple(float(v) for v in rng.choice([0.5, 1.5, 2.0, 1.3, 2.5], size=d))
                    elif how == "recompute":
                        kw["scale_factor"] = float(rng.choice([1.7, 2.3, 0.6, 1.3]))
                        kw["recompute"] = bool(rng.integers(2))
                    else:
                        kw["scale_factor"] = float(rng.choice([0.5, 0.75, 0.6]))
                        shape = shape[:2] + tuple(int(v) for v in rng.integers(4, 9 if d < 3 else 7, size=d))
                    recompute = kw.pop("recompute", "omit")
                    out.append(interp_case(rng, mode, d, shape=shape, align_corners=align,
                                           recompute=recompute, **kw))
    return out


def _no_align(mode):
    return ("omit",)


def _all_align(mode):
    return ("omit", True, False)


def _nearest_visible(rng):
    return [
        interp_case(rng, "nearest", 2, shape=(1, 1, 2, 3), scale_factor=2, note="nearest, ×2"),
        interp_case(rng, "nearest", 1, shape=(1, 2, 5), size=8, note="nearest, 5 → 8"),
        interp_case(rng, "nearest-exact", 1, shape=(1, 2, 5), size=8, note="nearest-exact, 5 → 8"),
        interp_case(rng, "nearest", 1, shape=(1, 1, 7), scale_factor=1.7,
                    note="nearest, 7 × 1.7 → 11 pixels, scale 1/1.7"),
        interp_case(rng, "nearest", 2, shape=(1, 1, 4, 3), scale_factor=1.2,
                    note="2-D nearest, 4 × 1.2 → 4 and 3 × 1.2 → 3: torch's 2-D kernel copies"),
        interp_case(rng, "nearest-exact", 2, shape=(2, 1, 6, 4), size=(4, 3),
                    note="nearest-exact, downsampling"),
    ]


def _nearest_hidden(rng):
    out = _sweep(rng, ("nearest", "nearest-exact"), _no_align)
    out += [
        interp_case(rng, "nearest", 2, shape=(1, 2, 4, 3), scale_factor=1.2,
                    note="2-D nearest, 4·1.2 → 4: torch's 2-D kernel copies when the size does not change"),
        interp_case(rng, "nearest", 2, shape=(1, 2, 3, 5), scale_factor=2.3,
                    note="2-D nearest, 3·2.3 → 6: torch's 2-D kernel uses i // 2 when the size doubles"),
        interp_case(rng, "nearest", 1, shape=(1, 2, 4), scale_factor=1.2,
                    note="1-D nearest, 4·1.2 → 4: the 1-D kernel has no shortcut"),
        interp_case(rng, "nearest-exact", 2, shape=(1, 1, 4, 2), size=(41, 47),
                    note="2-D nearest-exact where a source position falls on a pixel edge (float32)"),
        interp_case(rng, "nearest-exact", 3, shape=(1, 1, 2, 4, 2), size=(41, 1, 3),
                    note="3-D nearest-exact on a pixel edge (computed in double precision)"),
        interp_case(rng, "nearest", 3, shape=(1, 1, 1, 1, 1), size=(2, 3, 1), note="size-1 input"),
        interp_case(rng, "nearest", 2, shape=(1, 1, 3, 3), size=(1, 1), note="down to 1×1"),
    ]
    return out


def _linear_visible(rng):
    return [
        interp_case(rng, "linear", 1, shape=(1, 1, 4), scale_factor=2, note="linear ×2, align_corners unset (False)"),
        interp_case(rng, "linear", 1, shape=(1, 1, 4), scale_factor=2, align_corners=True,
                    note="linear ×2, align_corners=True"),
        interp_case(rng, "bilinear", 2, shape=(1, 2, 3, 4), size=(5, 7), align_corners=False,
                    note="bilinear to a given size"),
        interp_case(rng, "trilinear", 3, shape=(1, 1, 2, 3, 2), scale_factor=(2, 1.5, 1.2),
                    note="trilinear, per-axis scale (2 × 1.2 → 2: that axis is copied)"),
    ]


def _linear_hidden(rng):
    out = _sweep(rng, ("linear", "bilinear", "trilinear"), _all_align)
    out += [
        interp_case(rng, "bilinear", 2, shape=(1, 2, 4, 5), scale_factor=1.2,
                    note="4·1.2 → 4 along H: the same size is copied, whatever scale_factor says"),
        interp_case(rng, "bilinear", 2, shape=(1, 1, 1, 4), size=(3, 6), align_corners=True,
                    note="size-1 input axis"),
        interp_case(rng, "bilinear", 2, shape=(1, 1, 4, 4), size=(1, 3), align_corners=True,
                    note="output size 1 with align_corners=True (scale 0)"),
        interp_case(rng, "linear", 1, shape=(2, 3, 7), scale_factor=0.3, note="strong downsampling"),
    ]
    return out


def _bicubic_visible(rng):
    return [
        interp_case(rng, "bicubic", 2, shape=(1, 1, 4, 4), scale_factor=2, note="bicubic ×2"),
        interp_case(rng, "bicubic", 2, shape=(1, 2, 3, 5), size=(6, 4), align_corners=True,
                    note="bicubic, align_corners=True"),
        interp_case(rng, "bicubic", 2, shape=(2, 1, 5, 4), scale_factor=1.5, align_corners=False,
                    note="bicubic ×1.5"),
    ]


def _bicubic_hidden(rng):
    out = _sweep(rng, ("bicubic",), _all_align)
    out += [
        interp_case(rng, "bicubic", 2, shape=(1, 1, 4, 5), scale_factor=1.2,
                    note="4·1.2 → 4 along H: bicubic does NOT copy, it uses the scale 1/1.2"),
        interp_case(rng, "bicubic", 2, shape=(1, 1, 1, 2), size=(3, 5), note="inputs of size 1 and 2: taps clamped"),
        interp_case(rng, "bicubic", 2, shape=(1, 1, 6, 6), size=(1, 2), align_corners=True,
                    note="output size 1 with align_corners=True"),
    ]
    return out


def _area_visible(rng):
    return [
        interp_case(rng, "area", 2, shape=(1, 1, 4, 4), size=(2, 2), note="area 4 → 2: 2×2 means"),
        interp_case(rng, "area", 1, shape=(1, 2, 5), size=3, note="area 5 → 3: overlapping windows"),
        interp_case(rng, "area", 2, shape=(1, 1, 3, 2), scale_factor=2, note="area ×2"),
    ]


def _area_hidden(rng):
    out = _sweep(rng, ("area",), _no_align)
    out += [
        interp_case(rng, "area", 3, shape=(1, 1, 7, 5, 3), size=(3, 2, 1), note="3-D area, uneven windows"),
        interp_case(rng, "area", 2, shape=(1, 2, 5, 5), scale_factor=0.3, note="area, 5·0.3 → 1"),
        interp_case(rng, "area", 1, shape=(1, 2, 3), scale_factor=0.3,
                    note="area, 3·0.3 → 0: torch returns an empty array"),
    ]
    return out


def _interp_visible(rng):
    return [
        interp_case(rng, "bilinear", 2, shape=(1, 2, 3, 3), scale_factor=2, align_corners=False,
                    note="bilinear ×2"),
        interp_case(rng, "nearest", 2, shape=(1, 2, 3, 3), scale_factor=2, align_corners=True,
                    note="align_corners with nearest (torch refuses)"),
    ]


def _interp_hidden(rng):
    out = []
    for mode, dims in MODE_DIMS.items():
        for d in dims:
            for how in ("size", "scale", "tuple"):
                align = bool(rng.integers(2)) if mode in INTERPOLATING else "omit"
                kw = {}
                if how == "size":
                    kw["size"] = tuple(int(v) for v in rng.integers(1, 9 if d < 3 else 6, size=d))
                elif how == "scale":
                    kw["scale_factor"] = float(rng.choice([1.5, 2.0, 0.7, 2.5]))
                    if mode != "area" and rng.integers(2):
                        kw["recompute"] = True
                else:
                    kw["scale_factor"] = tuple(float(v) for v in rng.choice([0.5, 1.5, 2.0, 1.3, 2.5], size=d))
                recompute = kw.pop("recompute", "omit")
                out.append(interp_case(rng, mode, d, align_corners=align, recompute=recompute, **kw))
    out += [
        interp_case(rng, "area", 2, size=(3, 3), align_corners=False,
                    note="align_corners=False with area (torch refuses: only None is allowed)"),
        interp_case(rng, "bilinear", 2, size=(3, 3), scale_factor=2,
                    note="both size and scale_factor (torch refuses)"),
        interp_case(rng, "bilinear", 2, note="neither size nor scale_factor (torch refuses)"),
        interp_case(rng, "bilinear", 1, size=5, note="bilinear on a 3-D input (torch refuses)"),
        interp_case(rng, "linear", 2, size=(4, 4), note="linear on a 4-D input (torch refuses)"),
        interp_case(rng, "bicubic", 3, size=(3, 3, 3), note="bicubic on a 5-D input (torch refuses)"),
        interp_case(rng, "trilinear", 2, size=(4, 4), note="trilinear on a 4-D input (torch refuses)"),
        interp_case(rng, "nearest", 2, size=(4, 4), recompute=True,
                    note="recompute_scale_factor=True with a size (torch refuses)"),
        interp_case(rng, "bilinear", 2, shape=(1, 1, 3, 3), scale_factor=0.2,
                    note="output size 0 (torch refuses)"),
        interp_case(rng, "nearest", 2, size=(2, 3, 4), note="size of the wrong length (torch refuses)"),
        interp_case(rng, "cubic", 2, size=(4, 4), note="an unknown mode (torch refuses)"),
        interp_case(rng, "lanczos", 2, size=(4, 4), note="lanczos needs antialias=True (torch refuses)"),
    ]
    return out


# Variants: torch with other arguments, or torch-built per-axis matrices with one bug. ----

def _sizes_and_scales(case):
    """Output sizes and the scale_factor each axis's kernel receives (None: from sizes)."""
    (x,) = case.args
    kw = case.kwargs
    d = x.ndim - 2
    if kw.get("size") is not None:
        return list(_tuple(kw["size"], d)), [None] * d
    factors = list(_tuple(kw["scale_factor"], d))
    sizes = [int(math.floor(s * f)) for s, f in zip(x.shape[2:], factors)]
    if kw.get("recompute_scale_factor") or kw["mode"] == "area":
        factors = [None] * d
    return sizes, factors


def _torch_matrix(mode, n_in, n_out, factor, align, *, bug=None, single=False):
    """A (n_out, n_in) resampling matrix built with torch operations."""
    t = oracle.torch()
    f64 = t.float64
    dst = t.arange(n_out, dtype=f64)
    m = t.zeros(n_out, n_in, dtype=f64)
    if n_out == 0:
        return m
    rows = t.arange(n_out)
    if align:
        scale = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    elif factor is not None and factor > 0:
        scale = 1.0 / factor
    else:
        scale = n_in / n_out
    if bug == "align scale from sizes" and align:
        scale = n_in / n_out
    if mode in ("nearest", "nearest-exact"):
        if bug == "generic nearest":
            single = False
        exact = mode == "nearest-exact"
        if single and not exact and n_out == n_in:
            src = rows
        elif single and not exact and n_out == 2 * n_in:
            src = rows // 2
        elif single:
            sc = t.tensor(scale, dtype=t.float32)
            real = ((dst + 0.5) * sc.double()).float() if exact else dst.float() * sc
            src = t.floor(real).long()
        else:
            real = t.clamp(scale * (dst + 0.5) - 0.5, min=0) + 0.5 if exact else scale * dst
            if bug == "round":
                real = t.round(scale * dst)
            src = t.floor(real.float()).long()
        src = t.clamp(src, max=n_in - 1)
        m[rows, src] = 1.0
        return m
    if mode == "area":
        for o in range(n_out):
            start, end = (o * n_in) // n_out, -(-((o + 1) * n_in) // n_out)
            if bug == "end floored":
                end = ((o + 1) * n_in) // n_out
            elif bug == "start ceiled":
                start = -(-(o * n_in) // n_out)
            elif bug == "equal windows":
                end = min(start + -(-n_in // n_out), n_in)
            m[o, start:end] = 1.0 / (end - start) if end > start else float("nan")
        return m
    cubic = mode == "bicubic"
    if not cubic and n_out == n_in and bug != "no shortcut":
        return t.eye(n_in, dtype=f64)
    if align:
        src = scale * dst
    elif bug == "no half pixel":
        src = scale * dst
    else:
        src = scale * (dst + 0.5) - 0.5
        if (not cubic and bug != "negative wraps") or (cubic and bug == "cubic clamped at 0"):
            src = t.clamp(src, min=0)
    i0 = t.clamp(t.floor(src.float()).long(), max=n_in - 1)
    lam = t.clamp(src - i0, 0, 1)
    if not cubic:
        i1 = t.clamp(i0 + 1, max=n_in - 1)
        if bug == "negative wraps":
            i0 = i0 % n_in
        m.index_put_((rows, i0), 1 - lam, accumulate=True)
        m.index_put_((rows, i1), lam, accumulate=True)
        return m
    a = -0.5 if bug == "A=-0.5" else -0.75

    def near(v):
        return ((a + 2) * v - (a + 3)) * v * v + 1

    def far(v):
        return ((a * v - 5 * a) * v + 8 * a) * v - 4 * a

    weights = [far(lam + 1), near(lam), near(1 - lam), far(2 - lam)]
    for k, w in enumerate(weights):
        idx = i0 - 1 + k
        if bug == "zero outside":
            inside = (idx >= 0) & (idx < n_in)
            m.index_put_((rows[inside], idx[inside]), w[inside], accumulate=True)
        else:
            m.index_put_((rows, t.clamp(idx, 0, n_in - 1)), w, accumulate=True)
    return m


def _torch_interp(case, bug=None, **override):
    """interpolate rebuilt from torch-made matrices, with one bug; None when the bug cannot show."""
    kw = dict(case.kwargs, **override)
    case = Case(case.args, kw)
    (x,) = case.args
    d = x.ndim - 2
    mode = kw["mode"]
    sizes, factors = _sizes_and_scales(case)
    align = bool(kw.get("align_corners"))
    t = oracle.torch()
    out = t.from_numpy(x.copy())
    for axis, (n_in, n_out, factor) in enumerate(zip(x.shape[2:], sizes, factors)):
        m = _torch_matrix(mode, n_in, n_out, factor, align, bug=bug, single=d == 2)
        out = t.movedim(t.tensordot(m, out, dims=([1], [axis + 2])), 0, axis + 2)
    return out.numpy()


def _interp_variants():
    F = oracle.F

    def torch_with(**override):
        def compute(case):
            return oracle.call(F().interpolate, *case.args, **dict(case.kwargs, **override))
        return compute

    def nearest_swapped(case):
        other = {"nearest": "nearest-exact", "nearest-exact": "nearest"}.get(case.kwargs["mode"])
        return None if other is None else torch_with(mode=other)(case)

    def align_swapped(case):
        if case.kwargs["mode"] not in INTERPOLATING:
            return None
        return torch_with(align_corners=not case.kwargs.get("align_corners"))(case)

    def scale_from_sizes(case):
        kw = case.kwargs
        if kw.get("scale_factor") is None or kw.get("recompute_scale_factor") or kw["mode"] == "area":
            return None
        return torch_with(recompute_scale_factor=True)(case)

    def recompute_ignored(case):
        if not case.kwargs.get("recompute_scale_factor") or case.kwargs["mode"] == "area":
            return None
        return torch_with(recompute_scale_factor=False)(case)

    def reversed_axes(case):
        kw = case.kwargs
        for key in ("size", "scale_factor"):
            value = kw.get(key)
            if isinstance(value, (tuple, list)) and tuple(value) != tuple(reversed(value)):
                return torch_with(**{key: tuple(reversed(value))})(case)
        return None

    def built(bug, modes):
        def compute(case):
            if case.kwargs["mode"] not in modes:
                return None
            return _torch_interp(case, bug=bug)
        return compute

    linear_modes = ("linear", "bilinear", "trilinear")
    return [
        Variant("nearest and nearest-exact swapped", "'nearest' takes floor(i·scale) (no "
                "half-pixel offset); 'nearest-exact' takes floor((i + 0.5)·scale): you used "
                "the other one", nearest_swapped),
        Variant("nearest rounds", "'nearest' uses floor(i·scale), not round: torch's legacy "
                "nearest copies OpenCV's INTER_NEAREST", built("round", ("nearest",))),
        Variant("2-D nearest shortcut missing", "torch's 2-D nearest kernel copies rows when "
                "the output size equals the input size and takes i // 2 when it is twice the "
                "input size, whatever scale_factor says (the 1-D and 3-D kernels do not)",
                built("generic nearest", ("nearest", "nearest-exact"))),
        Variant("align_corners swapped", "align_corners semantics are the wrong way round: "
                "True maps the corner pixel CENTRES onto each other, src = i·(in − 1)/(out − 1); "
                "False (the default) uses half-pixel centres, src = (i + 0.5)·scale − 0.5",
                align_swapped),
        Variant("half-pixel offset missing", "with align_corners=False the source position is "
                "(i + 0.5)·scale − 0.5 (pixel centres), not i·scale",
                built("no half pixel", INTERPOLATING)),
        Variant("align_corners scale from sizes", "with align_corners=True the scale is "
                "(in − 1)/(out − 1), not in/out", built("align scale from sizes", INTERPOLATING)),
        Variant("negative source wraps around", "for linear modes a source position below 0 "
                "is clamped to 0; you used index −1, which NumPy reads as the LAST pixel",
                built("negative wraps", linear_modes)),
        Variant("same-size shortcut missing", "the linear kernels copy an axis whose output "
                "size equals its input size, even when scale_factor (e.g. 1.2) says otherwise",
                built("no shortcut", linear_modes)),
        Variant("cubic A = -0.5", "torch's bicubic uses A = −0.75 in the cubic convolution "
                "kernel, not −0.5", built("A=-0.5", ("bicubic",))),
        Variant("cubic taps outside read as zero", "bicubic taps outside the input are "
                "clamped to the border pixel (index clamp to [0, in − 1]), not zero",
                built("zero outside", ("bicubic",))),
        Variant("cubic source clamped at 0", "bicubic does NOT clamp a negative source "
                "position to 0 (only the linear modes do): keep t = src − floor(src)",
                built("cubic clamped at 0", ("bicubic",))),
        Variant("area window end floored", "an area window is [floor(i·in/out), "
                "ceil((i + 1)·in/out)): the end rounds UP", built("end floored", ("area",))),
        Variant("area window start ceiled", "an area window starts at floor(i·in/out): the "
                "start rounds DOWN", built("start ceiled", ("area",))),
        Variant("area windows of equal length", "area windows are [floor(i·in/out), "
                "ceil((i + 1)·in/out)) — their lengths vary; you gave them all the same length",
                built("equal windows", ("area",))),
        Variant("scale from sizes", "when scale_factor is given (and recompute_scale_factor is "
                "not True) torch uses 1/scale_factor as the scale, not in/out", scale_from_sizes),
        Variant("recompute_scale_factor ignored", "with recompute_scale_factor=True the scale "
                "is recomputed from the sizes, in/out, instead of 1/scale_factor",
                recompute_ignored),
        Variant("axes reversed", "size and scale_factor list the spatial axes in order "
                "(D, H, W): you applied them in reverse", reversed_axes),
    ]


def _interp_diagnose(case, got, expected):
    got_shape = getattr(got, "shape", None)
    exp_shape = np.asarray(expected).shape
    if got_shape is None or got_shape == exp_shape or len(got_shape) != len(exp_shape):
        return None
    (x,) = case.args
    factor = case.kwargs.get("scale_factor")
    if factor is not None:
        factors = _tuple(factor, x.ndim - 2)
        rounded = tuple(int(round(s * f)) for s, f in zip(x.shape[2:], factors))
        if tuple(got_shape[2:]) == rounded:
            return "the output size is floor(in · scale_factor), rounded DOWN, not to the nearest"
    return "the output size is `size`, or floor(in · scale_factor) per spatial axis"


def _interp_exercise(name, visible, hidden):
    register(Exercise(name=name, arg_names=INTERP_ARGS, visible=visible, hidden=hidden,
                      reference=_interp_reference, bugs=_interp_variants(),
                      diagnose=_interp_diagnose, function="interpolate"))


_interp_exercise("interpolate/nearest", _nearest_visible, _nearest_hidden)
_interp_exercise("interpolate/linear", _linear_visible, _linear_hidden)
_interp_exercise("interpolate/bicubic", _bicubic_visible, _bicubic_hidden)
_interp_exercise("interpolate/area", _area_visible, _area_hidden)
_interp_exercise("interpolate", _interp_visible, _interp_hidden)


# Upsample module -------------------------------------------------------------------------

UPSAMPLE_ARGS = ("size", "scale_factor", "mode", "align_corners", "recompute_scale_factor")


def upsample_case(rng, shape, note="", **options):
    return Case((), options, note=note or ", ".join(f"{k}={v!r}" for k, v in options.items()),
                extra={"x": rng.standard_normal(shape)})


def _upsample_run(cls, case):
    module = cls(**case.kwargs)
    return module(case.extra["x"].copy())


def _upsample_reference(case):
    module = oracle.torch().nn.Upsample(**case.kwargs)
    return oracle.call(module, case.extra["x"])


def _upsample_visible(rng):
    return [
        upsample_case(rng, (4, 32, 14, 14), scale_factor=2, mode="bilinear", align_corners=False,
                      note="Upsample(scale_factor=2, mode='bilinear', align_corners=False): 14 → 28"),
        upsample_case(rng, (1, 2, 3), size=5, note="defaults: nearest to size 5"),
    ]


def _upsample_hidden(rng):
    out = []
    for mode, dims in MODE_DIMS.items():
        for d in dims:
            shape = (int(rng.integers(1, 3)), 2) + tuple(int(v) for v in rng.integers(2, 6, size=d))
            align = bool(rng.integers(2)) if mode in INTERPOLATING else None
            options = {"mode": mode}
            if align is not None:
                options["align_corners"] = align
            if rng.integers(2):
                options["size"] = tuple(int(v) for v in rng.integers(1, 8, size=d))
            else:
                options["scale_factor"] = float(rng.choice([1.5, 2.0, 1.7, 0.6]))
                if mode not in ("area",) and rng.integers(2):
                    options["recompute_scale_factor"] = True
            out.append(upsample_case(rng, shape, **options))
    out += [
        upsample_case(rng, (1, 1, 4, 5), scale_factor=(1.5, 2.3), mode="bicubic",
                      note="per-axis scale_factor, bicubic"),
        upsample_case(rng, (2, 1, 3, 4), size=(5, 7), mode="bilinear", align_corners=True,
                      note="bilinear, align_corners=True (what UpsamplingBilinear2d does)"),
        upsample_case(rng, (1, 2, 4), scale_factor=2, mode="linear", align_corners=True),
        upsample_case(rng, (1, 2, 5), scale_factor=1.7, mode="linear", recompute_scale_factor=True,
                      note="recompute_scale_factor=True: the scale is 5/8, not 1/1.7"),
        upsample_case(rng, (1, 1, 4, 4), scale_factor=2, mode="nearest", align_corners=True,
                      note="align_corners with nearest (torch refuses when called)"),
    ]
    return out


def _upsample_variants():
    def module_with(**override):
        def compute(case):
            return _upsample_reference(Case((), dict(case.kwargs, **override), extra=case.extra))
        return compute

    def mode_ignored(case):
        # nearest-exact and nearest often agree with a scale bug: no hint there
        if case.kwargs.get("mode", "nearest") in ("nearest", "nearest-exact"):
            return None
        return module_with(mode="nearest", align_corners=None)(case)

    def align_ignored(case):
        if not case.kwargs.get("align_corners"):
            return None
        return module_with(align_corners=False)(case)

    def recompute_ignored(case):
        if not case.kwargs.get("recompute_scale_factor"):
            return None
        return module_with(recompute_scale_factor=None)(case)

    def scale_from_sizes(case):
        kw = case.kwargs
        if kw.get("scale_factor") is None or kw.get("recompute_scale_factor") or kw.get("mode") == "area":
            return None
        return module_with(recompute_scale_factor=True)(case)

    return [
        Variant("mode ignored", "the module ignores `mode`: it must pass it on to interpolate "
                "(the default is 'nearest')", mode_ignored),
        Variant("align_corners ignored", "the module ignores align_corners: pass it on to "
                "interpolate", align_ignored),
        Variant("recompute_scale_factor ignored", "the module ignores recompute_scale_factor: "
                "pass it on to interpolate", recompute_ignored),
        Variant("scale from sizes", "when scale_factor is given the module's interpolate uses "
                "1/scale_factor as the scale, not in/out", scale_from_sizes),
    ]


register(Exercise(
    name="Upsample", arg_names=UPSAMPLE_ARGS, visible=_upsample_visible, hidden=_upsample_hidden,
    reference=_upsample_reference, bugs=_upsample_variants(), run=_upsample_run,
))


# pixel_shuffle / pixel_unshuffle ---------------------------------------------------------

def shuffle_case(rng, shape, factor, note=""):
    return Case((rng.standard_normal(shape), factor), {}, note=note)


def _shuffle_visible(rng):
    return [
        Case((np.arange(8.0).reshape(1, 8, 1, 1), 2), {}, note="8 channels of one pixel → 2 channels of 2×2"),
        shuffle_case(rng, (2, 9, 2, 3), 3, note="factor 3"),
    ]


def _shuffle_hidden(rng):
    out = []
    for r, lead in itertools.product((1, 2, 3), ((), (2,), (2, 1), (1, 2, 2))):
        c = r * r * int(rng.integers(1, 3))
        out.append(shuffle_case(rng, lead + (c, int(rng.integers(1, 4)), int(rng.integers(1, 4))), r,
                                note=f"factor {r}, {len(lead) + 3}-D input"))
    out += [
        shuffle_case(rng, (1, 6, 2, 2), 2, note="6 channels, factor 2: not divisible by 4 (torch refuses)"),
        shuffle_case(rng, (4, 2), 2, note="a 2-D input (torch refuses)"),
    ]
    return out


def _unshuffle_visible(rng):
    return [
        Case((np.arange(8.0).reshape(1, 2, 2, 2), 2), {}, note="2 channels of 2×2 → 8 channels of one pixel"),
        shuffle_case(rng, (2, 1, 6, 3), 3, note="factor 3"),
    ]


def _unshuffle_hidden(rng):
    out = []
    for r, lead in itertools.product((1, 2, 3), ((), (2,), (2, 1), (1, 2, 2))):
        out.append(shuffle_case(rng, lead + (int(rng.integers(1, 3)), r * int(rng.integers(1, 4)),
                                             r * int(rng.integers(1, 4))), r,
                                note=f"factor {r}, {len(lead) + 3}-D input"))
    out += [
        shuffle_case(rng, (1, 1, 4, 3), 2, note="width 3, factor 2: not divisible (torch refuses)"),
        shuffle_case(rng, (4, 2), 2, note="a 2-D input (torch refuses)"),
    ]
    return out


def _shuffle_variants(unshuffle):
    """Wrong layouts, as torch reshapes and permutes of the input."""
    def layout(kind):
        def compute(case):
            t = oracle.torch()
            x, r = case.args
            if r == 1 or x.ndim < 3:
                return None
            xt = t.from_numpy(x.copy())
            lead = tuple(x.shape[:-3])
            n = len(lead)
            c, h, w = x.shape[-3:]
            if not unshuffle:
                if c % (r * r):
                    return None
                co = c // (r * r)
                split = {"channel order": (r, r, co), "rows and columns": (co, r, r),
                         "blocks": (co, r, r), "flipped": (co, r, r)}[kind]
                y = xt.reshape(lead + split + (h, w))
                if kind == "channel order":      # (i, j, c) instead of (c, i, j)
                    y = y.permute(*range(n), n + 2, n + 3, n, n + 4, n + 1)
                elif kind == "rows and columns":  # j before i
                    y = y.permute(*range(n), n, n + 3, n + 2, n + 4, n + 1)
                elif kind == "blocks":            # (i, h) instead of (h, i)
                    y = y.permute(*range(n), n, n + 1, n + 3, n + 2, n + 4)
                else:
                    y = y.flip(n + 1, n + 2).permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)
                return y.reshape(lead + (co, h * r, w * r)).numpy()
            if h % r or w % r:
                return None
            if kind == "blocks":
                y = xt.reshape(lead + (c, r, h // r, r, w // r))
                y = y.permute(*range(n), n, n + 1, n + 3, n + 2, n + 4)
            else:
                y = xt.reshape(lead + (c, h // r, r, w // r, r))
                if kind == "channel order":
                    y = y.permute(*range(n), n + 2, n + 4, n, n + 1, n + 3)
                elif kind == "rows and columns":
                    y = y.permute(*range(n), n, n + 4, n + 2, n + 1, n + 3)
                else:
                    y = y.flip(n + 2, n + 4).permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)
            return y.reshape(lead + (c * r * r, h // r, w // r)).numpy()
        return compute

    word = "input" if unshuffle else "output"
    return [
        Variant("channel order", f"channel c·r² + i·r + j holds {word} pixel (i, j) of channel "
                "c: the channel index is c-major; you made it sub-pixel-major (i·r + j)·C + c",
                layout("channel order")),
        Variant("rows and columns swapped", "within a block of r² channels, i (the row offset) "
                "comes before j (the column offset): channel c·r² + i·r + j", layout("rows and columns")),
        Variant("blocks not interleaved", "the sub-pixels are interleaved: output row h·r + i, "
                "not i·H + h (you tiled r × r whole images side by side)", layout("blocks")),
        Variant("sub-pixels flipped", "sub-pixel offset i = 0 is the top row of each r × r "
                "block (and j = 0 the left column): you counted from the other end",
                layout("flipped")),
    ]


register(Exercise(
    name="pixel_shuffle", arg_names=("input", "upscale_factor"), visible=_shuffle_visible,
    hidden=_shuffle_hidden, reference=lambda case: oracle.call(oracle.F().pixel_shuffle, *case.args),
    bugs=_shuffle_variants(False),
))
register(Exercise(
    name="pixel_unshuffle", arg_names=("input", "downscale_factor"), visible=_unshuffle_visible,
    hidden=_unshuffle_hidden, reference=lambda case: oracle.call(oracle.F().pixel_unshuffle, *case.args),
    bugs=_shuffle_variants(True),
))
