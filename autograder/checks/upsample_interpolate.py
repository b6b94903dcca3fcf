"""Chapter 06b — interpolation: interpolate in every mode (graded mode by mode, then whole).

The seeded grids of sizes and scale factors per mode, the calls torch refuses, and the
known bugs with the hint each earns. Expected values and known bugs are computed with
torch: a bug that is not a torch call with other arguments is interpolate rebuilt from
per-axis resampling matrices made with torch operations, with one thing done wrong.
"""
from __future__ import annotations

import math

import numpy as np

from .. import oracle
from ..compare import Hint
from ..exercise import Bug, Case, Exercise, refused, register
from ._shapes import exact

INTERP_ARGS = ("input", "size", "scale_factor", "mode", "align_corners",
               "recompute_scale_factor", "antialias")
MODE_DIMS = {"nearest": (1, 2, 3), "nearest-exact": (1, 2, 3), "area": (1, 2, 3),
             "linear": (1,), "bilinear": (2,), "bicubic": (2,), "trilinear": (3,)}
NEAREST = ("nearest", "nearest-exact")
LINEAR = ("linear", "bilinear", "trilinear")
INTERPOLATING = ("linear", "bilinear", "bicubic", "trilinear")


def interp_case(rng: np.random.Generator, mode: str, d: int, *, shape=None, size=None,
                scale_factor=None, align_corners="omit", recompute="omit", note="") -> Case:
    """One interpolate call on a random (N, C, *spatial) input; "omit" leaves an option out."""
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


def _reference(case):
    return oracle.call(oracle.F().interpolate, *case.args, **case.kwargs)


def _sweep(rng, modes, aligns=("omit",)):
    """size or scale_factor (integer, fractional, per axis), recompute, each align_corners
    of ``aligns``, for every mode and its dimensions."""
    out = []
    for mode in modes:
        for d in MODE_DIMS[mode]:
            for align in aligns:
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
                        kw["scale_factor"] = tuple(
                            float(v) for v in rng.choice([0.5, 1.5, 2.0, 1.3, 2.5], size=d))
                    elif how == "recompute":
                        kw["scale_factor"] = float(rng.choice([1.7, 2.3, 0.6, 1.3]))
                        kw["recompute"] = bool(rng.integers(2))
                    else:
                        kw["scale_factor"] = float(rng.choice([0.5, 0.75, 0.6]))
                        shape = shape[:2] + tuple(
                            int(v) for v in rng.integers(4, 9 if d < 3 else 7, size=d))
                    recompute = kw.pop("recompute", "omit")
                    out.append(interp_case(rng, mode, d, shape=shape, align_corners=align,
                                           recompute=recompute, **kw))
    return out


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
    out = _sweep(rng, NEAREST)
    out += [
        interp_case(rng, "nearest", 2, shape=(1, 2, 4, 3), scale_factor=1.2,
                    note="2-D nearest, 4·1.2 → 4: torch's 2-D kernel copies when the size "
                         "does not change"),
        interp_case(rng, "nearest", 2, shape=(1, 2, 3, 5), scale_factor=2.3,
                    note="2-D nearest, 3·2.3 → 6: torch's 2-D kernel uses i // 2 when the "
                         "size doubles"),
        interp_case(rng, "nearest", 1, shape=(1, 2, 4), scale_factor=1.2,
                    note="1-D nearest, 4·1.2 → 4: the 1-D kernel has no shortcut"),
        interp_case(rng, "nearest-exact", 2, shape=(1, 1, 4, 2), size=(41, 47),
                    note="2-D nearest-exact where a source position falls on a pixel edge "
                         "(float32)"),
        interp_case(rng, "nearest-exact", 3, shape=(1, 1, 2, 4, 2), size=(41, 1, 3),
                    note="3-D nearest-exact on a pixel edge (computed in double precision)"),
        interp_case(rng, "nearest", 3, shape=(1, 1, 1, 1, 1), size=(2, 3, 1), note="size-1 input"),
        interp_case(rng, "nearest", 2, shape=(1, 1, 3, 3), size=(1, 1), note="down to 1×1"),
    ]
    return out


def _linear_visible(rng):
    return [
        interp_case(rng, "linear", 1, shape=(1, 1, 4), scale_factor=2,
                    note="linear ×2, align_corners unset (False)"),
        interp_case(rng, "linear", 1, shape=(1, 1, 4), scale_factor=2, align_corners=True,
                    note="linear ×2, align_corners=True"),
        interp_case(rng, "bilinear", 2, shape=(1, 2, 3, 4), size=(5, 7), align_corners=False,
                    note="bilinear to a given size"),
        interp_case(rng, "trilinear", 3, shape=(1, 1, 2, 3, 2), scale_factor=(2, 1.5, 1.2),
                    note="trilinear, per-axis scale (2 × 1.2 → 2: that axis is copied)"),
    ]


def _linear_hidden(rng):
    out = _sweep(rng, LINEAR, ("omit", True, False))
    out += [
        interp_case(rng, "bilinear", 2, shape=(1, 2, 4, 5), scale_factor=1.2,
                    note="4·1.2 → 4 along H: the same size is copied, whatever scale_factor says"),
        interp_case(rng, "bilinear", 2, shape=(1, 1, 1, 4), size=(3, 6), align_corners=True,
                    note="size-1 input axis"),
        interp_case(rng, "bilinear", 2, shape=(1, 1, 4, 4), size=(1, 3), align_corners=True,
                    note="output size 1 with align_corners=True (scale 0)"),
        interp_case(rng, "linear", 1, shape=(2, 3, 7), scale_factor=0.3,
                    note="strong downsampling"),
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
    out = _sweep(rng, ("bicubic",), ("omit", True, False))
    out += [
        interp_case(rng, "bicubic", 2, shape=(1, 1, 4, 5), scale_factor=1.2,
                    note="4·1.2 → 4 along H: bicubic does NOT copy, it uses the scale 1/1.2"),
        interp_case(rng, "bicubic", 2, shape=(1, 1, 1, 2), size=(3, 5),
                    note="inputs of size 1 and 2: taps clamped"),
        interp_case(rng, "bicubic", 2, shape=(1, 1, 6, 6), size=(1, 2), align_corners=True,
                    note="output size 1 with align_corners=True"),
    ]
    return out


def _area_visible(rng):
    return [
        interp_case(rng, "area", 2, shape=(1, 1, 4, 4), size=(2, 2), note="area 4 → 2: 2×2 means"),
        interp_case(rng, "area", 1, shape=(1, 2, 5), size=3,
                    note="area 5 → 3: overlapping windows"),
        interp_case(rng, "area", 2, shape=(1, 1, 3, 2), scale_factor=2, note="area ×2"),
    ]


def _area_hidden(rng):
    out = _sweep(rng, ("area",))
    out += [
        interp_case(rng, "area", 3, shape=(1, 1, 7, 5, 3), size=(3, 2, 1),
                    note="3-D area, uneven windows"),
        interp_case(rng, "area", 2, shape=(1, 2, 5, 5), scale_factor=0.3, note="area, 5·0.3 → 1"),
        interp_case(rng, "area", 1, shape=(1, 2, 3), scale_factor=0.3,
                    note="area, 3·0.3 → 0: torch returns an empty array"),
    ]
    return out


def _interp_visible(rng):
    return [
        interp_case(rng, "bilinear", 2, shape=(1, 2, 3, 3), scale_factor=2, align_corners=False,
                    note="bilinear ×2"),
        refused(interp_case(rng, "nearest", 2, shape=(1, 2, 3, 3), scale_factor=2,
                            align_corners=True, note="align_corners with nearest"),
                "align_corners belongs to the interpolating modes"),
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
                    kw["scale_factor"] = tuple(
                        float(v) for v in rng.choice([0.5, 1.5, 2.0, 1.3, 2.5], size=d))
                recompute = kw.pop("recompute", "omit")
                out.append(interp_case(rng, mode, d, align_corners=align, recompute=recompute,
                                       **kw))
    out += [
        refused(interp_case(rng, "area", 2, size=(3, 3), align_corners=False,
                            note="align_corners=False with area"),
                "only align_corners=None is allowed with area"),
        refused(interp_case(rng, "bilinear", 2, size=(3, 3), scale_factor=2,
                            note="both size and scale_factor"), "give one of the two"),
        refused(interp_case(rng, "bilinear", 2, note="neither size nor scale_factor"),
                "give one of the two"),
        refused(interp_case(rng, "bilinear", 1, size=5, note="bilinear on a 3-D input"),
                "bilinear needs (N, C, H, W)"),
        refused(interp_case(rng, "linear", 2, size=(4, 4), note="linear on a 4-D input"),
                "linear needs (N, C, L)"),
        refused(interp_case(rng, "bicubic", 3, size=(3, 3, 3), note="bicubic on a 5-D input"),
                "bicubic needs (N, C, H, W)"),
        refused(interp_case(rng, "trilinear", 2, size=(4, 4), note="trilinear on a 4-D input"),
                "trilinear needs (N, C, D, H, W)"),
        refused(interp_case(rng, "nearest", 2, size=(4, 4), recompute=True,
                            note="recompute_scale_factor=True with a size"),
                "there is no scale_factor to recompute"),
        refused(interp_case(rng, "bilinear", 2, shape=(1, 1, 3, 3), scale_factor=0.2,
                            note="3·0.2 → an output size of 0"), "an empty output"),
        refused(interp_case(rng, "nearest", 2, size=(2, 3, 4), note="size of the wrong length"),
                "one size per spatial axis"),
        refused(interp_case(rng, "cubic", 2, size=(4, 4), note="mode='cubic'"), "an unknown mode"),
        refused(interp_case(rng, "lanczos", 2, size=(4, 4), note="mode='lanczos'"),
                "lanczos needs antialias=True"),
    ]
    return out



# Rebuilt with torch: one (n_out, n_in) matrix per spatial axis. ---------------------------

def _sizes_and_scales(case: Case) -> tuple[list, list]:
    """Output sizes and the scale_factor each axis's kernel receives (None: from sizes)."""
    (x,) = case.args
    kw = case.kwargs
    d = x.ndim - 2
    if kw.get("size") is not None:
        return list(exact(kw["size"], d)), [None] * d
    factors = list(exact(kw["scale_factor"], d))
    sizes = [int(math.floor(s * f)) for s, f in zip(x.shape[2:], factors, strict=True)]
    if kw.get("recompute_scale_factor") or kw["mode"] == "area":
        factors = [None] * d
    return sizes, factors


def _scale(n_in: int, n_out: int, factor, align: bool, *, from_sizes: bool = False) -> float:
    """Source step per output pixel: (in − 1)/(out − 1) with align_corners, else
    1/scale_factor when given, else in/out; ``from_sizes`` takes in/out even with
    align_corners."""
    if align and from_sizes:
        return n_in / n_out
    if align:
        return (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    if factor is not None and factor > 0:
        return 1.0 / factor
    return n_in / n_out


def _nearest_matrix(n_in, n_out, scale, *, exact_mode, kernel_2d, rounds=False):
    """'nearest' (floor(i·scale)) or 'nearest-exact' (floor((i + 0.5)·scale)); torch's
    2-D kernel copies equal sizes, halves doubled ones and computes in float32;
    ``rounds``: round instead of floor (outside the 2-D kernel)."""
    t = oracle.torch()
    dst = t.arange(n_out, dtype=t.float64)
    rows = t.arange(n_out)
    if kernel_2d and not exact_mode and n_out == n_in:
        src = rows
    elif kernel_2d and not exact_mode and n_out == 2 * n_in:
        src = rows // 2
    elif kernel_2d:
        sc = t.tensor(scale, dtype=t.float32)
        real = ((dst + 0.5) * sc.double()).float() if exact_mode else dst.float() * sc
        src = t.floor(real).long()
    else:
        if rounds:
            real = t.round(scale * dst)
        elif exact_mode:
            real = t.clamp(scale * (dst + 0.5) - 0.5, min=0) + 0.5
        else:
            real = scale * dst
        src = t.floor(real.float()).long()
    m = t.zeros(n_out, n_in, dtype=t.float64)
    m[rows, t.clamp(src, max=n_in - 1)] = 1.0
    return m


def _area_matrix(n_in, n_out, *, end_floored=False, start_ceiled=False, equal_windows=False):
    """Means over [floor(i·in/out), ceil((i + 1)·in/out)); the keywords get one edge wrong."""
    t = oracle.torch()
    m = t.zeros(n_out, n_in, dtype=t.float64)
    for o in range(n_out):
        start, end = (o * n_in) // n_out, -(-((o + 1) * n_in) // n_out)
        if end_floored:
            end = ((o + 1) * n_in) // n_out
        if start_ceiled:
            start = -(-(o * n_in) // n_out)
        if equal_windows:
            end = min(start + -(-n_in // n_out), n_in)
        m[o, start:end] = 1.0 / (end - start) if end > start else float("nan")
    return m


def _source(n_out, scale, align, *, half_pixel, clamp):
    """Source position of each output pixel: i·scale with align_corners (or no half-pixel
    offset), else (i + 0.5)·scale − 0.5, clamped at 0 when ``clamp``."""
    t = oracle.torch()
    dst = t.arange(n_out, dtype=t.float64)
    if align or not half_pixel:
        return scale * dst
    src = scale * (dst + 0.5) - 0.5
    return t.clamp(src, min=0) if clamp else src


def _linear_matrix(n_in, n_out, scale, align, *, copies_same_size=True, half_pixel=True,
                   negative_wraps=False):
    """Two taps per output pixel; ``negative_wraps`` reads a source below 0 as index −1."""
    t = oracle.torch()
    if copies_same_size and n_out == n_in:
        return t.eye(n_in, dtype=t.float64)
    src = _source(n_out, scale, align, half_pixel=half_pixel, clamp=not negative_wraps)
    rows = t.arange(n_out)
    i0 = t.clamp(t.floor(src.float()).long(), max=n_in - 1)
    lam = t.clamp(src - i0, 0, 1)
    i1 = t.clamp(i0 + 1, max=n_in - 1)
    if negative_wraps:
        i0 = i0 % n_in
    m = t.zeros(n_out, n_in, dtype=t.float64)
    m.index_put_((rows, i0), 1 - lam, accumulate=True)
    m.index_put_((rows, i1), lam, accumulate=True)
    return m


def _cubic_matrix(n_in, n_out, scale, align, *, a=-0.75, zero_outside=False,
                  clamps_source=False, half_pixel=True):
    """Four taps of the cubic convolution kernel with parameter ``a``, clamped to the border
    (``zero_outside``: taps outside read as 0)."""
    t = oracle.torch()
    src = _source(n_out, scale, align, half_pixel=half_pixel, clamp=clamps_source)
    rows = t.arange(n_out)
    i0 = t.clamp(t.floor(src.float()).long(), max=n_in - 1)
    lam = t.clamp(src - i0, 0, 1)

    def near(v):
        return ((a + 2) * v - (a + 3)) * v * v + 1

    def far(v):
        return ((a * v - 5 * a) * v + 8 * a) * v - 4 * a

    m = t.zeros(n_out, n_in, dtype=t.float64)
    for k, w in enumerate([far(lam + 1), near(lam), near(1 - lam), far(2 - lam)]):
        idx = i0 - 1 + k
        if zero_outside:
            inside = (idx >= 0) & (idx < n_in)
            m.index_put_((rows[inside], idx[inside]), w[inside], accumulate=True)
        else:
            m.index_put_((rows, t.clamp(idx, 0, n_in - 1)), w, accumulate=True)
    return m


def _matrix(mode, n_in, n_out, factor, align, *, kernel_2d, align_scale_from_sizes=False,
            **changes):
    """The (n_out, n_in) resampling matrix of one axis; ``changes`` go to the mode's matrix."""
    t = oracle.torch()
    if n_out == 0:
        return t.zeros(0, n_in, dtype=t.float64)
    scale = _scale(n_in, n_out, factor, align, from_sizes=align_scale_from_sizes)
    if mode in NEAREST:
        return _nearest_matrix(n_in, n_out, scale, exact_mode=mode == "nearest-exact",
                               kernel_2d=kernel_2d, **changes)
    if mode == "area":
        return _area_matrix(n_in, n_out, **changes)
    if mode == "bicubic":
        return _cubic_matrix(n_in, n_out, scale, align, **changes)
    return _linear_matrix(n_in, n_out, scale, align, **changes)


def _resampled(case: Case, *, kernel_2d=None, **changes):
    """interpolate rebuilt axis by axis from torch-made matrices, with ``changes`` (one bug)
    passed to the matrices; ``kernel_2d`` False leaves out torch's 2-D nearest kernel."""
    (x,) = case.args
    d = x.ndim - 2
    sizes, factors = _sizes_and_scales(case)
    align = bool(case.kwargs.get("align_corners"))
    t = oracle.torch()
    out = t.from_numpy(x.copy())
    for axis, (n_in, n_out, factor) in enumerate(zip(x.shape[2:], sizes, factors, strict=True)):
        m = _matrix(case.kwargs["mode"], n_in, n_out, factor, align,
                    kernel_2d=d == 2 if kernel_2d is None else kernel_2d, **changes)
        out = t.movedim(t.tensordot(m, out, dims=([1], [axis + 2])), 0, axis + 2)
    return out.numpy()


# Known bugs ------------------------------------------------------------------------------

def _torch_with(case: Case, **changes):
    """torch's interpolate with some keyword arguments changed."""
    return oracle.call_case(oracle.F().interpolate, case, **changes)


def _mode_in(*modes):
    return lambda case: case.kwargs["mode"] in modes


def _scale_given(case: Case) -> bool:
    kw = case.kwargs
    return (kw.get("scale_factor") is not None and not kw.get("recompute_scale_factor")
            and kw["mode"] != "area")


def _reversible(case: Case) -> str | None:
    """The first of size / scale_factor given per axis and not a palindrome."""
    for key in ("size", "scale_factor"):
        value = case.kwargs.get(key)
        if isinstance(value, (tuple, list)) and tuple(value) != tuple(reversed(value)):
            return key
    return None


def _axes_reversed(case: Case):
    key = _reversible(case)
    return _torch_with(case, **{key: tuple(reversed(case.kwargs[key]))})


SCALE_FROM_SIZES_HINT = (
    "when scale_factor is given (and recompute_scale_factor is not True) torch uses "
    "1/scale_factor as the scale, not in/out")

BUGS = [
    Bug("nearest-modes-swapped",
        "'nearest' takes floor(i·scale) (no half-pixel offset); 'nearest-exact' takes "
        "floor((i + 0.5)·scale): you used the other one",
        lambda case: _torch_with(case, mode={"nearest": "nearest-exact",
                                             "nearest-exact": "nearest"}[case.kwargs["mode"]]),
        when=_mode_in(*NEAREST)),
    Bug("nearest-rounds",
        "'nearest' uses floor(i·scale), not round: torch's legacy nearest copies OpenCV's "
        "INTER_NEAREST",
        lambda case: _resampled(case, rounds=True), when=_mode_in("nearest")),
    Bug("nearest-2d-shortcut-missing",
        "torch's 2-D nearest kernel copies rows when the output size equals the input size "
        "and takes i // 2 when it is twice the input size, whatever scale_factor says (the "
        "1-D and 3-D kernels do not)",
        lambda case: _resampled(case, kernel_2d=False),
        when=lambda case: case.kwargs["mode"] in NEAREST and case.args[0].ndim == 4),
    Bug("align-corners-swapped",
        "align_corners semantics are the wrong way round: True maps the corner pixel CENTRES "
        "onto each other, src = i·(in − 1)/(out − 1); False (the default) uses half-pixel "
        "centres, src = (i + 0.5)·scale − 0.5",
        lambda case: _torch_with(case, align_corners=not case.kwargs.get("align_corners")),
        when=_mode_in(*INTERPOLATING)),
    Bug("half-pixel-offset-missing",
        "with align_corners=False the source position is (i + 0.5)·scale − 0.5 (pixel "
        "centres), not i·scale",
        lambda case: _resampled(case, half_pixel=False), when=_mode_in(*INTERPOLATING)),
    Bug("align-corners-scale-from-sizes",
        "with align_corners=True the scale is (in − 1)/(out − 1), not in/out",
        lambda case: _resampled(case, align_scale_from_sizes=True),
        when=lambda case: case.kwargs["mode"] in INTERPOLATING
        and bool(case.kwargs.get("align_corners"))),
    Bug("negative-source-wraps-around",
        "for linear modes a source position below 0 is clamped to 0; you used index −1, "
        "which NumPy reads as the LAST pixel",
        lambda case: _resampled(case, negative_wraps=True), when=_mode_in(*LINEAR)),
    Bug("same-size-shortcut-missing",
        "the linear kernels copy an axis whose output size equals its input size, even when "
        "scale_factor (e.g. 1.2) says otherwise",
        lambda case: _resampled(case, copies_same_size=False), when=_mode_in(*LINEAR)),
    Bug("cubic-a-of-minus-half",
        "torch's bicubic uses A = −0.75 in the cubic convolution kernel, not −0.5",
        lambda case: _resampled(case, a=-0.5), when=_mode_in("bicubic")),
    Bug("cubic-taps-outside-read-as-zero",
        "bicubic taps outside the input are clamped to the border pixel (index clamp to "
        "[0, in − 1]), not zero",
        lambda case: _resampled(case, zero_outside=True), when=_mode_in("bicubic")),
    Bug("cubic-source-clamped-at-zero",
        "bicubic does NOT clamp a negative source position to 0 (only the linear modes do): "
        "keep t = src − floor(src)",
        lambda case: _resampled(case, clamps_source=True), when=_mode_in("bicubic")),
    Bug("area-window-end-floored",
        "an area window is [floor(i·in/out), ceil((i + 1)·in/out)): the end rounds UP",
        lambda case: _resampled(case, end_floored=True), when=_mode_in("area")),
    Bug("area-window-start-ceiled",
        "an area window starts at floor(i·in/out): the start rounds DOWN",
        lambda case: _resampled(case, start_ceiled=True), when=_mode_in("area")),
    Bug("area-windows-of-equal-length",
        "area windows are [floor(i·in/out), ceil((i + 1)·in/out)) — their lengths vary; you "
        "gave them all the same length",
        lambda case: _resampled(case, equal_windows=True), when=_mode_in("area")),
    Bug("scale-from-sizes", SCALE_FROM_SIZES_HINT,
        lambda case: _torch_with(case, recompute_scale_factor=True), when=_scale_given),
    Bug("recompute-scale-factor-ignored",
        "with recompute_scale_factor=True the scale is recomputed from the sizes, in/out, "
        "instead of 1/scale_factor",
        lambda case: _torch_with(case, recompute_scale_factor=False),
        when=lambda case: bool(case.kwargs.get("recompute_scale_factor"))
        and case.kwargs["mode"] != "area"),
    Bug("axes-reversed",
        "size and scale_factor list the spatial axes in order (D, H, W): you applied them "
        "in reverse",
        _axes_reversed, when=lambda case: _reversible(case) is not None),
]

SIZE_ROUNDED = Hint("output-size-rounded",
                    "the output size is floor(in · scale_factor), rounded DOWN, not to the "
                    "nearest")
SIZE_WRONG = Hint("interpolate-output-size",
                  "the output size is `size`, or floor(in · scale_factor) per spatial axis")


def _diagnose(case, got, expected):
    shape = getattr(got, "shape", None)
    expected_shape = np.asarray(expected).shape
    if shape is None or shape == expected_shape or len(shape) != len(expected_shape):
        return None
    (x,) = case.args
    factor = case.kwargs.get("scale_factor")
    if factor is not None:
        factors = exact(factor, x.ndim - 2)
        rounded = tuple(int(round(s * f)) for s, f in zip(x.shape[2:], factors, strict=True))
        if tuple(shape[2:]) == rounded:
            return SIZE_ROUNDED
    return SIZE_WRONG


for _name, _visible, _hidden in (
        ("interpolate/nearest", _nearest_visible, _nearest_hidden),
        ("interpolate/linear", _linear_visible, _linear_hidden),
        ("interpolate/bicubic", _bicubic_visible, _bicubic_hidden),
        ("interpolate/area", _area_visible, _area_hidden),
        ("interpolate", _interp_visible, _interp_hidden)):
    register(Exercise(name=_name, arg_names=INTERP_ARGS, visible=_visible, hidden=_hidden,
                      reference=_reference, bugs=BUGS, diagnose=_diagnose,
                      function="interpolate"))
