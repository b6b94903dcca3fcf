"""Chapter 05a — max pooling: max_pool1d/2d/3d and max_pool2d_loop.

The seeded grids of valid parameters, the edge cases (ceil_mode's last window, padding =
kernel // 2, NaN, -inf, ties), the configurations torch refuses, and the known bugs with
the hint each one earns. Expected values and wrong answers are computed with torch (NumPy
only rearranges torch's indices where a bug needs it).
"""
from __future__ import annotations

import itertools

import numpy as np

from .. import oracle
from ..exercise import Bug, Case, Exercise, refused, register
from ._pooling import (
    ceil_mode_ignored,
    ceil_mode_keeps_window_in_right_padding,
    diagnose_output_size,
    geometry,
    nan_ignored,
    pad_spec,
    pool_case,
    random_sizes,
    shift_indices,
    stride_defaults_to_one,
    torch_call,
)
from ._shapes import expand, window_out_size

MAX_ARGS = ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices")


def _visible(d: int):
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


def _hidden(d: int, small: bool = False):
    def cases(rng):
        out = []
        low, high = (3, 8) if d < 3 and not small else (3, 6)
        for stride, ceil_mode, ri in itertools.product(
                (None, 1, 2, "tuple"), (False, True), (False, True)):
            size = random_sizes(rng, d, low, high)
            kernel = random_sizes(rng, d, 1, 4)
            k_arg = kernel if rng.random() < 0.5 or d == 1 else kernel[0]
            kernel = expand(k_arg, d)
            st = random_sizes(rng, d, 1, 4) if stride == "tuple" else stride
            padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
            dilation = random_sizes(rng, d, 1, 3)
            kwargs = {"ceil_mode": ceil_mode, "return_indices": ri}
            if st is not None:
                kwargs["stride"] = st
            if any(padding):
                kwargs["padding"] = padding
            if any(v > 1 for v in dilation):
                kwargs["dilation"] = dilation
            if any(window_out_size(n, k, s, p, dl, ceil_mode) < 1 for n, k, s, p, dl in zip(
                    size, kernel, expand(st if st is not None else kernel, d), padding, dilation,
                    strict=True)):
                kwargs.pop("dilation", None)
            out.append(pool_case(rng, d, size, k_arg, n=int(rng.integers(1, 3)),
                                 c=int(rng.integers(1, 4)), batched=bool(rng.integers(0, 4)),
                                 note=f"stride={st}, ceil_mode={ceil_mode}, return_indices={ri}",
                                 **kwargs))
        side = (7, 6, 5)[:d]
        out += [
            pool_case(rng, d, (4, 5, 3)[:d], (4, 5, 3)[:d], return_indices=True,
                      note="kernel as large as the input"),
            pool_case(rng, d, (1, 1, 1)[:d], 1, n=1, c=1, return_indices=True,
                      note="size-1 everything"),
            pool_case(rng, d, (5, 5, 5)[:d], 2, stride=2, padding=1, ceil_mode=True,
                      return_indices=True,
                      note="ceil_mode: the extra window would start in the right padding "
                      "(dropped)"),
            pool_case(rng, d, (6, 7, 5)[:d], 3, stride=2, padding=1, ceil_mode=True,
                      return_indices=True, note="ceil_mode with padding: a window is added"),
            pool_case(rng, d, side, 4, stride=1, padding=2, return_indices=True,
                      note="padding = kernel_size // 2"),
            pool_case(rng, d, side, 3, stride=2, padding=1, dilation=2, return_indices=True,
                      note="dilation with padding"),
            pool_case(rng, d, side, 3, stride=1, padding=1, values="nan", return_indices=True,
                      note="NaN: the last NaN of a window wins"),
            pool_case(rng, d, (3, 3, 2)[:d], 3, stride=1, padding=1, n=1, c=1, values="nan",
                      note="NaN without return_indices"),
            pool_case(rng, d, side, 2, stride=1, padding=1, values="-inf", return_indices=True,
                      note="-inf inputs: padding never wins, the first tap inside the input does"),
            pool_case(rng, d, side, 3, stride=2, values="ints", return_indices=True,
                      note="ties: the first maximum wins"),
            pool_case(rng, d, (9, 5, 6)[:d], (3, 2, 1)[:d], stride=(1, 2, 3)[:d],
                      padding=(1, 1, 0)[:d], dilation=(1, 2, 3)[:d], return_indices=True,
                      batched=False, note="unbatched, non-square everything"),
            pool_case(rng, d, (3, 5, 4)[:d], 4, stride=1, padding=2, return_indices=True,
                      note="input smaller than the kernel, the padding makes room"),
            refused(pool_case(rng, d, side, 3, padding=2, note="padding > kernel_size // 2"),
                    "padding must be at most half the kernel size"),
            refused(pool_case(rng, d, (3, 3, 3)[:d], 4, note="kernel larger than the input"),
                    "the output would be empty"),
            refused(pool_case(rng, d, side, 2, stride=0, note="stride 0"),
                    "the stride must be positive"),
        ]
        return out
    return cases


def _bugs(name: str, d: int) -> list[Bug]:
    """The known bugs of ``name`` (torch's max_pool{d}d), tried in this order."""
    def padded_plane(case: Case):
        sizes, _, _, p, _ = geometry(case, d)
        values, idx = torch_call(name)(case)
        padded = tuple(n + 2 * pp for n, pp in zip(sizes, p, strict=True))
        return values, shift_indices(idx, sizes, padded, p)

    def zero_padding(case: Case):
        x, kernel = case.args
        p = geometry(case, d)[3]
        padded = oracle.call(oracle.F().pad, x, pad_spec([(pp, pp) for pp in p]))
        return oracle.call(getattr(oracle.F(), name), padded, kernel,
                           **dict(case.kwargs, padding=0))

    def padded(case: Case) -> bool:
        return any(geometry(case, d)[3])

    return [
        stride_defaults_to_one(name),
        ceil_mode_keeps_window_in_right_padding(name, d, fill=-np.inf),
        Bug("indices-over-padded-plane", "return_indices gives flat indices into the UNPADDED "
            "input plane (row * W + col of the input); yours count the padding", padded_plane,
            when=lambda case: bool(case.kwargs.get("return_indices")) and padded(case)),
        nan_ignored(name),
        Bug("dilation-ignored", "dilation is ignored: the window's taps are `dilation` apart",
            lambda case: oracle.call_case(getattr(oracle.F(), name), case, dilation=1),
            when=lambda case: any(v != 1 for v in expand(case.kwargs.get("dilation", 1), d))),
        Bug("zero-padding", "max pooling pads with -inf, not 0: a padded position never wins",
            zero_padding,
            when=lambda case: padded(case) and not case.kwargs.get("return_indices")
            and not case.kwargs.get("ceil_mode")),
        ceil_mode_ignored(name),
    ]


for _name, _d in {"max_pool1d": 1, "max_pool2d": 2, "max_pool3d": 3}.items():
    register(Exercise(
        name=_name, arg_names=MAX_ARGS, visible=_visible(_d), hidden=_hidden(_d),
        reference=torch_call(_name), bugs=_bugs(_name, _d), diagnose=diagnose_output_size))


def _loop_hidden(rng):
    return [c for c in _hidden(2, small=True)(rng) if c.args[0].size <= 200]


register(Exercise(
    name="max_pool2d_loop", arg_names=MAX_ARGS, visible=_visible(2), hidden=_loop_hidden,
    reference=torch_call("max_pool2d"), bugs=_bugs("max_pool2d", 2),
    diagnose=diagnose_output_size))
