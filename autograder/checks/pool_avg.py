"""Chapter 05b — average pooling: avg_pool1d/2d/3d.

The seeded grids of valid parameters, the edge cases (ceil_mode's last window, the padded
zeros counted or not, divisor_override, NaN), the configurations torch refuses, and the
known bugs with the hint each one earns. Expected values and wrong answers are computed
with torch.
"""
from __future__ import annotations

import itertools

from .. import oracle
from ..exercise import Bug, Case, Exercise, refused, register
from ._pooling import (
    ceil_mode_ignored,
    ceil_mode_keeps_window_in_right_padding,
    ceil_out_sizes,
    diagnose_output_size,
    explicitly_padded,
    geometry,
    pool_case,
    random_sizes,
    stride_defaults_to_one,
    torch_call,
)
from ._shapes import expand, window_out_size

AVG1_ARGS = ("input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad")
AVG_ARGS = AVG1_ARGS + ("divisor_override",)


def _visible(d: int):
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


def _declared(case: Case, d: int) -> Case:
    """The case, declared refused where torch refuses its sizes: avg_pool3d alone wants every
    input size at least the kernel's, padding or not; and no output may be empty."""
    sizes, k, s, p, _ = geometry(case, d)
    if d == 3 and any(n < kk for n, kk in zip(sizes, k, strict=True)):
        return refused(case, "avg_pool3d wants an input at least as large as the kernel")
    ceil_mode = bool(case.kwargs.get("ceil_mode"))
    if any(window_out_size(n, kk, ss, pp, 1, ceil_mode) < 1
           for n, kk, ss, pp in zip(sizes, k, s, p, strict=True)):
        return refused(case, "the output would be empty")
    return case


def _hidden(d: int):
    def cases(rng):
        out = []
        low, high = (3, 8) if d < 3 else (3, 6)
        dovs = (None, 1, 3, -2) if d > 1 else (None,)
        for stride, ceil_mode, cip in itertools.product((None, 1, 2, "tuple"), (False, True),
                                                        (True, False)):
            size = random_sizes(rng, d, low, high)
            kernel = random_sizes(rng, d, 1, 5)
            k_arg = kernel if rng.random() < 0.5 or d == 1 else kernel[0]
            kernel = expand(k_arg, d)
            st = random_sizes(rng, d, 1, 4) if stride == "tuple" else stride
            padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
            kwargs = {"ceil_mode": ceil_mode, "count_include_pad": cip}
            if st is not None:
                kwargs["stride"] = st
            if any(padding):
                kwargs["padding"] = padding
            dov = dovs[int(rng.integers(0, len(dovs)))]
            if dov is not None:
                kwargs["divisor_override"] = dov
            out.append(_declared(pool_case(
                rng, d, size, k_arg, n=int(rng.integers(1, 3)), c=int(rng.integers(1, 4)),
                batched=bool(rng.integers(0, 4)),
                note=f"stride={st}, ceil_mode={ceil_mode}, count_include_pad={cip}", **kwargs), d))
        side = (7, 6, 5)[:d]
        out += [
            pool_case(rng, d, (4, 5, 3)[:d], (4, 5, 3)[:d], note="kernel as large as the input"),
            pool_case(rng, d, (1, 1, 1)[:d], 1, n=1, c=1, note="size-1 everything"),
            pool_case(rng, d, (6, 6, 6)[:d], 3, stride=2, padding=1, ceil_mode=True,
                      note="ceil_mode: the last window runs past the right padding"),
            pool_case(rng, d, (6, 6, 6)[:d], 3, stride=2, padding=1, ceil_mode=True,
                      count_include_pad=False, note="ceil_mode, count_include_pad=False"),
            pool_case(rng, d, (5, 5, 5)[:d], 2, stride=2, padding=1, ceil_mode=True,
                      note="ceil_mode: the extra window would start in the right padding "
                      "(dropped)"),
            pool_case(rng, d, side, 4, stride=1, padding=2, count_include_pad=False,
                      note="padding = kernel_size // 2, count_include_pad=False"),
            pool_case(rng, d, (9, 5, 6)[:d], (3, 2, 1)[:d], stride=(1, 2, 3)[:d],
                      padding=(1, 1, 0)[:d], batched=False,
                      note="unbatched, non-square everything"),
            pool_case(rng, d, side, 3, values="nan", note="NaN in the input"),
            _declared(pool_case(rng, d, (3, 5, 5)[:d], 4, stride=1, padding=2,
                                note="input smaller than the kernel, the padding makes room"), d),
            refused(pool_case(rng, d, side, 3, padding=2, note="padding > kernel_size // 2"),
                    "padding must be at most half the kernel size"),
            refused(pool_case(rng, d, (3, 3, 3)[:d], 4, note="kernel larger than the input"),
                    "the output would be empty"),
        ]
        if d > 1:
            out += [
                pool_case(rng, d, side, 3, stride=2, padding=1, ceil_mode=True, divisor_override=2,
                          note="divisor_override with padding and ceil_mode"),
                refused(pool_case(rng, d, side, 2, divisor_override=0, note="divisor_override=0"),
                        "the divisor must not be zero"),
            ]
        return out
    return cases


def _bugs(name: str, d: int) -> list[Bug]:
    """The known bugs of ``name`` (torch's avg_pool{d}d), tried in this order."""
    def override(case: Case):
        return case.kwargs.get("divisor_override")

    def counts_padding(case: Case) -> bool:
        return case.kwargs.get("count_include_pad", True)

    def with_count_include_pad(value: bool):
        """The padded zeros counted (``value``) where the case says the opposite."""
        def when(case: Case) -> bool:
            return (any(geometry(case, d)[3]) and counts_padding(case) != value
                    and override(case) is None)

        def answer(case: Case):
            return oracle.call_case(getattr(oracle.F(), name), case, count_include_pad=value)
        return answer, when

    def whole_kernel_applies(case: Case) -> bool:
        if (not case.kwargs.get("ceil_mode") or not counts_padding(case)
                or override(case) is not None):
            return False
        sizes, k, s, p, _ = geometry(case, d)
        outs = ceil_out_sizes(case, d)
        return not all((o - 1) * ss + kk <= n + 2 * pp
                       for o, ss, kk, n, pp in zip(outs, s, k, sizes, p, strict=True))

    bugs = [
        stride_defaults_to_one(name),
        Bug("count-include-pad-false-ignored", "with count_include_pad=False divide by the "
            "number of input elements in the window: you averaged over the padded zeros too",
            *with_count_include_pad(True)),
        Bug("count-include-pad-true-ignored", "count_include_pad=True (the default) counts the "
            "padded zeros in the divisor: you divided by the input elements only",
            *with_count_include_pad(False)),
        Bug("ceil-mode-divisor-whole-kernel", "with ceil_mode, a window that runs past the right "
            "padding is divided by the part inside input + padding (min(start + k, H + padding) "
            "− start), not by the whole kernel",
            lambda case: explicitly_padded(name, case, d, ceil_out_sizes(case, d), fill=0.0),
            when=whole_kernel_applies),
        ceil_mode_keeps_window_in_right_padding(name, d, fill=0.0),
        ceil_mode_ignored(name),
    ]
    if d > 1:
        bugs.insert(1, Bug(
            "divisor-override-ignored", "divisor_override=d divides every window's sum by d, "
            "whatever it covers",
            lambda case: oracle.call_case(getattr(oracle.F(), name), case, divisor_override=None),
            when=lambda case: override(case) is not None))
    return bugs


for _name, _d in {"avg_pool1d": 1, "avg_pool2d": 2, "avg_pool3d": 3}.items():
    register(Exercise(
        name=_name, arg_names=AVG_ARGS if _d > 1 else AVG1_ARGS, visible=_visible(_d),
        hidden=_hidden(_d), reference=torch_call(_name), bugs=_bugs(_name, _d),
        diagnose=diagnose_output_size))
