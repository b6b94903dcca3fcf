"""Chapter 05 — pooling: max / avg pool 1d/2d/3d, max_pool2d_loop, lp_pool1d/2d/3d and
fractional_max_pool2d (fractional_max_pool3d: ``fractional.py``).

Everything about grading these exercises is here: the seeded grids of valid parameters,
the edge cases (ceil_mode's last window, padding = kernel // 2, NaN, -inf, ties), the
configurations torch refuses, and the known-wrong variants with the hint each one earns.
Expected values and variants are computed with torch (NumPy only rearranges torch's
indices where a variant needs it).
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from .. import oracle
from ..exercise import Case, Exercise, Variant, register

MAX_ARGS = ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices")
AVG1_ARGS = ("input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad")
AVG_ARGS = AVG1_ARGS + ("divisor_override",)
LP_ARGS = ("input", "norm_type", "kernel_size", "stride", "ceil_mode")
FRAC_ARGS = ("input", "kernel_size", "output_size", "output_ratio", "return_indices",
             "_random_samples")
NAMES = {"max": {1: "max_pool1d", 2: "max_pool2d", 3: "max_pool3d"},
         "avg": {1: "avg_pool1d", 2: "avg_pool2d", 3: "avg_pool3d"},
         "lp": {1: "lp_pool1d", 2: "lp_pool2d", 3: "lp_pool3d"}}


def _tuple(value, d):
    if isinstance(value, (tuple, list)):
        return tuple(value) * d if len(value) == 1 else tuple(value)
    return (value,) * d


def _fn(kind, d):
    return getattr(oracle.F(), NAMES[kind][d])


def _input(rng, shape, values="normal"):
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


def _sizes(rng, d, low, high):
    return tuple(int(v) for v in rng.integers(low, high, size=d))


def pool_case(rng, d, size, kernel, *, n=2, c=2, batched=True, values="normal", note="", **kwargs):
    shape = ((n,) if batched else ()) + (c,) + tuple(size)
    return Case((_input(rng, shape, values), kernel), kwargs, note=note)


def _geometry(case, d):
    """(sizes, kernel, stride, padding, dilation) as d-tuples, from a case."""
    x, kernel = case.args[:2]
    kw = case.kwargs
    k = _tuple(kernel, d)
    s = kw.get("stride")
    s = k if s is None else _tuple(s, d)
    return (x.shape[-d:], k, s, _tuple(kw.get("padding", 0), d), _tuple(kw.get("dilation", 1), d))


def out_size(n, k, s, p, dl=1, ceil_mode=False, drop=True):
    span = n + 2 * p - dl * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if drop and ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def _pad_spec(pairs):
    """[(left, right) per spatial axis, first axis first] -> torch's F.pad list."""
    return tuple(v for pair in reversed(pairs) for v in pair)


def _ravel(coords, shape):
    flat = np.zeros_like(coords[0])
    for c, n in zip(coords, shape):
        flat = flat * n + c
    return flat


def shift_indices(idx, from_shape, to_shape, offset):
    """Flat indices in a plane of `from_shape` -> in `to_shape`, coordinates + offset."""
    coords = np.unravel_index(idx, from_shape)
    return _ravel([c + o for c, o in zip(coords, offset)], to_shape).astype(np.int64)


def _visible_max(d):
    def cases(rng):
        return [
            pool_case(rng, d, (4, 4, 4)[:d], 2, n=1, c=1,
                      note="kernel 2: stride defaults to kernel_size"),
            pool_case(rng, d, (6, 5, 4)[:d], 3, stride=2, padding=1, return_indices=True,
                      note="stride 2, padding 1, indices"),
            pool_case(rng, d, (5, 5, 5)[:d], 2, stride=2, ceil_mode=True,
                      note="ceil_mode adds a last window inside the input"),
            pool_case(rng, d, (6, 5, 5)[:d], 2, stride=1, dilation=2, return_indices=True,
                      note="dilation 2"),
            pool_case(rng, d, (4, 4, 3)[:d], 2, values="nan", return_indices=True,
                      note="NaN in the input: max pooling propagates it"),
        ]
    return cases


def _hidden_max(d, small=False):
    def cases(rng):
        out = []
        low, high = (3, 8) if d < 3 and not small else (3, 6)
        for stride, ceil_mode, ri in itertools.product(
                (None, 1, 2, "tuple"), (False, True), (False, True)):
            size = _sizes(rng, d, low, high)
            kernel = _sizes(rng, d, 1, 4)
            k_arg = kernel if rng.random() < 0.5 or d == 1 else kernel[0]
            kernel = _tuple(k_arg, d)
            st = _sizes(rng, d, 1, 4) if stride == "tuple" else stride
            padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
            dilation = _sizes(rng, d, 1, 3)
            kwargs = {"ceil_mode": ceil_mode, "return_indices": ri}
            if st is not None:
                kwargs["stride"] = st
            if any(padding):
                kwargs["padding"] = padding
            if any(v > 1 for v in dilation):
                kwargs["dilation"] = dilation
            if any(out_size(n, k, s, p, dl, ceil_mode) < 1 for n, k, s, p, dl in zip(
                    size, kernel, _tuple(st if st is not None else kernel, d), padding, dilation)):
                kwargs.pop("dilation", None)
            out.append(pool_case(rng, d, size, k_arg, n=int(rng.integers(1, 3)),
                                 c=int(rng.integers(1, 4)), batched=bool(rng.integers(0, 4)),
                                 note=f"stride={st}, ceil_mode={ceil_mode}, return_indices={ri}",
                                 **kwargs))
        sq = (7, 6, 5)[:d]
        out += [
            pool_case(rng, d, (4, 5, 3)[:d], (4, 5, 3)[:d], return_indices=True,
                      note="kernel as large as the input"),
            pool_case(rng, d, (1, 1, 1)[:d], 1, n=1, c=1, return_indices=True,
                      note="size-1 everything"),
            pool_case(rng, d, (5, 5, 5)[:d], 2, stride=2, padding=1, ceil_mode=True,
                      return_indices=True,
                      note="ceil_mode: the extra window would start in the right padding (dropped)"),
            pool_case(rng, d, (6, 7, 5)[:d], 3, stride=2, padding=1, ceil_mode=True,
                      return_indices=True, note="ceil_mode with padding: a window is added"),
            pool_case(rng, d, sq, 4, stride=1, padding=2, return_indices=True,
                      note="padding = kernel_size // 2"),
            pool_case(rng, d, sq, 3, stride=2, padding=1, dilation=2, return_indices=True,
                      note="dilation with padding"),
            pool_case(rng, d, sq, 3, stride=1, padding=1, values="nan", return_indices=True,
                      note="NaN: the last NaN of a window wins"),
            pool_case(rng, d, (3, 3, 2)[:d], 3, stride=1, padding=1, n=1, c=1, values="nan",
                      note="NaN without return_indices"),
            pool_case(rng, d, sq, 2, stride=1, padding=1, values="-inf", return_indices=True,
                      note="-inf inputs: padding never wins, the first tap inside the input does"),
            pool_case(rng, d, sq, 3, stride=2, values="ints", return_indices=True,
                      note="ties: the first maximum wins"),
            pool_case(rng, d, (9, 5, 6)[:d], (3, 2, 1)[:d], stride=(1, 2, 3)[:d],
                      padding=(1, 1, 0)[:d], dilation=(1, 2, 3)[:d], return_indices=True,
                      batched=False, note="unbatched, non-square everything"),
            pool_case(rng, d, (3, 5, 4)[:d], 4, stride=1, padding=2, return_indices=True,
                      note="input smaller than the kernel, the padding makes room"),
            pool_case(rng, d, sq, 3, padding=2, note="padding > kernel_size // 2 (torch refuses)"),
            pool_case(rng, d, (3, 3, 3)[:d], 4, note="kernel larger than the input (torch refuses)"),
            pool_case(rng, d, sq, 2, stride=0, note="stride 0 (torch refuses)"),
        ]
        return out
    return cases


def _reference(kind, d):
    def reference(case):
        return oracle.call(_fn(kind, d), *case.args, **case.kwargs)
    return reference


# Known-wrong max pooling, computed with torch --------------------------------------------
def _ceil_keep_all(kind, d):
    """ceil_mode without torch's rule: a window that starts in the right padding is kept."""
    def compute(case):
        if not case.kwargs.get("ceil_mode") or case.kwargs.get("divisor_override") is not None:
            return None
        if kind == "avg" and not case.kwargs.get("count_include_pad", True):
            return None
        sizes, k, s, p, dl = _geometry(case, d)
        kept = [out_size(n, kk, ss, pp, dd, True, drop=False) for n, kk, ss, pp, dd in zip(sizes, k, s, p, dl)]
        torch_out = [out_size(n, kk, ss, pp, dd, True) for n, kk, ss, pp, dd in zip(sizes, k, s, p, dl)]
        if kept == torch_out:
            return None
        return _explicit_padding(kind, d, case, kept)
    return compute


def _explicit_padding(kind, d, case, outs):
    """Pad explicitly so that `outs` windows fit, then pool with padding 0, ceil_mode off."""
    x, kernel = case.args
    sizes, k, s, p, dl = _geometry(case, d)
    pairs = [(pp, max(pp, (o - 1) * ss + dd * (kk - 1) + 1 - pp - n))
             for n, kk, ss, pp, dd, o in zip(sizes, k, s, p, dl, outs)]
    t = oracle.torch()
    fill = -math.inf if kind == "max" else 0.0
    padded = oracle.F().pad(t.from_numpy(x), _pad_spec(pairs), value=fill).numpy()
    kwargs = dict(case.kwargs, padding=0, ceil_mode=False, stride=s)
    result = oracle.call(_fn(kind, d), padded, kernel, **kwargs)
    if kind == "max" and case.kwargs.get("return_indices"):
        values, idx = result
        padded_shape = padded.shape[-d:]
        return values, shift_indices(idx, padded_shape, sizes, [-a for a, _ in pairs])
    return result


def _max_variants(d):
    def stride_one(case):
        if case.kwargs.get("stride") is not None:
            return None
        return oracle.call(_fn("max", d), *case.args, **dict(case.kwargs, stride=1))

    def padded_plane(case):
        if not case.kwargs.get("return_indices"):
            return None
        sizes, k, s, p, dl = _geometry(case, d)
        if not any(p):
            return None
        values, idx = _reference("max", d)(case)
        padded = tuple(n + 2 * pp for n, pp in zip(sizes, p))
        return values, shift_indices(idx, sizes, padded, p)

    def nan_ignored(case):
        x = case.args[0]
        if not np.isnan(x).any():
            return None
        return oracle.call(_fn("max", d), np.where(np.isnan(x), -np.inf, x), *case.args[1:],
                           **case.kwargs)

    def dilation_ignored(case):
        if all(v == 1 for v in _tuple(case.kwargs.get("dilation", 1), d)):
            return None
        return oracle.call(_fn("max", d), *case.args, **dict(case.kwargs, dilation=1))

    def zero_padding(case):
        sizes, k, s, p, dl = _geometry(case, d)
        if not any(p) or case.kwargs.get("return_indices") or case.kwargs.get("ceil_mode"):
            return None
        x, kernel = case.args
        padded = oracle.call(oracle.F().pad, x, _pad_spec([(pp, pp) for pp in p]))
        return oracle.call(_fn("max", d), padded, kernel, **dict(case.kwargs, padding=0))

    def ceil_ignored(case):
        if not case.kwargs.get("ceil_mode"):
            return None
        return oracle.call(_fn("max", d), *case.args, **dict(case.kwargs, ceil_mode=False))

    return [
        Variant("stride defaults to 1", "stride=None means stride = kernel_size "
                "(non-overlapping windows), not 1", stride_one),
        Variant("ceil_mode keeps a window in the right padding", "with ceil_mode torch drops a "
                "last window that would start in the right padding: it must start inside the "
                "input or the left padding", _ceil_keep_all("max", d)),
        Variant("indices over the padded plane", "return_indices gives flat indices into the "
                "UNPADDED input plane (row * W + col of the input); yours count the padding",
                padded_plane),
        Variant("NaN ignored", "max pooling propagates NaN: a window that contains NaN gives "
                "NaN (torch takes a value when `value > best or isnan(value)`)", nan_ignored),
        Variant("dilation ignored", "dilation is ignored: the window's taps are `dilation` "
                "apart", dilation_ignored),
        Variant("zero padding", "max pooling pads with -inf, not 0: a padded position never "
                "wins", zero_padding),
        Variant("ceil_mode ignored", "ceil_mode=True rounds the output size up (a last, partial "
                "window is kept)", ceil_ignored),
    ]


def _diagnose(kind, d):
    def diagnose(case, got, expected):
        got0 = got[0] if isinstance(got, (tuple, list)) and len(got) else got
        exp0 = expected[0] if isinstance(expected, tuple) else expected
        got_shape, exp_shape = getattr(got0, "shape", None), np.asarray(exp0).shape
        if got_shape is None or len(got_shape) != len(exp_shape) or got_shape == exp_shape:
            return None
        return ("check the output size: floor((H + 2·padding − dilation·(kernel − 1) − 1) / "
                "stride) + 1 per axis, stride defaults to kernel_size; ceil_mode rounds up, but "
                "the last window must start inside the input or the left padding")
    return diagnose


for _d in (1, 2, 3):
    register(Exercise(
        name=NAMES["max"][_d], arg_names=MAX_ARGS, visible=_visible_max(_d),
        hidden=_hidden_max(_d), reference=_reference("max", _d), bugs=_max_variants(_d),
        diagnose=_diagnose("max", _d)))


def _loop_visible(rng):
    return _visible_max(2)(rng)


def _loop_hidden(rng):
    return [c for c in _hidden_max(2, small=True)(rng) if c.args[0].size <= 200]


register(Exercise(
    name="max_pool2d_loop", arg_names=MAX_ARGS, visible=_loop_visible, hidden=_loop_hidden,
    reference=_reference("max", 2), bugs=_max_variants(2), diagnose=_diagnose("max", 2),
    function="max_pool2d_loop"))


# avg_pool1d/2d/3d ------------------------------------------------------------------------
def _visible_avg(d):
    def cases(rng):
        out = [
            pool_case(rng, d, (4, 4, 4)[:d], 2, n=1, c=1,
                      note="kernel 2: stride defaults to kernel_size"),
            pool_case(rng, d, (6, 5, 4)[:d], 3, stride=2, padding=1,
                      note="padding 1, count_include_pad=True (the default)"),
            pool_case(rng, d, (6, 5, 4)[:d], 3, stride=2, padding=1, count_include_pad=False,
                      note="count_include_pad=False"),
            pool_case(rng, d, (6, 6, 5)[:d], 3, stride=2, padding=1, ceil_mode=True,
                      note="ceil_mode: the last window is divided up to the padding's end"),
        ]
        if d > 1:
            out.append(pool_case(rng, d, (4, 5, 4)[:d], 2, divisor_override=3,
                                 note="divisor_override=3"))
        return out
    return cases


def _hidden_avg(d):
    def cases(rng):
        out = []
        low, high = (3, 8) if d < 3 else (3, 6)
        dovs = (None, 1, 3, -2) if d > 1 else (None,)
        for stride, ceil_mode, cip in itertools.product((None, 1, 2, "tuple"), (False, True),
                                                        (True, False)):
            size = _sizes(rng, d, low, high)
            kernel = _sizes(rng, d, 1, 5)
            k_arg = kernel if rng.random() < 0.5 or d == 1 else kernel[0]
            kernel = _tuple(k_arg, d)
            st = _sizes(rng, d, 1, 4) if stride == "tuple" else stride
            padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
            kwargs = {"ceil_mode": ceil_mode, "count_include_pad": cip}
            if st is not None:
                kwargs["stride"] = st
            if any(padding):
                kwargs["padding"] = padding
            dov = dovs[int(rng.integers(0, len(dovs)))]
            if dov is not None:
                kwargs["divisor_override"] = dov
            out.append(pool_case(rng, d, size, k_arg, n=int(rng.integers(1, 3)),
                                 c=int(rng.integers(1, 4)), batched=bool(rng.integers(0, 4)),
                                 note=f"stride={st}, ceil_mode={ceil_mode}, count_include_pad={cip}",
                                 **kwargs))
        sq = (7, 6, 5)[:d]
        out += [
            pool_case(rng, d, (4, 5, 3)[:d], (4, 5, 3)[:d], note="kernel as large as the input"),
            pool_case(rng, d, (1, 1, 1)[:d], 1, n=1, c=1, note="size-1 everything"),
            pool_case(rng, d, (6, 6, 6)[:d], 3, stride=2, padding=1, ceil_mode=True,
                      note="ceil_mode: the last window runs past the right padding"),
            pool_case(rng, d, (6, 6, 6)[:d], 3, stride=2, padding=1, ceil_mode=True,
                      count_include_pad=False, note="ceil_mode, count_include_pad=False"),
            pool_case(rng, d, (5, 5, 5)[:d], 2, stride=2, padding=1, ceil_mode=True,
                      note="ceil_mode: the extra window would start in the right padding (dropped)"),
            pool_case(rng, d, sq, 4, stride=1, padding=2, count_include_pad=False,
                      note="padding = kernel_size // 2, count_include_pad=False"),
            pool_case(rng, d, (9, 5, 6)[:d], (3, 2, 1)[:d], stride=(1, 2, 3)[:d],
                      padding=(1, 1, 0)[:d], batched=False, note="unbatched, non-square everything"),
            pool_case(rng, d, sq, 3, values="nan", note="NaN in the input"),
            pool_case(rng, d, (3, 5, 5)[:d], 4, stride=1, padding=2,
                      note="input smaller than the kernel, the padding makes room"
                      + (" (torch refuses for avg_pool3d)" if d == 3 else "")),
            pool_case(rng, d, sq, 3, padding=2, note="padding > kernel_size // 2 (torch refuses)"),
            pool_case(rng, d, (3, 3, 3)[:d], 4, note="kernel larger than the input (torch refuses)"),
        ]
        if d > 1:
            out += [
                pool_case(rng, d, sq, 3, stride=2, padding=1, ceil_mode=True, divisor_override=2,
                          note="divisor_override with padding and ceil_mode"),
                pool_case(rng, d, sq, 2, divisor_override=0,
                          note="divisor_override=0 (torch refuses)"),
            ]
        return out
    return cases


def _avg_variants(d):
    def stride_one(case):
        if case.kwargs.get("stride") is not None:
            return None
        return oracle.call(_fn("avg", d), *case.args, **dict(case.kwargs, stride=1))

    def with_cip(value):
        def compute(case):
            sizes, k, s, p, dl = _geometry(case, d)
            if (not any(p) or case.kwargs.get("count_include_pad", True) == value
                    or case.kwargs.get("divisor_override") is not None):
                return None
            return oracle.call(_fn("avg", d), *case.args, **dict(case.kwargs, count_include_pad=value))
        return compute

    def dov_ignored(case):
        if case.kwargs.get("divisor_override") is None:
            return None
        return oracle.call(_fn("avg", d), *case.args, **dict(case.kwargs, divisor_override=None))

    def ceil_ignored(case):
        if not case.kwargs.get("ceil_mode"):
            return None
        return oracle.call(_fn("avg", d), *case.args, **dict(case.kwargs, ceil_mode=False))

    def full_kernel_divisor(case):
        """count_include_pad with ceil_mode, dividing the overhanging window by the whole kernel."""
        if (not case.kwargs.get("ceil_mode") or not case.kwargs.get("count_include_pad", True)
                or case.kwargs.get("divisor_override") is not None):
            return None
        sizes, k, s, p, _ = _geometry(case, d)
        outs = [out_size(n, kk, ss, pp, 1, True) for n, kk, ss, pp in zip(sizes, k, s, p)]
        if all((o - 1) * ss + kk <= n + 2 * pp for o, ss, kk, n, pp in zip(outs, s, k, sizes, p)):
            return None
        return _explicit_padding("avg", d, case, outs)

    variants = [
        Variant("stride defaults to 1", "stride=None means stride = kernel_size "
                "(non-overlapping windows), not 1", stride_one),
        Variant("count_include_pad=False ignored", "with count_include_pad=False divide by the "
                "number of input elements in the window: you averaged over the padded zeros "
                "too", with_cip(True)),
        Variant("count_include_pad=True ignored", "count_include_pad=True (the default) counts "
                "the padded zeros in the divisor: you divided by the input elements only",
                with_cip(False)),
        Variant("ceil_mode divisor is the whole kernel", "with ceil_mode, a window that runs "
                "past the right padding is divided by the part inside input + padding "
                "(min(start + k, H + padding) − start), not by the whole kernel",
                full_kernel_divisor),
        Variant("ceil_mode keeps a window in the right padding", "with ceil_mode torch drops a "
                "last window that would start in the right padding: it must start inside the "
                "input or the left padding", _ceil_keep_all("avg", d)),
        Variant("ceil_mode ignored", "ceil_mode=True rounds the output size up (a last, partial "
                "window is kept)", ceil_ignored),
    ]
    if d > 1:
        variants.insert(1, Variant("divisor_override ignored", "divisor_override=d divides "
                                   "every window's sum by d, whatever it covers", dov_ignored))
    return variants


for _d in (1, 2, 3):
    register(Exercise(
        name=NAMES["avg"][_d], arg_names=AVG_ARGS if _d > 1 else AVG1_ARGS,
        visible=_visible_avg(_d), hidden=_hidden_avg(_d), reference=_reference("avg", _d),
        bugs=_avg_variants(_d), diagnose=_diagnose("avg", _d)))


# lp_pool1d/2d/3d ----------------------------------------------------------------------------
def lp_case(rng, d, size, norm_type, kernel, *, n=2, c=2, batched=True, values="positive",
            note="", **kwargs):
    shape = ((n,) if batched else ()) + (c,) + tuple(size)
    return Case((_input(rng, shape, values), norm_type, kernel), kwargs,
                note=note or f"norm_type={norm_type}")


def _visible_lp(d):
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


def _hidden_lp(d):
    def cases(rng):
        out = []
        strides = (None, 1, 2, 3) if d == 1 else (None, 1, 2, (2, 1, 1)[:d], (1, 3, 2)[:d])
        for norm, ceil_mode in itertools.product(
                (1, 2, 3, 1.5, 4.0, float("inf"), -float("inf")), (False, True)):
            size = _sizes(rng, d, 3, 9 if d < 3 else 6)
            kernel = int(rng.integers(1, 4)) if d == 1 else (
                _sizes(rng, d, 1, 4) if rng.random() < 0.5 else int(rng.integers(1, 4)))
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
            lp_case(rng, d, (4, 5)[:d], 2, (4, 5, 3)[:d] if d > 1 else 4,
                    note="kernel as large as the input"),
            lp_case(rng, d, (1, 1, 1)[:d], 2, 1, n=1, c=1, note="size-1 everything"),
            lp_case(rng, d, (3, 3, 3)[:d], 2, 4, note="kernel larger than the input (torch refuses)"),
        ]
        return out
    return cases


def _lp_reference(d):
    def reference(case):
        return oracle.call(_fn("lp", d), *case.args, **case.kwargs)
    return reference


def _lp_variants(d):
    def finite(case):
        return math.isfinite(case.args[1])

    def stride_one(case):
        if case.kwargs.get("stride") is not None:
            return None
        return oracle.call(_fn("lp", d), *case.args, **dict(case.kwargs, stride=1))

    def mean_not_sum(case):
        if not finite(case):
            return None
        x, p, kernel = case.args
        with np.errstate(all="ignore"):
            avg = oracle.call(_fn("avg", d), x ** p, kernel, case.kwargs.get("stride"), 0,
                              case.kwargs.get("ceil_mode", False))
            return avg ** (1.0 / p)

    def abs_first(case):
        x = case.args[0]
        if not finite(case) or (x >= 0).all():
            return None
        return oracle.call(_fn("lp", d), np.abs(x), *case.args[1:], **case.kwargs)

    def true_sum(case):
        """The last partial ceil_mode window summed instead of averaged times the kernel."""
        if not finite(case) or not case.kwargs.get("ceil_mode"):
            return None
        x, p, kernel = case.args
        k = _tuple(kernel, d)
        s = case.kwargs.get("stride")
        s = k if s is None else _tuple(s, d)
        sizes = x.shape[-d:]
        outs = [out_size(n, kk, ss, 0, 1, True) for n, kk, ss in zip(sizes, k, s)]
        if all((o - 1) * ss + kk <= n for o, ss, kk, n in zip(outs, s, k, sizes)):
            return None
        with np.errstate(all="ignore"):
            xp = x ** p
            if d == 1:
                total = oracle.call(oracle.F().avg_pool2d, xp[..., None, :], (1, k[0]), (1, s[0]),
                                    ceil_mode=True, divisor_override=1)[..., 0, :]
            else:
                total = oracle.call(getattr(oracle.F(), NAMES["avg"][d]), xp, k, s, ceil_mode=True,
                                    divisor_override=1)
            return total ** (1.0 / p)

    def inf_no_abs(case):
        x, p = case.args[:2]
        if finite(case) or (x >= 0).all():
            return None
        fn = getattr(oracle.F(), NAMES["max"][d])
        kwargs = dict(stride=case.kwargs.get("stride"), ceil_mode=case.kwargs.get("ceil_mode", False))
        if p > 0:
            return oracle.call(fn, x, case.args[2], **kwargs)
        return -oracle.call(fn, -x, case.args[2], **kwargs)

    return [
        Variant("stride defaults to 1", "stride=None means stride = kernel_size "
                "(non-overlapping windows), not 1", stride_one),
        Variant("mean instead of sum", "lp_pool is (sum of x^p)^(1/p): torch multiplies the "
                "average of x^p by the kernel size; you took the power mean", mean_not_sum),
        Variant("|x| instead of x", "torch raises x itself to the power p (negative x can "
                "give NaN), not |x|", abs_first),
        Variant("partial window summed", "with ceil_mode torch's last partial window is its "
                "AVERAGE of x^p times the full kernel size, not its sum", true_sum),
        Variant("inf without abs", "norm_type=inf is max pooling of |x| (and -inf is "
                "−max_pool(−|x|)): take the absolute value first", inf_no_abs),
    ]


for _d in (1, 2, 3):
    register(Exercise(
        name=NAMES["lp"][_d], arg_names=LP_ARGS, visible=_visible_lp(_d), hidden=_hidden_lp(_d),
        reference=_lp_reference(_d), bugs=_lp_variants(_d), diagnose=_diagnose("lp", _d)))


# fractional_max_pool2d -------------------------------------------------------------------
def frac_case(rng, size, kernel, *, n=2, c=2, batched=True, values="normal", note="",
              samples=True, **kwargs):
    shape = ((n,) if batched else ()) + (c,) + tuple(size)
    if samples:
        kwargs["_random_samples"] = rng.uniform(0, 1, ((n if batched else 1), c, 2))
    return Case((_input(rng, shape, values), kernel), kwargs, note=note)


def _visible_frac(rng):
    return [
        frac_case(rng, (9, 9), 2, n=1, c=1, output_size=(5, 5), note="9 → 5 with 2×2 windows"),
        frac_case(rng, (8, 10), (2, 3), output_size=(5, 4), return_indices=True,
                  note="non-square, indices"),
        frac_case(rng, (10, 8), 2, output_ratio=(0.5, 0.7), return_indices=True,
                  note="output_ratio (rows, columns)"),
    ]


def _hidden_frac(rng):
    out = []
    for ri, how, batched in itertools.product((False, True), ("size", "ratio"), (True, False)):
        for _ in range(2):
            h, w = _sizes(rng, 2, 4, 13)
            kh, kw = _sizes(rng, 2, 1, 4)
            kh, kw = min(kh, h), min(kw, w)
            kwargs = {"return_indices": ri}
            if how == "size":
                kwargs["output_size"] = (int(rng.integers(1, h - kh + 2)),
                                         int(rng.integers(1, w - kw + 2)))
            else:
                kwargs["output_ratio"] = (float(rng.uniform(0.3, 0.75)), float(rng.uniform(0.3, 0.75)))
            kernel = (kh, kw) if kh != kw or rng.random() < 0.5 else kh
            out.append(frac_case(rng, (h, w), kernel, n=int(rng.integers(1, 3)),
                                 c=int(rng.integers(1, 4)), batched=batched,
                                 note=f"{how}, return_indices={ri}, batched={batched}", **kwargs))
    out = [c for c in out if "output_ratio" not in c.kwargs or all(
        int(n * r) + k - 1 <= n and int(n * r) >= 1
        for n, r, k in zip(c.args[0].shape[-2:], c.kwargs["output_ratio"], _tuple(c.args[1], 2)))]
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
        frac_case(rng, (9, 8), 3, output_size=(8, 4), note="pool too large for the input (torch refuses)"),
        frac_case(rng, (9, 8), 2, note="neither output_size nor output_ratio (torch refuses)"),
    ]
    return out


def _frac_reference(case):
    return oracle.call(oracle.F().fractional_max_pool2d, *case.args, **case.kwargs)


def _frac_variants():
    F = lambda: oracle.F().fractional_max_pool2d  # noqa: E731

    def with_samples(transform):
        def compute(case):
            samples = case.kwargs.get("_random_samples")
            if samples is None:
                return None
            new = transform(samples, case)
            if new is None or np.array_equal(new, samples):
                return None
            return oracle.call(F(), *case.args, **dict(case.kwargs, _random_samples=new))
        return compute

    def global_indices(case):
        x = case.args[0]
        if not case.kwargs.get("return_indices") or x.ndim != 4 or x.shape[0] * x.shape[1] == 1:
            return None
        values, idx = _frac_reference(case)
        n, c, h, w = x.shape
        offset = (np.arange(n)[:, None] * c + np.arange(c)[None, :]) * h * w
        return values, idx + offset[:, :, None, None]

    def ratio_swapped(case):
        ratio = case.kwargs.get("output_ratio")
        if ratio is None or ratio[0] == ratio[1]:
            return None
        return oracle.call(F(), *case.args, **dict(case.kwargs, output_ratio=tuple(ratio[::-1])))

    def nan_ignored(case):
        x = case.args[0]
        if not np.isnan(x).any():
            return None
        return oracle.call(F(), np.where(np.isnan(x), -np.inf, x), *case.args[1:], **case.kwargs)

    return [
        Variant("samples swapped", "_random_samples[n, c, 0] places the COLUMNS (width) and "
                "[n, c, 1] the ROWS (height); you used them the other way round",
                with_samples(lambda s, case: s[..., ::-1].copy())),
        Variant("first image's samples everywhere", "each image has its own samples: use "
                "_random_samples[n, c] for image n, channel c",
                with_samples(lambda s, case: np.broadcast_to(s[:1], s.shape).copy())),
        Variant("indices over the whole tensor", "return_indices gives flat indices within "
                "each H×W plane (row * W + col), not into the whole (N, C, H, W) tensor",
                global_indices),
        Variant("output_ratio swapped", "output_ratio is (rows, columns): output size "
                "(int(H · ratio[0]), int(W · ratio[1]))", ratio_swapped),
        Variant("NaN ignored", "max pooling propagates NaN: a window that contains NaN gives "
                "NaN (torch takes a value when `value > best or isnan(value)`)", nan_ignored),
    ]


register(Exercise(
    name="fractional_max_pool2d", arg_names=FRAC_ARGS, visible=_visible_frac,
    hidden=_hidden_frac, reference=_frac_reference, bugs=_frac_variants()))
