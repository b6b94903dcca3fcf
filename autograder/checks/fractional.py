"""Chapter 05c — fractional max pooling: fractional_max_pool2d and fractional_max_pool3d
(the power-average pooling of the same notebook: ``pool_lp.py``).

The windows are placed by ``_random_samples``, given in every case so that torch's answer
is fixed: in 2-D ``[n, c, 0]`` places the width and ``[1]`` the height; in 3-D ``[n, c, 0]``
places the depth (T), ``[1]`` the height, ``[2]`` the width.
"""
from __future__ import annotations

import itertools

import numpy as np

from .. import oracle
from ..exercise import Bug, Case, Exercise, refused, register
from ._pooling import nan_ignored, pool_input, random_sizes, torch_call
from ._shapes import expand

FRAC_ARGS = ("input", "kernel_size", "output_size", "output_ratio", "return_indices",
             "_random_samples")


# fractional_max_pool2d -------------------------------------------------------------------
def frac_case(rng: np.random.Generator, size: tuple, kernel, *, n: int = 2, c: int = 2,
              batched: bool = True, values: str = "normal", note: str = "", samples: bool = True,
              **kwargs) -> Case:
    """A fractional_max_pool2d call on an (N, C, H, W) input, or (C, H, W) unbatched."""
    shape = ((n,) if batched else ()) + (c,) + tuple(size)
    if samples:
        kwargs["_random_samples"] = rng.uniform(0, 1, ((n if batched else 1), c, 2))
    return Case((pool_input(rng, shape, values), kernel), kwargs, note=note)


def _visible_2d(rng):
    return [
        frac_case(rng, (9, 9), 2, n=1, c=1, output_size=(5, 5), note="9 → 5 with 2×2 windows"),
        frac_case(rng, (8, 10), (2, 3), output_size=(5, 4), return_indices=True,
                  note="non-square, indices"),
        frac_case(rng, (10, 8), 2, output_ratio=(0.5, 0.7), return_indices=True,
                  note="output_ratio (rows, columns)"),
    ]


def _hidden_2d(rng):
    out = []
    for ri, how, batched in itertools.product((False, True), ("size", "ratio"), (True, False)):
        for _ in range(2):
            h, w = random_sizes(rng, 2, 4, 13)
            kh, kw = random_sizes(rng, 2, 1, 4)
            kh, kw = min(kh, h), min(kw, w)
            kwargs = {"return_indices": ri}
            if how == "size":
                kwargs["output_size"] = (int(rng.integers(1, h - kh + 2)),
                                         int(rng.integers(1, w - kw + 2)))
            else:
                kwargs["output_ratio"] = (float(rng.uniform(0.3, 0.75)),
                                          float(rng.uniform(0.3, 0.75)))
            kernel = (kh, kw) if kh != kw or rng.random() < 0.5 else kh
            out.append(frac_case(rng, (h, w), kernel, n=int(rng.integers(1, 3)),
                                 c=int(rng.integers(1, 4)), batched=batched,
                                 note=f"{how}, return_indices={ri}, batched={batched}", **kwargs))
    out = [c for c in out if "output_ratio" not in c.kwargs or all(
        int(n * r) + k - 1 <= n and int(n * r) >= 1
        for n, r, k in zip(c.args[0].shape[-2:], c.kwargs["output_ratio"], expand(c.args[1], 2),
                           strict=True))]
    out += [
        frac_case(rng, (7, 9), 3, output_size=(1, 1), return_indices=True,
                  note="output 1×1: the one window sits at the end"),
        frac_case(rng, (7, 9), 3, output_size=(5, 7), return_indices=True,
                  note="output + kernel − 1 = input: windows at every position"),
        frac_case(rng, (6, 6), 1, output_size=(6, 6), return_indices=True,
                  note="kernel 1, output = input"),
        frac_case(rng, (9, 8), 2, output_size=(5, 4), values="nan", return_indices=True,
                  note="NaN: the last NaN of a window wins"),
        frac_case(rng, (9, 8), 2, output_size=(5, 4), values="ints", return_indices=True,
                  note="ties: the first maximum wins"),
        refused(frac_case(rng, (9, 8), 3, output_size=(8, 4), note="pool too large for the input"),
                "output + kernel − 1 must not exceed the input"),
        refused(frac_case(rng, (9, 8), 2, note="neither output_size nor output_ratio"),
                "one of them is required"),
    ]
    return out


def _with_samples(name: str, transform):
    """(answer, when) of a bug that misreads ``_random_samples`` as ``transform`` does."""
    def changed(case: Case):
        samples = case.kwargs.get("_random_samples")
        return None if samples is None else transform(samples)

    def when(case: Case) -> bool:
        new = changed(case)
        return new is not None and not np.array_equal(new, case.kwargs["_random_samples"])

    def answer(case: Case):
        return oracle.call_case(getattr(oracle.F(), name), case, _random_samples=changed(case))
    return answer, when


def _global_indices(case: Case):
    values, idx = torch_call("fractional_max_pool2d")(case)
    n, c, h, w = case.args[0].shape
    offset = (np.arange(n)[:, None] * c + np.arange(c)[None, :]) * h * w
    return values, idx + offset[:, :, None, None]


def _several_planes_with_indices(case: Case) -> bool:
    x = case.args[0]
    return bool(case.kwargs.get("return_indices")) and x.ndim == 4 and x.shape[0] * x.shape[1] > 1


def _ratio_not_square(case: Case) -> bool:
    ratio = case.kwargs.get("output_ratio")
    return ratio is not None and ratio[0] != ratio[1]


BUGS_2D = [
    Bug("samples-swapped", "_random_samples[n, c, 0] places the COLUMNS (width) and [n, c, 1] "
        "the ROWS (height); you used them the other way round",
        *_with_samples("fractional_max_pool2d", lambda s: s[..., ::-1].copy())),
    Bug("first-image-samples-everywhere", "each image has its own samples: use "
        "_random_samples[n, c] for image n, channel c",
        *_with_samples("fractional_max_pool2d",
                       lambda s: np.broadcast_to(s[:1], s.shape).copy())),
    Bug("indices-over-whole-tensor", "return_indices gives flat indices within each H×W plane "
        "(row * W + col), not into the whole (N, C, H, W) tensor", _global_indices,
        when=_several_planes_with_indices),
    Bug("output-ratio-swapped", "output_ratio is (rows, columns): output size "
        "(int(H · ratio[0]), int(W · ratio[1]))",
        lambda case: oracle.call_case(oracle.F().fractional_max_pool2d, case,
                                      output_ratio=tuple(case.kwargs["output_ratio"][::-1])),
        when=_ratio_not_square),
    nan_ignored("fractional_max_pool2d"),
]


register(Exercise(
    name="fractional_max_pool2d", arg_names=FRAC_ARGS, visible=_visible_2d, hidden=_hidden_2d,
    reference=torch_call("fractional_max_pool2d"), bugs=BUGS_2D))


# fractional_max_pool3d -------------------------------------------------------------------
def frac3_case(rng: np.random.Generator, size: tuple, kernel, *, n: int = 2, c: int = 2,
               batched: bool = True, values: str = "normal", note: str = "", **kwargs) -> Case:
    """A fractional_max_pool3d call on an (N, C, T, H, W) input, or (C, T, H, W) unbatched."""
    shape = ((n,) if batched else ()) + (c,) + tuple(size)
    x = rng.standard_normal(shape)
    if values == "nan":
        x[rng.random(shape) < 0.1] = np.nan
    elif values == "ints":
        x = np.round(x)
    kwargs["_random_samples"] = rng.uniform(0, 1, ((n if batched else 1), c, 3))
    return Case((x, kernel), kwargs, note=note)


def _visible_3d(rng):
    return [
        frac3_case(rng, (7, 7, 7), 2, n=1, c=1, output_size=(4, 4, 4),
                   note="7 → 4 with 2×2×2 windows"),
        frac3_case(rng, (6, 8, 5), (2, 3, 1), output_size=(3, 4, 4), return_indices=True,
                   note="every axis its own size, indices"),
    ]


def _hidden_3d(rng):
    out = []
    for ri, batched in itertools.product((False, True), (True, False)):
        size = tuple(int(v) for v in rng.integers(4, 8, size=3))
        kernel = tuple(int(min(k, s))
                       for k, s in zip(rng.integers(1, 4, size=3), size, strict=True))
        # torch's 3-D form wants output + kernel - 1 < input (the 2-D form allows =).
        outs = tuple(int(rng.integers(1, max(s - k + 1, 2)))
                     for s, k in zip(size, kernel, strict=True))
        out.append(frac3_case(rng, size, kernel, n=int(rng.integers(1, 3)),
                              c=int(rng.integers(1, 3)),
                              batched=batched, output_size=outs, return_indices=ri,
                              note=f"output_size, return_indices={ri}, batched={batched}"))
    out += [
        frac3_case(rng, (6, 6, 6), 2, output_ratio=(0.5, 0.5, 0.5), return_indices=True,
                   note="output_ratio"),
        frac3_case(rng, (5, 6, 7), 2, output_size=(1, 1, 1), return_indices=True,
                   note="output 1×1×1: the one window sits at the end"),
        frac3_case(rng, (6, 5, 4), 2, output_size=(3, 3, 2), values="nan", return_indices=True,
                   note="NaN: the last NaN of a window wins"),
        frac3_case(rng, (6, 5, 4), 2, output_size=(3, 3, 2), values="ints", return_indices=True,
                   note="ties: the first maximum wins"),
        Case((np.zeros((0, 1, 4, 5, 4)), (2, 2, 1)),
             {"output_size": (2, 3, 2), "_random_samples": np.zeros((0, 1, 3))},
             note="an empty batch: an empty answer"),
        refused(frac3_case(rng, (5, 5, 5), 3, output_size=(3, 3, 3),
                           note="output + kernel − 1 = input: fits in 2-D, not in 3-D"),
                "in 3-D, output + kernel − 1 must be smaller than the input"),
    ]
    return out


BUGS_3D = [
    Bug("samples-in-2d-order", "in 3-D, _random_samples[n, c] is (T, H, W): [0] places the depth "
        "and [2] the width (2-D's order, width first, is reversed)",
        *_with_samples("fractional_max_pool3d", lambda s: s[..., ::-1].copy())),
    nan_ignored("fractional_max_pool3d"),
]


register(Exercise(
    name="fractional_max_pool3d", arg_names=FRAC_ARGS, visible=_visible_3d, hidden=_hidden_3d,
    reference=torch_call("fractional_max_pool3d"), bugs=BUGS_3D))
