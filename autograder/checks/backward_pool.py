"""Chapter 12 — the backward passes of pooling: max_pool2d_backward, avg_pool2d_backward and
adaptive_avg_pool2d_backward, against torch.autograd in float64.

Each takes (grad_output, input, *the forward's options) and returns grad_input.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from .. import oracle
from ..exercise import Bug, Case, Exercise, refused, register
from ._shapes import expand, window_out_size
from .backward import non_default, normal, torch_grads

MAXPOOL_ARGS = ("grad_output", "input", "kernel_size", "stride", "padding", "dilation",
                "ceil_mode")
AVGPOOL_ARGS = ("grad_output", "input", "kernel_size", "stride", "padding", "ceil_mode",
                "count_include_pad", "divisor_override")
ADAPTIVE_ARGS = ("grad_output", "input", "output_size")


def pool_case(rng: np.random.Generator, shape, kernel, stride=None, padding=0, dilation=1,
              ceil_mode=False, ties=False, avg=False, note="", **avg_options) -> Case:
    """A max (or, with ``avg``, average) pooling backward case; ``ties`` draws small integers."""
    x = rng.integers(0, 3, size=shape).astype(np.float64) if ties else normal(rng, *shape)
    (kh, kw), (ph, pw), (dh, dw) = expand(kernel, 2), expand(padding, 2), expand(dilation, 2)
    sh, sw = expand(kernel if stride is None else stride, 2)
    if avg:
        dh = dw = 1
    out = (window_out_size(shape[-2], kh, sh, ph, dh, ceil_mode),
           window_out_size(shape[-1], kw, sw, pw, dw, ceil_mode))
    go = normal(rng, *(tuple(shape[:-2]) + tuple(max(o, 1) for o in out)))
    kwargs = {} if stride is None else {"stride": stride}
    kwargs.update(non_default(padding=padding, ceil_mode=ceil_mode, **avg_options))
    if not avg:
        kwargs.update(non_default(dilation=dilation))
    return Case((go, x, kernel), kwargs, note=note or (
        f"kernel={kernel}, stride={stride}, padding={padding}"
        + ("" if avg else f", dilation={dilation}") + f", ceil_mode={ceil_mode}"
        + "".join(f", {k}={v}" for k, v in avg_options.items())
        + (", integer input with ties" if ties else "")))


PADDING_ABOVE_HALF = "padding must be at most half the kernel size"


# --------------------------------------------------------------------------------------
# max_pool2d_backward

def _maxpool_visible(rng):
    return [
        Case((np.ones((1, 1, 2, 2)), np.arange(1.0, 17).reshape(1, 1, 4, 4), 2), {},
             note="the 4×4 input 1…16, MaxPool2d(2, 2): gradient lands on 6, 8, 14, 16"),
        pool_case(rng, (1, 2, 5, 5), 3, stride=1, ties=True,
                  note="overlapping windows with ties: the first maximum in window order wins"),
        pool_case(rng, (2, 1, 5, 6), 2, padding=1, note="padding 1"),
    ]


def _maxpool_hidden(rng):
    out = []
    for kernel, stride, padding, dilation, ceil_mode in itertools.product(
            (2, 3, (2, 3)), (None, 1, 2, (2, 1)), (0, 1), (1, 2), (False, True)):
        if rng.random() < 0.6:
            continue
        shape = (int(rng.integers(1, 3)), int(rng.integers(1, 3)),
                 int(rng.integers(5, 9)), int(rng.integers(5, 9)))
        out.append(pool_case(rng, shape, kernel, stride, padding, dilation, ceil_mode,
                             ties=bool(rng.integers(0, 2))))
    out += [
        pool_case(rng, (2, 3, 6, 6), 3, stride=1, padding=1, ties=True,
                  note="MaxPool2d(3, stride=1, padding=1) on ties"),
        pool_case(rng, (1, 1, 5, 5), 2, stride=2, ceil_mode=True,
                  note="ceil_mode: the last window hangs over the edge"),
        pool_case(rng, (1, 1, 4, 5), (4, 5), note="kernel = input"),
        pool_case(rng, (3, 4, 4), 2, stride=1, ties=True, note="unbatched (C, H, W)"),
        pool_case(rng, (1, 1, 6, 9), (2, 3), stride=(2, 3)),
        refused(pool_case(rng, (1, 1, 5, 5), 2, padding=2, note="padding above half the kernel"),
                PADDING_ABOVE_HALF),
    ]
    return out


def _maxpool_reference(case):
    return torch_grads(oracle.F().max_pool2d, case)


def _stride(case):
    kernel = case.args[2]
    return expand(case.kwargs.get("stride", kernel) or kernel, 2)


def _pool_windows(case):
    """Unfolded windows (N*C, k*k, H_out, W_out) of the -inf padded input, and what folds
    them back."""
    t = oracle.torch()
    go, x, kernel = case.args
    k, s = expand(kernel, 2), _stride(case)
    p, d = expand(case.kwargs.get("padding", 0), 2), expand(case.kwargs.get("dilation", 1), 2)
    xt = t.from_numpy(x.copy()).reshape(-1, 1, *x.shape[-2:])
    ho, wo = go.shape[-2:]
    # With ceil_mode the last window may run past the right padding: pad with -inf far
    # enough that unfold produces it (-inf is never a maximum, so the extra does not count).
    need_h = (ho - 1) * s[0] + d[0] * (k[0] - 1) + 1
    need_w = (wo - 1) * s[1] + d[1] * (k[1] - 1) + 1
    pad = (p[1], max(need_w - x.shape[-1] - p[1], p[1]),
           p[0], max(need_h - x.shape[-2] - p[0], p[0]))
    padded = oracle.F().pad(xt, pad, value=-math.inf)
    cols = oracle.F().unfold(padded, k, dilation=d, stride=s)
    cols = cols.reshape(cols.shape[0], k[0] * k[1], -1)
    # The extra padding can make unfold produce more windows than torch's output has.
    hp, wp = padded.shape[-2:]
    n_h = (hp - d[0] * (k[0] - 1) - 1) // s[0] + 1
    n_w = (wp - d[1] * (k[1] - 1) - 1) // s[1] + 1
    cols = cols.reshape(cols.shape[0], k[0] * k[1], n_h, n_w)[..., :ho, :wo]
    return cols, padded.shape, pad, k, s, d, (n_h, n_w)


def _fold_back(values, padded_shape, pad, k, s, d, n_hw, x_shape):
    t = oracle.torch()
    full = t.zeros(values.shape[0], k[0] * k[1], *n_hw, dtype=t.float64)
    full[..., :values.shape[-2], :values.shape[-1]] = values
    grad = oracle.F().fold(full.reshape(values.shape[0], k[0] * k[1], -1), padded_shape[-2:], k,
                           dilation=d, stride=s)
    grad = grad[..., pad[2]:pad[2] + x_shape[-2], pad[0]:pad[0] + x_shape[-1]]
    return grad.reshape(x_shape).numpy()


def _has_ties(case):
    cols = _pool_windows(case)[0]
    ties = cols == cols.max(dim=1, keepdim=True).values
    return float(ties.sum(dim=1).max()) > 1


def _every_tie(cols, best):
    return (cols == best).double()


def _last_tie(cols, best):
    t = oracle.torch()
    flipped = t.flip(cols == best, dims=(1,)).double()
    first_of_flipped = (t.cumsum(flipped, dim=1) == 1) & (flipped > 0)
    return t.flip(first_of_flipped, dims=(1,)).double()


def _split_ties(cols, best):
    ties = _every_tie(cols, best)
    return ties / ties.sum(dim=1, keepdim=True)


def _tied_grad(share):
    """grad_input when each window hands its gradient to its maxima as ``share(cols, best)``
    says (the windows' weights, summing to 1 in torch's rule, which is the first maximum)."""
    def answer(case):
        t = oracle.torch()
        go, x, _ = case.args
        cols, shape, pad, k, s, d, n_hw = _pool_windows(case)
        weights = share(cols, cols.max(dim=1, keepdim=True).values)
        gt = t.from_numpy(go.copy()).reshape(-1, 1, *go.shape[-2:])
        return _fold_back(weights * gt, shape, pad, k, s, d, n_hw, x.shape)
    return answer


def _windows_overlap(case):
    kernel, dilation = case.args[2], case.kwargs.get("dilation", 1)
    return not all(si >= ki * di for si, ki, di in
                   zip(_stride(case), expand(kernel, 2), expand(dilation, 2), strict=True))


def _maxpool_overwrite(case):
    """Overlapping windows written with `=` instead of `+=`: the last window wins."""
    t = oracle.torch()
    go, x, kernel = case.args
    xt = t.from_numpy(x.copy()).reshape(-1, 1, *x.shape[-2:])
    _, idx = oracle.F().max_pool2d(xt, kernel, return_indices=True, **case.kwargs)
    flat_idx = idx.reshape(idx.shape[0], -1)
    gflat = t.from_numpy(go.copy()).reshape(idx.shape[0], -1)
    grad = t.zeros(idx.shape[0], x.shape[-2] * x.shape[-1], dtype=t.float64)
    grad.scatter_(1, flat_idx, gflat)
    return grad.reshape(x.shape).numpy()


MAXPOOL_BUGS = [
    Bug("every-tied-maximum",
        "with ties the gradient goes to ONE element per window: torch picks the first maximum "
        "in window order (row by row), as np.argmax does — you sent it to every tied maximum",
        _tied_grad(_every_tie), when=_has_ties),
    Bug("last-tied-maximum",
        "with ties torch sends the gradient to the FIRST maximum in window order; you picked "
        "the last",
        _tied_grad(_last_tie), when=_has_ties),
    Bug("gradient-split-among-ties",
        "with ties torch does not split the gradient: the whole of it goes to the first "
        "maximum in window order",
        _tied_grad(_split_ties), when=_has_ties),
    Bug("overlapping-windows-overwritten",
        "where windows overlap, one element can be the maximum of several windows: accumulate "
        "(np.add.at or +=), do not overwrite",
        _maxpool_overwrite, when=_windows_overlap),
]


register(Exercise(
    name="max_pool2d_backward", arg_names=MAXPOOL_ARGS, visible=_maxpool_visible,
    hidden=_maxpool_hidden, reference=_maxpool_reference, bugs=MAXPOOL_BUGS,
))


# --------------------------------------------------------------------------------------
# avg_pool2d_backward

def _avgpool_visible(rng):
    return [
        Case((np.ones((1, 1, 2, 2)), np.arange(1.0, 17).reshape(1, 1, 4, 4), 2), {},
             note="the 4×4 input 1…16, AvgPool2d(2, 2): every element gets 1/4"),
        pool_case(rng, (1, 2, 5, 5), 3, stride=1, avg=True, note="overlapping windows"),
        pool_case(rng, (2, 1, 5, 6), 3, stride=2, padding=1, avg=True, count_include_pad=False),
    ]


def _avgpool_hidden(rng):
    out = []
    for kernel, stride, padding, ceil_mode, include, override in itertools.product(
            (2, 3, (2, 3)), (None, 1, 2, (2, 1)), (0, 1), (False, True), (True, False), (None, 5)):
        if rng.random() < 0.75:
            continue
        shape = (int(rng.integers(1, 3)), int(rng.integers(1, 3)),
                 int(rng.integers(4, 9)), int(rng.integers(4, 9)))
        out.append(pool_case(rng, shape, kernel, stride, padding, ceil_mode=ceil_mode, avg=True,
                             count_include_pad=include, divisor_override=override))
    out += [
        pool_case(rng, (1, 1, 5, 5), 2, stride=2, padding=1, ceil_mode=True, avg=True,
                  count_include_pad=True, note="ceil_mode + padding: the last window's divisor "
                  "counts the padding but not what lies beyond it"),
        pool_case(rng, (1, 1, 6, 6), 4, stride=3, padding=2, ceil_mode=True, avg=True,
                  count_include_pad=False),
        pool_case(rng, (1, 1, 4, 5), (4, 5), avg=True, note="kernel = input"),
        pool_case(rng, (3, 4, 4), 2, stride=1, avg=True, note="unbatched (C, H, W)"),
        pool_case(rng, (1, 1, 5, 5), 3, padding=1, avg=True, divisor_override=2),
        refused(pool_case(rng, (1, 1, 5, 5), 2, padding=2, avg=True,
                          note="padding above half the kernel"), PADDING_ABOVE_HALF),
    ]
    return out


def _avg_grads(case, **changes):
    """avg_pool2d's gradient with some of the case's options changed (None: dropped)."""
    kwargs = {k: v for k, v in dict(case.kwargs, **changes).items()
              if not (k in changes and changes[k] is None)}
    return torch_grads(oracle.F().avg_pool2d, Case(case.args, kwargs))


def _avgpool_reference(case):
    return torch_grads(oracle.F().avg_pool2d, case)


def _override(case):
    return case.kwargs.get("divisor_override")


def _counts_padding(case):
    return case.kwargs.get("count_include_pad", True)


def _kernel_area(case):
    kh, kw = expand(case.args[2], 2)
    return kh * kw


AVGPOOL_BUGS = [
    Bug("gradient-not-divided-by-divisor",
        "each input in a window receives grad_output divided by the window's divisor (kernel "
        "area, or what count_include_pad / divisor_override say): you did not divide",
        lambda case: _avg_grads(case, divisor_override=1)),
    Bug("count-include-pad-ignored",
        "with count_include_pad=False the divisor counts only the real input elements under "
        "the window, not the padding",
        lambda case: _avg_grads(case, count_include_pad=True),
        when=lambda case: not _counts_padding(case) and not _override(case)),
    Bug("divisor-override-ignored", "divisor_override=d divides every window's sum by d, "
        "whatever it covers",
        lambda case: _avg_grads(case, divisor_override=None),
        when=lambda case: _override(case) is not None),
    Bug("divisor-always-kernel-area",
        "with ceil_mode a window that runs past the padding divides by the part of it inside "
        "the padded input, not by kH·kW",
        lambda case: _avg_grads(case, divisor_override=_kernel_area(case)),
        when=lambda case: _override(case) is None and _counts_padding(case)
        and case.kwargs.get("ceil_mode", False)),
]


register(Exercise(
    name="avg_pool2d_backward", arg_names=AVGPOOL_ARGS, visible=_avgpool_visible,
    hidden=_avgpool_hidden, reference=_avgpool_reference, bugs=AVGPOOL_BUGS,
))


# --------------------------------------------------------------------------------------
# adaptive_avg_pool2d_backward

def adaptive_case(rng: np.random.Generator, shape, output_size, note="") -> Case:
    """An adaptive_avg_pool2d_backward case (an output_size entry None keeps that axis)."""
    x = normal(rng, *shape)
    out = tuple(shape[-2 + i] if o is None else o for i, o in enumerate(expand(output_size, 2)))
    return Case((normal(rng, *(tuple(shape[:-2]) + out)), x, output_size), {},
                note=note or f"input {shape} → output_size {output_size!r}")


def _adaptive_visible(rng):
    return [
        adaptive_case(rng, (2, 3, 4, 4), 1, note="global average pooling (全局平均池化)"),
        adaptive_case(rng, (1, 2, 6, 6), (3, 2), note="windows that divide evenly"),
        adaptive_case(rng, (1, 1, 5, 7), (3, 4), note="overlapping windows"),
    ]


def _adaptive_hidden(rng):
    out = []
    for _ in range(14):
        shape = (int(rng.integers(1, 3)), int(rng.integers(1, 4)),
                 int(rng.integers(1, 12)), int(rng.integers(1, 12)))
        h_out = int(rng.integers(1, shape[2] + 3))
        w_out = int(rng.integers(1, shape[3] + 3))
        size = (h_out, w_out) if rng.random() < 0.7 else h_out
        out.append(adaptive_case(rng, shape, size))
    out += [
        adaptive_case(rng, (1, 4, 28, 28), (7, 7), note="AdaptiveAvgPool2d((7, 7)) on 28×28"),
        adaptive_case(rng, (1, 3, 10, 9), (1, None), note="None keeps the input size"),
        adaptive_case(rng, (1, 2, 3, 3), (5, 4), note="output larger than the input"),
        adaptive_case(rng, (3, 5, 6), (2, 4), note="unbatched (C, H, W)"),
        adaptive_case(rng, (1, 1, 4, 4), 1, note="global average pooling"),
    ]
    return out


def _adaptive_reference(case):
    return torch_grads(oracle.F().adaptive_avg_pool2d, case)


def _ceil_div(a, b):
    return -(-a // b)


def _adaptive_grad(window, divide=True):
    """grad_input when output i of an axis of n inputs and o outputs averages (or, without
    ``divide``, sums) the inputs ``window(i, n, o)`` = (start, end)."""
    def answer(case):
        t = oracle.torch()
        go, x, _ = case.args
        h, w = x.shape[-2:]
        ho, wo = go.shape[-2:]
        grad = t.zeros(x.shape, dtype=t.float64)
        g = t.from_numpy(go.copy())
        for i in range(ho):
            hs, he = window(i, h, ho)
            for j in range(wo):
                ws, we = window(j, w, wo)
                if he <= hs or we <= ws:
                    continue
                area = (he - hs) * (we - ws) if divide else 1
                grad[..., hs:he, ws:we] += (g[..., i, j] / area)[..., None, None]
        return grad.numpy()
    return answer


def _torch_window(i, n, o):
    return i * n // o, _ceil_div((i + 1) * n, o)


def _start_rounded_up(i, n, o):
    return _ceil_div(i * n, o), _ceil_div((i + 1) * n, o)


def _end_rounded_down(i, n, o):
    return i * n // o, (i + 1) * n // o


def _uniform(i, n, o):
    return i * (n // o), i * (n // o) + max(n // o, 1)


ADAPTIVE_BUGS = [
    Bug("window-start-rounded-up",
        "adaptive windows START at floor(i·H/H_out) and end at ceil((i+1)·H/H_out): you "
        "rounded the start up",
        _adaptive_grad(_start_rounded_up)),
    Bug("window-end-rounded-down",
        "adaptive windows run from floor(i·H/H_out) to ceil((i+1)·H/H_out): you rounded the "
        "end down",
        _adaptive_grad(_end_rounded_down)),
    Bug("uniform-windows",
        "adaptive windows are not all H // H_out wide: they run from floor(i·H/H_out) to "
        "ceil((i+1)·H/H_out) and may overlap",
        _adaptive_grad(_uniform)),
    Bug("gradient-not-divided-by-area",
        "each element of a window receives grad_output divided by the window's area: you did "
        "not divide",
        _adaptive_grad(_torch_window, divide=False),
        when=lambda case: case.args[0].shape[-2:] != case.args[1].shape[-2:]),
]


register(Exercise(
    name="adaptive_avg_pool2d_backward", arg_names=ADAPTIVE_ARGS, visible=_adaptive_visible,
    hidden=_adaptive_hidden, reference=_adaptive_reference, bugs=ADAPTIVE_BUGS,
))
