"""Chapter 11 — local response normalization: local_response_norm and its loop version.

The seeded grids of valid parameters, the edge cases, the configurations torch refuses,
and the known-wrong variants with the hint each one earns. Expected values and variants
are computed with torch in float64.
"""
from __future__ import annotations

import itertools

import numpy as np

from .. import oracle
from ..compare import Hint
from ..exercise import Bug, Case, Exercise, refused, register

LRN_ARGS = ("input", "size", "alpha", "beta", "k")


def lrn_case(rng, shape, size, *, alpha=None, beta=None, k=None, scale=1.0, note=""):
    x = scale * rng.standard_normal(shape)
    kwargs = {name: value for name, value in (("alpha", alpha), ("beta", beta), ("k", k))
              if value is not None}
    return Case((x, size), kwargs, note=note or f"{len(shape)}-D input, size={size}")


def _visible(rng):
    return [
        lrn_case(rng, (1, 5, 3), 3, alpha=1.0, note="(N, C, L), odd window, alpha 1"),
        lrn_case(rng, (2, 6, 2, 3), 2, alpha=0.5, beta=1.0, k=2.0,
                 note="(N, C, H, W), even window: one channel before, none after"),
        lrn_case(rng, (1, 4, 2, 2), 5, scale=30.0,
                 note="AlexNet's size 5 with torch's defaults, window wider than C"),
    ]


def _hidden(rng):
    out = []
    for ndim, size in itertools.product((3, 4, 5), (1, 2, 3, 4, 5, 8)):
        spatial = tuple(int(v) for v in rng.integers(1, 4, size=ndim - 2))
        shape = (int(rng.integers(1, 3)), int(rng.integers(1, 8))) + spatial
        alpha = [None, 0.1, 1.0, 3.0][int(rng.integers(0, 4))]
        beta = [None, 0.5, 1.0, 2.0][int(rng.integers(0, 4))]
        k = [None, 0.5, 2.0][int(rng.integers(0, 3))]
        out.append(lrn_case(rng, shape, size, alpha=alpha, beta=beta, k=k,
                            scale=30.0 if alpha is None else float(rng.uniform(0.5, 3)),
                            note=f"{ndim}-D input, C={shape[1]}, size={size}"))
    out += [
        lrn_case(rng, (2, 7, 3), 4, alpha=2.0, note="even size: size//2 channels before c, "
                 "(size - 1)//2 after"),
        lrn_case(rng, (1, 3, 2, 2), 9, alpha=1.5, note="window much wider than C: the sum is "
                 "still divided by size"),
        lrn_case(rng, (2, 1, 4, 4), 3, alpha=1.0, note="one channel"),
        lrn_case(rng, (1, 4, 2, 1, 2, 2), 3, alpha=1.0, note="a 6-D input (torch accepts it)"),
        lrn_case(rng, (2, 5, 3), 3, alpha=1.0, beta=0.0, note="beta = 0: the input unchanged"),
        lrn_case(rng, (2, 5, 3), 3, alpha=1.0, k=0.0, beta=0.5, note="k = 0"),
        refused(lrn_case(rng, (3, 4), 3, note="a 2-D input"),
                "it needs (N, C, ...) with at least 3 dims"),
        refused(lrn_case(rng, (2, 4, 3), 0, note="size 0"), "the window size must be at least 1"),
    ]
    return out


def _reference(case):
    return oracle.call(oracle.F().local_response_norm, *case.args, **case.kwargs)


def _window_sum(values, before, after, axis=1):
    """Sum of `values` over the window [c - before, c + after] along `axis`, zeros outside."""
    moved = values.movedim(axis, -1)
    padded = oracle.F().pad(moved, (before, after))
    sums = padded.unfold(-1, before + after + 1, 1).sum(-1)
    return sums.movedim(-1, axis)


def _lrn(case, before=None, after=None, divisor="size", axis=1, square=True, power=True):
    t = oracle.torch()
    x = t.from_numpy(case.args[0])
    size = case.args[1]
    alpha = case.kwargs.get("alpha", 1e-4)
    beta = case.kwargs.get("beta", 0.75)
    k = case.kwargs.get("k", 1.0)
    if x.ndim < 3 or size < 1:
        return None
    before = size // 2 if before is None else before
    after = (size - 1) // 2 if after is None else after
    sums = _window_sum(x * x if square else x, before, after, axis)
    if divisor == "size":
        mean = sums / size
    elif divisor == "count":
        mean = sums / _window_sum(t.ones_like(x), before, after, axis)
    else:
        mean = sums
    base = k + alpha * mean
    return (x / (base ** beta if power else base)).numpy()


def _even(case):
    return case.args[1] % 2 == 0


def _wider_than_one(case):
    return case.args[1] > 1


BUGS = [
    Bug("divided-by-window-count",
        "torch divides the sum of squares by `size` everywhere, even at the edges where the "
        "window holds fewer real channels (the padding counts as zeros)",
        lambda case: _lrn(case, divisor="count"), when=_wider_than_one),
    Bug("even-window-centred-the-other-way",
        "for an even size torch puts size // 2 channels BEFORE c and (size - 1) // 2 after "
        "it; you did the opposite",
        lambda case: _lrn(case, before=(case.args[1] - 1) // 2, after=case.args[1] // 2),
        when=_even),
    Bug("window-of-size-plus-one",
        "for an even size the window holds exactly `size` channels: size // 2 before c and "
        "(size - 1) // 2 after, not size // 2 on each side",
        lambda case: _lrn(case, before=case.args[1] // 2, after=case.args[1] // 2), when=_even),
    Bug("sum-instead-of-mean",
        "alpha multiplies the MEAN of the squares over the window: divide the sum by size",
        lambda case: _lrn(case, divisor=None), when=_wider_than_one),
    Bug("window-along-the-last-axis",
        "the window runs across CHANNELS (axis 1), not along the last axis",
        lambda case: _lrn(case, axis=case.args[0].ndim - 1),
        when=lambda case: case.args[0].shape[-1] > 1),
    Bug("beta-ignored", "raise (k + alpha * mean) to the power beta before dividing",
        lambda case: _lrn(case, power=False),
        when=lambda case: case.kwargs.get("beta", 0.75) != 1.0),
    Bug("values-not-squared", "the window sums the SQUARES of the inputs",
        lambda case: _lrn(case, square=False)),
]


SHAPE_CHANGED = Hint("shape-changed", "local response normalization keeps the input's shape")


def _diagnose(case, got, expected):
    if getattr(got, "shape", None) is not None and got.shape != np.shape(expected):
        return SHAPE_CHANGED
    return None


register(Exercise(
    name="local_response_norm", arg_names=LRN_ARGS, visible=_visible, hidden=_hidden,
    reference=_reference, bugs=BUGS, diagnose=_diagnose,
))


def _loop_hidden(rng):
    return [c for c in _hidden(rng) if c.args[0].size <= 200]


register(Exercise(
    name="local_response_norm_loop", arg_names=LRN_ARGS, visible=_visible,
    hidden=_loop_hidden, reference=_reference, bugs=BUGS, diagnose=_diagnose,
))
