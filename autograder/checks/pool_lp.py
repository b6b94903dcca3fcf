"""Chapter 05c — power-average pooling: lp_pool1d/2d/3d (the fractional max pooling of the
same notebook: ``fractional.py``).

The seeded grids of norm types (1, 2, 3, 1.5, 4, ±inf) and strides, the edge cases
(negative inputs, ceil_mode's partial window), the configurations torch refuses, and the
known bugs with the hint each one earns. Expected values and wrong answers are computed
with torch.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from .. import oracle
from ..exercise import Bug, Case, Exercise, refused, register
from . import _pooling as pooling
from ._shapes import expand, window_out_size

LP_ARGS = ("input", "norm_type", "kernel_size", "stride", "ceil_mode")


def lp_case(rng: np.random.Generator, d: int, size: tuple, norm_type: float, kernel, *,
            n: int = 2, c: int = 2, batched: bool = True, values: str = "positive",
            note: str = "", **kwargs) -> Case:
    """An lp_pool{d}d call on an (N, C, *size) input, or (C, *size) unbatched."""
    shape = ((n,) if batched else ()) + (c,) + tuple(size)
    return Case((pooling.pool_input(rng, shape, values), norm_type, kernel), kwargs,
                note=note or f"norm_type={norm_type}")


def _visible(d: int):
    def cases(rng):
        return [
            lp_case(rng, d, (4, 6, 5)[:d], 2, 2, note="p = 2, stride defaults to kernel_size"),
            lp_case(rng, d, (5, 5, 4)[:d], 1, 3, stride=1, note="p = 1: sum pooling"),
            lp_case(rng, d, (6, 5, 4)[:d], 3, 2, stride=1, values="normal",
                    note="p = 3 with negative inputs (NaN where the sum is negative)"),
            lp_case(rng, d, (5, 6, 4)[:d], float("inf"), 2, values="normal",
                    note="p = inf: max pooling of |x|"),
        ]
    return cases


def _kernel_as_large(case: Case, d: int) -> Case:
    """In 3-D the case's input is (C, T, H, W) = (2, 2, 4, 5): T is smaller than the kernel's
    4, which torch refuses."""
    if d < 3:
        return case
    case.note = "a (C, T, H, W) input with T smaller than the kernel"
    return refused(case, "every input size must be at least the kernel's")


def _hidden(d: int):
    def cases(rng):
        out = []
        strides = (None, 1, 2, 3) if d == 1 else (None, 1, 2, (2, 1, 1)[:d], (1, 3, 2)[:d])
        for norm, ceil_mode in itertools.product(
                (1, 2, 3, 1.5, 4.0, float("inf"), -float("inf")), (False, True)):
            size = pooling.random_sizes(rng, d, 3, 9 if d < 3 else 6)
            kernel = int(rng.integers(1, 4)) if d == 1 else (
                pooling.random_sizes(rng, d, 1, 4) if rng.random() < 0.5
                else int(rng.integers(1, 4)))
            kwargs = {"ceil_mode": ceil_mode}
            stride = strides[int(rng.integers(0, len(strides)))]
            if stride is not None:
                kwargs["stride"] = stride
            values = "normal" if norm in (2, 4.0, float("inf"), -float("inf")) else "positive"
            out.append(lp_case(rng, d, size, norm, kernel, n=int(rng.integers(1, 3)),
                               c=int(rng.integers(1, 4)), batched=bool(rng.integers(0, 4)),
                               values=values,
                               note=f"norm_type={norm}, stride={stride}, ceil_mode={ceil_mode}",
                               **kwargs))
        out += [
            lp_case(rng, d, (7, 7, 5)[:d], 2, 3, stride=2, ceil_mode=True,
                    note="ceil_mode: a last partial window (its average times the kernel size)"),
            lp_case(rng, d, (7, 7, 5)[:d], 3, 2, stride=1, values="normal",
                    note="p = 3 with negative inputs"),
            _kernel_as_large(lp_case(rng, d, (4, 5)[:d], 2, (4, 5, 3)[:d] if d > 1 else 4,
                                     note="kernel as large as the input"), d),
            lp_case(rng, d, (1, 1, 1)[:d], 2, 1, n=1, c=1, note="size-1 everything"),
            refused(lp_case(rng, d, (3, 3, 3)[:d], 2, 4, note="kernel larger than the input"),
                    "the output would be empty"),
        ]
        return out
    return cases


def _finite(case: Case) -> bool:
    return math.isfinite(case.args[1])


def _negative(case: Case) -> bool:
    return not (case.args[0] >= 0).all()


def _bugs(name: str, d: int) -> list[Bug]:
    """The known bugs of ``name`` (torch's lp_pool{d}d), tried in this order."""
    avg_pool = {1: "avg_pool1d", 2: "avg_pool2d", 3: "avg_pool3d"}[d]
    max_pool = {1: "max_pool1d", 2: "max_pool2d", 3: "max_pool3d"}[d]

    def power_mean(case: Case):
        x, p, kernel = case.args
        with np.errstate(all="ignore"):
            avg = oracle.call(getattr(oracle.F(), avg_pool), x ** p, kernel,
                              case.kwargs.get("stride"), 0, case.kwargs.get("ceil_mode", False))
            return avg ** (1.0 / p)

    def window(case: Case) -> tuple:
        """(sizes, kernel, stride) of the case, as d-tuples."""
        x, _, kernel = case.args
        k = expand(kernel, d)
        s = case.kwargs.get("stride")
        return x.shape[-d:], k, k if s is None else expand(s, d)

    def partial_window(case: Case) -> bool:
        if not _finite(case) or not case.kwargs.get("ceil_mode"):
            return False
        sizes, k, s = window(case)
        outs = [window_out_size(n, kk, ss, 0, 1, True)
                for n, kk, ss in zip(sizes, k, s, strict=True)]
        return not all((o - 1) * ss + kk <= n
                       for o, ss, kk, n in zip(outs, s, k, sizes, strict=True))

    def partial_window_summed(case: Case):
        """The last partial ceil_mode window summed instead of averaged times the kernel."""
        x, p, _ = case.args
        _, k, s = window(case)
        with np.errstate(all="ignore"):
            xp = x ** p
            if d == 1:
                total = oracle.call(oracle.F().avg_pool2d, xp[..., None, :], (1, k[0]), (1, s[0]),
                                    ceil_mode=True, divisor_override=1)[..., 0, :]
            else:
                total = oracle.call(getattr(oracle.F(), avg_pool), xp, k, s, ceil_mode=True,
                                    divisor_override=1)
            return total ** (1.0 / p)

    def inf_without_abs(case: Case):
        x, p, kernel = case.args
        fn = getattr(oracle.F(), max_pool)
        kwargs = {"stride": case.kwargs.get("stride"),
                  "ceil_mode": case.kwargs.get("ceil_mode", False)}
        if p > 0:
            return oracle.call(fn, x, kernel, **kwargs)
        return -oracle.call(fn, -x, kernel, **kwargs)

    return [
        pooling.stride_defaults_to_one(name),
        Bug("mean-instead-of-sum", "lp_pool is (sum of x^p)^(1/p): torch multiplies the "
            "average of x^p by the kernel size; you took the power mean", power_mean,
            when=_finite),
        Bug("abs-before-power", "torch raises x itself to the power p (negative x can give "
            "NaN), not |x|",
            lambda case: oracle.call(getattr(oracle.F(), name), np.abs(case.args[0]),
                                     *case.args[1:], **case.kwargs),
            when=lambda case: _finite(case) and _negative(case)),
        Bug("partial-window-summed", "with ceil_mode torch's last partial window is its "
            "AVERAGE of x^p times the full kernel size, not its sum", partial_window_summed,
            when=partial_window),
        Bug("inf-norm-without-abs", "norm_type=inf is max pooling of |x| (and -inf is "
            "−max_pool(−|x|)): take the absolute value first", inf_without_abs,
            when=lambda case: not _finite(case) and _negative(case)),
    ]


for _name, _d in {"lp_pool1d": 1, "lp_pool2d": 2, "lp_pool3d": 3}.items():
    register(Exercise(
        name=_name, arg_names=LP_ARGS, visible=_visible(_d), hidden=_hidden(_d),
        reference=pooling.torch_call(_name), bugs=_bugs(_name, _d),
        diagnose=pooling.diagnose_output_size))
