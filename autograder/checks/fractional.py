"""Chapter 05c — fractional_max_pool3d (its 2-D form is graded in ``pool.py``).

The windows are placed by ``_random_samples``, given in every case so that torch's answer
is fixed: ``[n, c, 0]`` places the depth (T), ``[1]`` the height, ``[2]`` the width.
"""
from __future__ import annotations

import itertools

import numpy as np

from .. import oracle
from ..exercise import Case, Exercise, Variant, register

FRAC3_ARGS = ("input", "kernel_size", "output_size", "output_ratio", "return_indices",
              "_random_samples")


def frac3_case(rng, size, kernel, *, n=2, c=2, batched=True, values="normal", note="", **kwargs):
    shape = ((n,) if batched else ()) + (c,) + tuple(size)
    x = rng.standard_normal(shape)
    if values == "nan":
        x[rng.random(shape) < 0.1] = np.nan
    elif values == "ints":
        x = np.round(x)
    kwargs["_random_samples"] = rng.uniform(0, 1, ((n if batched else 1), c, 3))
    return Case((x, kernel), kwargs, note=note)


def _visible(rng):
    return [
        frac3_case(rng, (7, 7, 7), 2, n=1, c=1, output_size=(4, 4, 4), note="7 → 4 with 2×2×2 windows"),
        frac3_case(rng, (6, 8, 5), (2, 3, 1), output_size=(3, 4, 4), return_indices=True,
                   note="every axis its own size, indices"),
    ]


def _hidden(rng):
    out = []
    for ri, batched in itertools.product((False, True), (True, False)):
        size = tuple(int(v) for v in rng.integers(4, 8, size=3))
        kernel = tuple(int(min(k, s)) for k, s in zip(rng.integers(1, 4, size=3), size))
        # torch's 3-D form wants output + kernel - 1 < input (the 2-D form allows =).
        outs = tuple(int(rng.integers(1, max(s - k + 1, 2))) for s, k in zip(size, kernel))
        out.append(frac3_case(rng, size, kernel, n=int(rng.integers(1, 3)), c=int(rng.integers(1, 3)),
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
        frac3_case(rng, (5, 5, 5), 3, output_size=(3, 3, 3),
                   note="output + kernel − 1 = input: fits in 2-D, not in 3-D (torch refuses)"),
    ]
    return out


def _reference(case):
    return oracle.call(oracle.F().fractional_max_pool3d, *case.args, **case.kwargs)


def _variants():
    F = lambda: oracle.F().fractional_max_pool3d  # noqa: E731

    def samples_reversed(case):
        s = case.kwargs["_random_samples"]
        new = s[..., ::-1].copy()
        if np.array_equal(new, s):
            return None
        return oracle.call(F(), *case.args, **dict(case.kwargs, _random_samples=new))

    def nan_ignored(case):
        x = case.args[0]
        if not np.isnan(x).any():
            return None
        return oracle.call(F(), np.where(np.isnan(x), -np.inf, x), *case.args[1:], **case.kwargs)

    return [
        Variant("samples in 2-D order", "in 3-D, _random_samples[n, c] is (T, H, W): [0] places "
                "the depth and [2] the width (2-D's order, width first, is reversed)",
                samples_reversed),
        Variant("NaN ignored", "max pooling propagates NaN: a window that contains NaN gives NaN",
                nan_ignored),
    ]


register(Exercise(
    name="fractional_max_pool3d", arg_names=FRAC3_ARGS, visible=_visible, hidden=_hidden,
    reference=_reference, bugs=_variants()))
