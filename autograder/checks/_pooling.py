"""What the pooling families share (``pool_max``, ``pool_avg``, ``pool_lp``, ``fractional``,
``adaptive``): random inputs, a window's geometry, pooling an explicitly padded input, and
the known bugs that several of them declare, each with its one id and one wording.

Not a family: it registers no exercise.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import compare, oracle
from ..exercise import Bug, Case
from ._shapes import expand, window_out_size


def torch_call(name: str) -> Callable[[Case], object]:
    """The reference: torch's ``F.<name>`` on the case's arguments."""
    def reference(case: Case):
        return oracle.call(getattr(oracle.F(), name), *case.args, **case.kwargs)
    return reference


def pool_input(rng: np.random.Generator, shape: tuple, values: str = "normal") -> np.ndarray:
    """A random input of ``shape``: standard normal, or with ties ("ints"), some NaN ("nan"),
    many -inf ("-inf"), or positive only ("positive")."""
    x = rng.standard_normal(shape)
    if values == "ints":  # ties: several equal maxima in a window
        x = rng.integers(-2, 3, size=shape).astype(np.float64)
    elif values == "nan":
        x[rng.random(shape) < 0.2] = np.nan
    elif values == "-inf":
        x[rng.random(shape) < 0.5] = -np.inf
    elif values == "positive":
        x = rng.uniform(0.1, 2.0, shape)
    return x


def random_sizes(rng: np.random.Generator, d: int, low: int, high: int) -> tuple:
    """``d`` sizes drawn from [low, high)."""
    return tuple(int(v) for v in rng.integers(low, high, size=d))


def pool_case(rng: np.random.Generator, d: int, size: tuple, kernel, *, n: int = 2, c: int = 2,
              batched: bool = True, values: str = "normal", note: str = "", **kwargs) -> Case:
    """A max or average pooling call on an (N, C, *size) input, or (C, *size) unbatched."""
    shape = ((n,) if batched else ()) + (c,) + tuple(size)
    return Case((pool_input(rng, shape, values), kernel), kwargs, note=note)


def geometry(case: Case, d: int) -> tuple:
    """(sizes, kernel, stride, padding, dilation) of a pooling case, as d-tuples."""
    x, kernel = case.args[:2]
    kw = case.kwargs
    k = expand(kernel, d)
    s = kw.get("stride")
    s = k if s is None else expand(s, d)
    return x.shape[-d:], k, s, expand(kw.get("padding", 0), d), expand(kw.get("dilation", 1), d)


def pad_spec(pairs) -> tuple:
    """[(left, right) per spatial axis, first axis first] -> torch's F.pad list."""
    return tuple(v for pair in reversed(pairs) for v in pair)


def shift_indices(idx: np.ndarray, from_shape: tuple, to_shape: tuple, offset) -> np.ndarray:
    """Flat indices in a plane of ``from_shape`` -> in ``to_shape``, coordinates + offset."""
    coords = np.unravel_index(idx, from_shape)
    flat = np.zeros_like(coords[0])
    for c, o, n in zip(coords, offset, to_shape, strict=True):
        flat = flat * n + (c + o)
    return flat.astype(np.int64)


def explicitly_padded(name: str, case: Case, d: int, outs, fill: float):
    """torch's ``F.<name>`` on the input padded with ``fill`` so that ``outs`` windows fit,
    then pooled with padding 0 and ceil_mode off (indices mapped back to the input plane)."""
    x, kernel = case.args
    sizes, k, s, p, dl = geometry(case, d)
    pairs = [(pp, max(pp, (o - 1) * ss + dd * (kk - 1) + 1 - pp - n))
             for n, kk, ss, pp, dd, o in zip(sizes, k, s, p, dl, outs, strict=True)]
    t = oracle.torch()
    padded = oracle.F().pad(t.from_numpy(x), pad_spec(pairs), value=fill).numpy()
    kwargs = dict(case.kwargs, padding=0, ceil_mode=False, stride=s)
    result = oracle.call(getattr(oracle.F(), name), padded, kernel, **kwargs)
    if case.kwargs.get("return_indices"):
        values, idx = result
        return values, shift_indices(idx, padded.shape[-d:], sizes, [-a for a, _ in pairs])
    return result


def ceil_windows_kept(case: Case, d: int) -> list:
    """Output sizes with ceil_mode but without torch's rule that drops a last window
    starting in the right padding."""
    sizes, k, s, p, dl = geometry(case, d)
    return [-(-(n + 2 * pp - dd * (kk - 1) - 1) // ss) + 1
            for n, kk, ss, pp, dd in zip(sizes, k, s, p, dl, strict=True)]


def ceil_out_sizes(case: Case, d: int) -> list:
    """torch's output sizes of a ceil_mode pooling case."""
    sizes, k, s, p, dl = geometry(case, d)
    return [window_out_size(n, kk, ss, pp, dd, True)
            for n, kk, ss, pp, dd in zip(sizes, k, s, p, dl, strict=True)]


# Known bugs several pooling exercises declare -------------------------------------------
def _no_stride(case: Case) -> bool:
    return case.kwargs.get("stride") is None


def _ceil_mode(case: Case) -> bool:
    return bool(case.kwargs.get("ceil_mode"))


def _has_nan(case: Case) -> bool:
    return bool(np.isnan(case.args[0]).any())


def stride_defaults_to_one(name: str) -> Bug:
    """stride=None read as 1 instead of kernel_size (``name``: torch's pooling function)."""
    return Bug("stride-defaults-to-1", "stride=None means stride = kernel_size "
               "(non-overlapping windows), not 1",
               lambda case: oracle.call_case(getattr(oracle.F(), name), case, stride=1),
               when=_no_stride)


def ceil_mode_ignored(name: str) -> Bug:
    """ceil_mode=True treated as False."""
    return Bug("ceil-mode-ignored", "ceil_mode=True rounds the output size up (a last, "
               "partial window is kept)",
               lambda case: oracle.call_case(getattr(oracle.F(), name), case, ceil_mode=False),
               when=_ceil_mode)


def ceil_mode_keeps_window_in_right_padding(name: str, d: int, fill: float) -> Bug:
    """ceil_mode without torch's rule: a last window that starts in the right padding is
    kept (the input is padded with ``fill``)."""
    def when(case: Case) -> bool:
        return (_ceil_mode(case) and case.kwargs.get("divisor_override") is None
                and case.kwargs.get("count_include_pad", True)
                and ceil_windows_kept(case, d) != ceil_out_sizes(case, d))

    return Bug("ceil-mode-keeps-window-in-right-padding", "with ceil_mode torch drops a last "
               "window that would start in the right padding: it must start inside the input "
               "or the left padding",
               lambda case: explicitly_padded(name, case, d, ceil_windows_kept(case, d), fill),
               when=when)


NAN_IGNORED = ("max pooling propagates NaN: a window that contains NaN gives NaN (torch takes "
               "a value when `value > best or isnan(value)`)")


def nan_ignored(name: str) -> Bug:
    """NaN skipped by max pooling (``name``: torch's function, NaN read as -inf)."""
    def answer(case: Case):
        x = case.args[0]
        return oracle.call(getattr(oracle.F(), name), np.where(np.isnan(x), -np.inf, x),
                           *case.args[1:], **case.kwargs)

    return Bug("nan-ignored", NAN_IGNORED, answer, when=_has_nan)


WRONG_OUTPUT_SIZE = compare.Hint(
    "wrong-output-size", "check the output size: floor((H + 2·padding − dilation·(kernel − 1) "
    "− 1) / stride) + 1 per axis, stride defaults to kernel_size; ceil_mode rounds up, but the "
    "last window must start inside the input or the left padding")


def diagnose_output_size(case: Case, got, expected) -> compare.Hint | None:
    """A wrong spatial output size (the rank right) in a sliding-window pooling."""
    got0 = got[0] if isinstance(got, (tuple, list)) and len(got) else got
    exp0 = expected[0] if isinstance(expected, tuple) else expected
    got_shape, exp_shape = getattr(got0, "shape", None), np.asarray(exp0).shape
    if got_shape is None or len(got_shape) != len(exp_shape) or got_shape == exp_shape:
        return None
    return WRONG_OUTPUT_SIZE

