"""Chapter 12 — backward passes: numerical_gradient and the gradients of conv, pooling and
the normalizations, checked against torch.autograd in float64.

Each backward exercise takes ``grad_output`` and then the forward's own inputs and
parameters under their torch names, and returns ``grad_input`` or a tuple
``(grad_input, grad_weight, grad_bias)``. Where a parameter is None its gradient must be
None: the run function turns that position into a boolean "is None" so the comparison
stays on arrays. Expected values and variants are computed with torch.
"""
from __future__ import annotations

import copy
import functools
import itertools
import math

import numpy as np

from .. import oracle
from ..exercise import Case, Exercise, Variant, register


def _arr(rng, *shape):
    return rng.standard_normal(shape)


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _opt(**kwargs):
    """Keyword arguments without the ones left at a default (shorter feedback lines)."""
    defaults = {"stride": 1, "padding": 0, "dilation": 1, "groups": 1, "output_padding": 0,
                "ceil_mode": False, "count_include_pad": True, "divisor_override": None,
                "eps": 1e-5}
    return {k: v for k, v in kwargs.items() if not (k in defaults and v == defaults[k]
                                                      and type(v) is type(defaults[k]))}


# --------------------------------------------------------------------------------------
# numerical_gradient: the case names a function from this menu (plain data); the student's
# function receives the NumPy version, torch's central differences use the torch version.

def _weights(shape):
    return (np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape) % 5 + 1) / 5


MENU_NUMPY = {
    "sum_sin": lambda x: float(np.sum(np.sin(x))),
    "sum_cubes": lambda x: float(np.sum(x ** 3) / 3),
    "logsumexp": lambda x: float(np.log(np.sum(np.exp(x)))),
    "weighted_squares": lambda x: float(np.sum(_weights(x.shape) * x ** 2)),
    "norm": lambda x: float(np.sqrt(np.sum(x ** 2))),
    "tanh_dot": lambda x: float(np.sum(np.tanh(x) * x)),
}


def _menu_torch(name, x):
    t = oracle.torch()
    if name == "sum_sin":
        return t.sin(x).sum()
    if name == "sum_cubes":
        return (x ** 3).sum() / 3
    if name == "logsumexp":
        return t.log(t.exp(x).sum())
    if name == "weighted_squares":
        return (t.from_numpy(_weights(tuple(x.shape))) * x ** 2).sum()
    if name == "norm":
        return t.sqrt((x ** 2).sum())
    if name == "tanh_dot":
        return (t.tanh(x) * x).sum()
    raise KeyError(name)


NG_ARGS = ("f", "x", "eps")


def _ng_run(fn, case):
    name, x = case.args
    return fn(MENU_NUMPY[name], x.copy(), **copy.deepcopy(case.kwargs))


def _ng_case(rng, name, shape, eps=None, note=""):
    return Case((name, _arr(rng, *shape)), {} if eps is None else {"eps": eps},
                note=note or f"f = {name}, x of shape {shape}")


def _ng_visible(rng):
    return [
        _ng_case(rng, "sum_sin", (4,), note="f(x) = sum(sin(x)), gradient cos(x)"),
        _ng_case(rng, "weighted_squares", (2, 3)),
        _ng_case(rng, "logsumexp", (5,), eps=1e-4),
    ]


def _ng_hidden(rng):
    out = []
    shapes = [(3,), (2, 3), (2, 1, 3), (1, 2, 2, 3)]
    for name, shape, eps in itertools.product(MENU_NUMPY, shapes, (None, 1e-3)):
        if rng.random() < 0.5:
            continue
        out.append(_ng_case(rng, name, shape, eps))
    out += [
        _ng_case(rng, "sum_cubes", (1,), eps=1e-3, note="a single number"),
        _ng_case(rng, "tanh_dot", (2, 2, 2), eps=1e-3),
        _ng_case(rng, "norm", (6,), eps=1e-3),
        _ng_case(rng, "sum_cubes", (3, 2), eps=1e-2, note="a large eps: central differences "
                 "are still close, forward differences are not"),
    ]
    return out


def _central(name, x, eps, mode="central", restore=True):
    t = oracle.torch()
    xt = t.from_numpy(x.copy())
    flat = xt.view(-1)
    grad = np.zeros(x.size)
    f = lambda: float(_menu_torch(name, xt))  # noqa: E731
    for i in range(x.size):
        old = float(flat[i])
        flat[i] = old + eps
        plus = f()
        flat[i] = old - eps if mode != "forward" else old
        minus = f()
        if mode == "forward":
            grad[i] = (plus - minus) / eps
        elif mode == "no_half":
            grad[i] = (plus - minus) / eps
        else:
            grad[i] = (plus - minus) / (2 * eps)
        if restore:
            flat[i] = old
    return grad.reshape(x.shape)


def _ng_reference(case):
    name, x = case.args
    return _central(name, x, case.kwargs.get("eps", 1e-6))


def _ng_variants():
    def forward(case):
        name, x = case.args
        return _central(name, x, case.kwargs.get("eps", 1e-6), mode="forward")

    def no_half(case):
        name, x = case.args
        return _central(name, x, case.kwargs.get("eps", 1e-6), mode="no_half")

    def not_restored(case):
        name, x = case.args
        if x.size == 1:
            return None
        return _central(name, x, case.kwargs.get("eps", 1e-6), restore=False)

    def flipped(case):
        return -_ng_reference(case)

    return [
        Variant("forward difference", "that is the forward difference (f(x + eps) - f(x)) / eps, "
                "whose error shrinks like eps; the central difference "
                "(f(x + eps) - f(x - eps)) / (2 eps) errs like eps²", forward),
        Variant("missing the 2", "your gradient is twice too large: the central difference "
                "divides by 2·eps, the distance between x - eps and x + eps", no_half),
        Variant("x not restored", "each entry must be put back after it is nudged: your "
                "later entries were computed at a shifted x", not_restored),
        Variant("sign", "your gradient has the wrong sign: (f(x + eps) - f(x - eps)), "
                "not the other way round", flipped),
    ]


def _ng_diagnose(case, got, expected):
    if np.shape(got) != np.shape(expected):
        return "the gradient has the shape of x: one partial derivative per entry"
    return None


register(Exercise(
    name="numerical_gradient", arg_names=NG_ARGS, visible=_ng_visible, hidden=_ng_hidden,
    reference=_ng_reference, bugs=_ng_variants(), run=_ng_run, diagnose=_ng_diagnose,
    # A finite difference in float32 loses half its digits: the exercise is float64 only.
    float32_cases=0,
))


# --------------------------------------------------------------------------------------
# Shared machinery for the backward exercises.

def _grad(tensor):
    return tensor.grad.detach().numpy().copy()


def _grads(torch_fn, case, params, transform=None):
    """The real helper: forward with torch_fn, backward(grad_output), gradients as NumPy.

    case.args = (grad_output, input, *param values in ``params`` order, *rest positional)
    ``transform`` may change the tensors before the forward (for variants).
    """
    import warnings
    t = oracle.torch()
    grad_output, x = case.args[0], case.args[1]
    values = case.args[2:2 + len(params)]
    rest = case.args[2 + len(params):]
    xt = t.from_numpy(np.ascontiguousarray(x).copy()).requires_grad_(True)
    tensors = [None if v is None else t.from_numpy(np.ascontiguousarray(v).copy()).requires_grad_(True)
               for v in values]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inputs = (xt, *tensors)
        if transform is not None:
            inputs = transform(*inputs)
        out = torch_fn(inputs[0], *inputs[1:], *rest, **case.kwargs)
        out.backward(t.from_numpy(np.ascontiguousarray(grad_output).copy()))
    gi = np.zeros_like(x) if xt.grad is None else _grad(xt)
    if not params:
        return gi
    grads = [np.array(True) if v is None else (np.zeros_like(v) if tt.grad is None else _grad(tt))
             for v, tt in zip(values, tensors)]
    return (gi, *grads)


def _none_run_positional(n_params):
    """Parameters are positional args 2..2+n_params: their gradient must be None when None."""
    def run(fn, case):
        got = fn(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs))
        if not isinstance(got, (tuple, list)) or len(got) != n_params + 1:
            return got
        got = list(got)
        for i in range(n_params):
            if case.args[2 + i] is None:
                got[1 + i] = np.array(got[1 + i] is None)
        return tuple(got)
    return run


def _none_diagnose(n_params, names, extra=None):
    def diagnose(case, got, expected):
        if isinstance(got, (tuple, list)) and len(got) == n_params + 1:
            for i in range(n_params):
                if case.args[2 + i] is None and isinstance(got[1 + i], np.ndarray) \
                        and got[1 + i].dtype == bool and not got[1 + i]:
                    return f"{names[i]} is None here: return None as its gradient"
            exp = expected
            for i, (e, g) in enumerate(zip(exp, got)):
                if np.shape(e) != np.shape(g) and np.asarray(e).dtype != bool:
                    label = ("grad_input",) + tuple(f"grad_{n}" for n in names)
                    return f"{label[i]} must have the shape of {('input',) + tuple(names)}[{i}]: " \
                           f"expected {np.shape(e)}, got {np.shape(g)}"
        elif not isinstance(got, (tuple, list)) and n_params:
            return "return a tuple (grad_input, grad_weight, grad_bias)"
        if extra is not None:
            return extra(case, got, expected)
        return None
    return diagnose


def _size(size, k, s, p, d, ceil=False):
    span = size + 2 * p - d * (k - 1) - 1
    if ceil:
        out = -(-span // s) + 1
        if (out - 1) * s >= size + p:
            out -= 1
        return out
    return span // s + 1


# --------------------------------------------------------------------------------------
# conv2d_backward

CONV_ARGS = ("grad_output", "input", "weight", "bias", "stride", "padding", "dilation", "groups")


def conv_case(rng, n=2, c_in=2, c_out=3, size=(6, 5), k=(3, 2), stride=1, padding=0,
              dilation=1, groups=1, bias=True, batched=True, note=""):
    x = _arr(rng, *(((n,) if batched else ()) + (c_in,) + tuple(size)))
    w = _arr(rng, c_out, max(c_in // groups, 1), *k)
    b = _arr(rng, c_out) if bias else None
    (sh, sw), (dh, dw) = _pair(stride), _pair(dilation)
    if padding == "same":
        out = tuple(size)
    else:
        ph, pw = (0, 0) if padding == "valid" else _pair(padding)
        out = (_size(size[0], k[0], sh, ph, dh), _size(size[1], k[1], sw, pw, dw))
    go_shape = ((n,) if batched else ()) + (c_out,) + tuple(max(o, 1) for o in out)
    return Case((_arr(rng, *go_shape), x, w, b),
                _opt(stride=stride, padding=padding, dilation=dilation, groups=groups),
                note=note or f"stride={stride}, padding={padding!r}, dilation={dilation}, groups={groups}")


def _conv_visible(rng):
    return [
        conv_case(rng, n=1, c_in=1, c_out=1, size=(4, 4), k=(2, 2), bias=False,
                  note="one channel, no bias: grad_bias is None"),
        conv_case(rng, note="several channels, bias"),
        conv_case(rng, stride=2, padding=1, note="stride 2, padding 1"),
    ]


def _conv_hidden(rng):
    out = []
    for stride, padding, dilation, groups in itertools.product(
            (1, 2, (2, 1)), (0, 1, (1, 2), "same", "valid"), (1, 2), (1, 2)):
        if padding == "same" and stride != 1:
            continue
        if rng.random() < 0.4:
            continue
        c_in, c_out = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))
        k = tuple(int(v) for v in rng.integers(1, 4, size=2))
        size = tuple(int(v) for v in rng.integers(5, 9, size=2))
        out.append(conv_case(rng, n=int(rng.integers(1, 4)), c_in=c_in, c_out=c_out, size=size, k=k,
                             stride=stride, padding=padding, dilation=dilation, groups=groups,
                             bias=bool(rng.integers(0, 2))))
    out += [
        conv_case(rng, n=3, size=(7, 7), k=(3, 3), stride=3, padding=1,
                  note="stride 3: the last rows are never seen by a window"),
        conv_case(rng, size=(4, 3), k=(4, 3), note="kernel as large as the input"),
        conv_case(rng, n=1, c_in=1, c_out=1, size=(1, 1), k=(1, 1), note="size-1 everything"),
        conv_case(rng, c_in=4, c_out=4, groups=4, size=(5, 6), k=(3, 3), padding=1,
                  note="depthwise (groups = C)"),
        conv_case(rng, c_in=3, c_out=2, size=(6, 6), k=(2, 3), padding="same", dilation=2,
                  note="'same' with an even kernel and dilation 2"),
        conv_case(rng, n=2, c_in=2, size=(5, 6), batched=False, note="unbatched (C, H, W)"),
        conv_case(rng, c_in=2, c_out=3, groups=2, note="groups do not divide out_channels (torch refuses)"),
        conv_case(rng, size=(3, 3), k=(3, 3), stride=2, padding="same",
                  note="'same' with stride 2 (torch refuses)"),
    ]
    return out


def _conv_reference(case):
    return _grads(oracle.F().conv2d, case, ("weight", "bias"))


def _flip_weight(x, w, *rest):
    return (x, w.flip(-1, -2), *rest)


def _conv_variants(fn_name):
    def ref(case):
        return _grads(getattr(oracle.F(), fn_name), case, ("weight", "bias"))

    def unflipped(case):
        w = case.args[2]
        if w.shape[-1] == 1 and w.shape[-2] == 1:
            return None
        good = ref(case)
        bad = _grads(getattr(oracle.F(), fn_name), case, ("weight", "bias"), transform=_flip_weight)
        return (bad[0], good[1], good[2])

    def weight_averaged(case):
        x = case.args[1]
        n = x.shape[0] if x.ndim == 4 else 1
        if n == 1:
            return None
        good = ref(case)
        return (good[0], good[1] / n, good[2])

    def bias_mean(case):
        if case.args[3] is None:
            return None
        go = case.args[0]
        good = ref(case)
        count = go.size // go.shape[-3]
        if count == 1:
            return None
        return (good[0], good[1], good[2] / count)

    def bias_wrong_axes(case):
        go = case.args[0]
        if case.args[3] is None or go.ndim != 4 or go.shape[0] == 1:
            return None
        good = ref(case)
        return (good[0], good[1], oracle.torch().from_numpy(go).sum((2, 3))[0].numpy())

    return [
        Variant("grad_input with the kernel unflipped", "grad_input is a *full* correlation "
                "with the kernel rotated by 180°: each input pixel collects grad_output "
                "through the weight that touched it, w[..., kH-1-p, kW-1-q] seen from the "
                "output — you used the kernel unrotated", unflipped),
        Variant("grad_weight averaged over the batch", "grad_weight is the SUM over the batch "
                "(and over output positions) of input window × grad_output: you divided by N",
                weight_averaged),
        Variant("grad_bias averaged", "grad_bias is the sum of grad_output over (N, H_out, "
                "W_out) per channel, not the mean", bias_mean),
        Variant("grad_bias summed over the wrong axes", "grad_bias sums grad_output over "
                "the batch and the spatial axes (0, 2, 3): you kept the batch axis or summed "
                "the channels", bias_wrong_axes),
    ]


register(Exercise(
    name="conv2d_backward", arg_names=CONV_ARGS, visible=_conv_visible, hidden=_conv_hidden,
    reference=_conv_reference, bugs=_conv_variants("conv2d"),
    run=_none_run_positional(2), diagnose=_none_diagnose(2, ("weight", "bias")),
))


# conv2d_backward_loop: the readable version. Small cases: a Python loop must be quick.
def _conv_loop_hidden(rng):
    out = []
    for stride, padding, bias in itertools.product((1, 2, (2, 1)), (0, 1, (0, 2)), (True, False)):
        out.append(conv_case(rng, n=int(rng.integers(1, 3)), c_in=2, c_out=2, size=(5, 4), k=(3, 2),
                             stride=stride, padding=padding, bias=bias))
    out += [conv_case(rng, n=2, size=(3, 3), k=(3, 3), note="kernel as large as the input"),
            conv_case(rng, n=3, c_in=1, c_out=2, size=(4, 4), k=(2, 2), stride=2,
                      note="three samples: grad_weight sums over all of them")]
    return out


register(Exercise(
    name="conv2d_backward_loop", arg_names=CONV_ARGS, visible=_conv_visible,
    hidden=_conv_loop_hidden, reference=_conv_reference, bugs=_conv_variants("conv2d"),
    run=_none_run_positional(2), diagnose=_none_diagnose(2, ("weight", "bias")),
))


# --------------------------------------------------------------------------------------
# conv_transpose2d_backward

CONVT_ARGS = ("grad_output", "input", "weight", "bias", "stride", "padding", "output_padding",
              "groups", "dilation")


def convt_case(rng, n=2, c_in=2, c_out=3, size=(4, 3), k=(3, 2), stride=1, padding=0,
               output_padding=0, groups=1, dilation=1, bias=True, batched=True, note=""):
    x = _arr(rng, *(((n,) if batched else ()) + (c_in,) + tuple(size)))
    w = _arr(rng, c_in, max(c_out // groups, 1), *k)
    b = _arr(rng, c_out) if bias else None
    s, p, op, d = _pair(stride), _pair(padding), _pair(output_padding), _pair(dilation)
    out = tuple(max((size[i] - 1) * s[i] - 2 * p[i] + d[i] * (k[i] - 1) + op[i] + 1, 1) for i in range(2))
    go = _arr(rng, *(((n,) if batched else ()) + (c_out,) + out))
    return Case((go, x, w, b), _opt(stride=stride, padding=padding, output_padding=output_padding,
                                    groups=groups, dilation=dilation),
                note=note or f"stride={stride}, padding={padding}, output_padding={output_padding}, "
                             f"groups={groups}, dilation={dilation}")


def _convt_visible(rng):
    return [
        convt_case(rng, n=1, c_in=1, c_out=1, size=(3, 3), k=(2, 2), bias=False,
                   note="one channel, no bias"),
        convt_case(rng, stride=2, padding=1, k=(4, 4), note="the recipe that doubles H and W"),
        convt_case(rng, stride=2, output_padding=1, note="output_padding 1"),
    ]


def _convt_hidden(rng):
    out = []
    for stride, padding, output_padding, dilation, groups in itertools.product(
            (1, 2, (3, 2)), (0, 1, (1, 0)), (0, 1), (1, 2), (1, 2)):
        if rng.random() < 0.6:
            continue
        s, d = _pair(stride), _pair(dilation)
        if any(output_padding >= max(si, di) for si, di in zip(s, d)):
            continue
        c_in, c_out = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))
        k = tuple(int(v) for v in rng.integers(2, 4, size=2))
        size = tuple(int(v) for v in rng.integers(2, 5, size=2))
        out.append(convt_case(rng, n=int(rng.integers(1, 3)), c_in=c_in, c_out=c_out, size=size,
                              k=k, stride=stride, padding=padding, output_padding=output_padding,
                              dilation=dilation, groups=groups, bias=bool(rng.integers(0, 2))))
    out += [
        convt_case(rng, n=1, c_in=1, c_out=1, size=(1, 1), k=(1, 1), note="size-1 everything"),
        convt_case(rng, c_in=3, c_out=3, groups=3, stride=2, padding=1, k=(3, 3),
                   note="depthwise (groups = C)"),
        convt_case(rng, size=(3, 4), batched=False, stride=2, note="unbatched (C, H, W)"),
        convt_case(rng, stride=1, dilation=2, output_padding=1,
                   note="output_padding below the dilation, stride 1"),
        convt_case(rng, stride=2, output_padding=2, note="output_padding = stride (torch refuses)"),
    ]
    return out


def _convt_reference(case):
    return _grads(oracle.F().conv_transpose2d, case, ("weight", "bias"))


def _convt_variants():
    base = _conv_variants("conv_transpose2d")

    def axes_swapped(case):
        w = case.args[2]
        if w.shape[0] != w.shape[1] or case.kwargs.get("groups", 1) != 1:
            return None
        good = _convt_reference(case)
        return (good[0], np.swapaxes(good[1], 0, 1).copy(), good[2])

    base[0] = Variant("grad_input with the kernel flipped", "the input gradient of a "
                      "transposed convolution is an ordinary conv2d (cross-correlation, no "
                      "flip) of grad_output with the same weight: you flipped the kernel",
                      base[0].compute)
    return base + [Variant("grad_weight axes swapped", "a transposed convolution's weight "
                           "is (C_in, C_out / groups, kH, kW): your grad_weight has its first "
                           "two axes the other way round", axes_swapped)]


register(Exercise(
    name="conv_transpose2d_backward", arg_names=CONVT_ARGS, visible=_convt_visible,
    hidden=_convt_hidden, reference=_convt_reference, bugs=_convt_variants(),
    run=_none_run_positional(2), diagnose=_none_diagnose(2, ("weight", "bias")),
))


# --------------------------------------------------------------------------------------
# Pooling: max_pool2d_backward, avg_pool2d_backward, adaptive_avg_pool2d_backward

MAXPOOL_ARGS = ("grad_output", "input", "kernel_size", "stride", "padding", "dilation", "ceil_mode")
AVGPOOL_ARGS = ("grad_output", "input", "kernel_size", "stride", "padding", "ceil_mode",
                "count_include_pad", "divisor_override")


def pool_case(rng, shape, kernel, stride=None, padding=0, dilation=1, ceil_mode=False,
              ties=False, avg=False, note="", **avg_options):
    x = rng.integers(0, 3, size=shape).astype(np.float64) if ties else _arr(rng, *shape)
    (kh, kw), (ph, pw), (dh, dw) = _pair(kernel), _pair(padding), _pair(dilation)
    sh, sw = _pair(kernel if stride is None else stride)
    if avg:
        dh = dw = 1
    out = (_size(shape[-2], kh, sh, ph, dh, ceil_mode), _size(shape[-1], kw, sw, pw, dw, ceil_mode))
    go = _arr(rng, *(tuple(shape[:-2]) + tuple(max(o, 1) for o in out)))
    kwargs = {} if stride is None else {"stride": stride}
    kwargs.update(_opt(padding=padding, ceil_mode=ceil_mode, **avg_options))
    if not avg:
        kwargs.update(_opt(dilation=dilation))
    return Case((go, x, kernel), kwargs, note=note or (
        f"kernel={kernel}, stride={stride}, padding={padding}"
        + ("" if avg else f", dilation={dilation}") + f", ceil_mode={ceil_mode}"
        + "".join(f", {k}={v}" for k, v in avg_options.items())
        + (", integer input with ties" if ties else "")))


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
        pool_case(rng, (1, 1, 5, 5), 2, padding=2, note="padding above half the kernel (torch refuses)"),
    ]
    return out


def _maxpool_reference(case):
    return _grads(oracle.F().max_pool2d, case, ())


def _pool_windows(case):
    """Unfolded windows (N*C, k*k, L) of the -inf padded input, and fold arguments."""
    t = oracle.torch()
    go, x, kernel = case.args
    kw = case.kwargs
    k = _pair(kernel)
    s = _pair(kw.get("stride", kernel) or kernel)
    p, d = _pair(kw.get("padding", 0)), _pair(kw.get("dilation", 1))
    xt = t.from_numpy(x.copy()).reshape(-1, 1, *x.shape[-2:])
    ho, wo = go.shape[-2:]
    # room for the ceil_mode windows
    need_h = (ho - 1) * s[0] + d[0] * (k[0] - 1) + 1
    need_w = (wo - 1) * s[1] + d[1] * (k[1] - 1) + 1
    pad = (p[1], max(need_w - x.shape[-1] - p[1], p[1]), p[0], max(need_h - x.shape[-2] - p[0], p[0]))
    padded = oracle.F().pad(xt, pad, value=-math.inf)
    cols = oracle.F().unfold(padded, k, dilation=d, stride=s)[..., :]
    cols = cols.reshape(cols.shape[0], k[0] * k[1], -1)
    # keep only the first ho*wo windows in each row layout
    hp, wp = padded.shape[-2:]
    n_h, n_w = (hp - d[0] * (k[0] - 1) - 1) // s[0] + 1, (wp - d[1] * (k[1] - 1) - 1) // s[1] + 1
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


def _maxpool_tie_variant(mode):
    def compute(case):
        t = oracle.torch()
        go, x, kernel = case.args
        cols, shape, pad, k, s, d, n_hw = _pool_windows(case)
        best = cols.max(dim=1, keepdim=True).values
        ties = (cols == best).to(t.float64)
        if float(ties.sum(dim=1).max()) <= 1:
            return None
        if mode == "last":
            flipped = t.flip(cols == best, dims=(1,)).to(t.float64)
            first_of_flipped = (t.cumsum(flipped, dim=1) == 1) & (flipped > 0)
            ties = t.flip(first_of_flipped, dims=(1,)).to(t.float64)
        elif mode == "split":
            ties = ties / ties.sum(dim=1, keepdim=True)
        gt = t.from_numpy(go.copy()).reshape(-1, 1, *go.shape[-2:])
        return _fold_back(ties * gt, shape, pad, k, s, d, n_hw, x.shape)
    return compute


def _maxpool_overwrite(case):
    """Overlapping windows written with `=` instead of `+=`: the last window wins."""
    t = oracle.torch()
    go, x, kernel = case.args
    s = _pair(case.kwargs.get("stride", kernel) or kernel)
    if all(si >= ki * di for si, ki, di in zip(s, _pair(kernel), _pair(case.kwargs.get("dilation", 1)))):
        return None
    xt = t.from_numpy(x.copy()).reshape(-1, 1, *x.shape[-2:])
    _, idx = oracle.F().max_pool2d(xt, kernel, return_indices=True,
                                   **{k: v for k, v in case.kwargs.items()})
    flat_idx = idx.reshape(idx.shape[0], -1)
    gflat = t.from_numpy(go.copy()).reshape(idx.shape[0], -1)
    grad = t.zeros(idx.shape[0], x.shape[-2] * x.shape[-1], dtype=t.float64)
    grad.scatter_(1, flat_idx, gflat)
    return grad.reshape(x.shape).numpy()


def _maxpool_variants():
    return [
        Variant("every tied maximum", "with ties the gradient goes to ONE element per window: "
                "torch picks the first maximum in window order (row by row), as np.argmax "
                "does — you sent it to every tied maximum", _maxpool_tie_variant("all")),
        Variant("last tied maximum", "with ties torch sends the gradient to the FIRST maximum "
                "in window order; you picked the last", _maxpool_tie_variant("last")),
        Variant("split among ties", "with ties torch does not split the gradient: the whole "
                "of it goes to the first maximum in window order", _maxpool_tie_variant("split")),
        Variant("overwrite", "where windows overlap, one element can be the maximum of several "
                "windows: accumulate (np.add.at or +=), do not overwrite", _maxpool_overwrite),
    ]


register(Exercise(
    name="max_pool2d_backward", arg_names=MAXPOOL_ARGS, visible=_maxpool_visible,
    hidden=_maxpool_hidden, reference=_maxpool_reference, bugs=_maxpool_variants(),
))


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
        pool_case(rng, (1, 1, 5, 5), 2, padding=2, avg=True,
                  note="padding above half the kernel (torch refuses)"),
    ]
    return out


def _avgpool_reference(case):
    return _grads(oracle.F().avg_pool2d, case, ())


def _avgpool_variants():
    def with_kwargs(**changes):
        def compute(case):
            kwargs = dict(case.kwargs, **changes)
            if kwargs == case.kwargs:
                return None
            return _grads(oracle.F().avg_pool2d, Case(case.args, kwargs), ())
        return compute

    def include_ignored(case):
        if case.kwargs.get("count_include_pad", True) or case.kwargs.get("divisor_override"):
            return None
        return with_kwargs(count_include_pad=True)(case)

    def not_divided(case):
        go, x, kernel = case.args
        ones = Case((go, x, kernel), dict(case.kwargs, divisor_override=1))
        return _grads(oracle.F().avg_pool2d, ones, ())

    def override_ignored(case):
        if case.kwargs.get("divisor_override") is None:
            return None
        kwargs = dict(case.kwargs)
        del kwargs["divisor_override"]
        return _grads(oracle.F().avg_pool2d, Case(case.args, kwargs), ())

    def k2_divisor(case):
        go, x, kernel = case.args
        kh, kw = _pair(kernel)
        if case.kwargs.get("divisor_override") is not None or \
                not case.kwargs.get("count_include_pad", True) or not case.kwargs.get("ceil_mode"):
            return None
        kwargs = dict(case.kwargs, divisor_override=kh * kw)
        wrong = _grads(oracle.F().avg_pool2d, Case(case.args, kwargs), ())
        return wrong

    return [
        Variant("gradient not divided", "each input in a window receives grad_output divided "
                "by the window's divisor (kernel area, or what count_include_pad / "
                "divisor_override say): you did not divide", not_divided),
        Variant("count_include_pad ignored", "with count_include_pad=False the divisor counts "
                "only the real input elements under the window, not the padding", include_ignored),
        Variant("divisor_override ignored", "divisor_override replaces the divisor of every "
                "window", override_ignored),
        Variant("always kH·kW", "with ceil_mode a window that runs past the padding divides "
                "by the part of it inside the padded input, not by kH·kW", k2_divisor),
    ]


register(Exercise(
    name="avg_pool2d_backward", arg_names=AVGPOOL_ARGS, visible=_avgpool_visible,
    hidden=_avgpool_hidden, reference=_avgpool_reference, bugs=_avgpool_variants(),
))


ADAPTIVE_ARGS = ("grad_output", "input", "output_size")


def adaptive_case(rng, shape, output_size, note=""):
    x = _arr(rng, *shape)
    out = tuple(shape[-2 + i] if o is None else o for i, o in enumerate(_pair(output_size)))
    return Case((_arr(rng, *(tuple(shape[:-2]) + out)), x, output_size), {},
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
    return _grads(oracle.F().adaptive_avg_pool2d, case, ())


def _adaptive_variants():
    def loop_grad(case, rule):
        t = oracle.torch()
        go, x, size = case.args
        h, w = x.shape[-2:]
        ho, wo = go.shape[-2:]
        grad = t.zeros(x.shape, dtype=t.float64)
        g = t.from_numpy(go.copy())
        for i in range(ho):
            hs, he = rule(i, h, ho)
            for j in range(wo):
                ws, we = rule(j, w, wo)
                if he <= hs or we <= ws:
                    continue
                grad[..., hs:he, ws:we] += (g[..., i, j] / ((he - hs) * (we - ws)))[..., None, None]
        return grad.numpy()

    def floor_end(case):
        return loop_grad(case, lambda i, n, o: (i * n // o, (i + 1) * n // o))

    def uniform(case):
        return loop_grad(case, lambda i, n, o: (i * (n // o), i * (n // o) + max(n // o, 1)))

    def not_divided(case):
        t = oracle.torch()
        go, x, size = case.args
        h, w = x.shape[-2:]
        ho, wo = go.shape[-2:]
        if h == ho and w == wo:
            return None
        g = t.from_numpy(go.copy())
        grad = t.zeros(x.shape, dtype=t.float64)
        for i in range(ho):
            hs, he = i * h // ho, -(-(i + 1) * h // ho)
            for j in range(wo):
                ws, we = j * w // wo, -(-(j + 1) * w // wo)
                grad[..., hs:he, ws:we] += g[..., i, j][..., None, None]
        return grad.numpy()

    def ceil_start(case):
        return loop_grad(case, lambda i, n, o: (-(-i * n // o), -(-(i + 1) * n // o)))

    return [
        Variant("window start rounded up", "adaptive windows START at floor(i·H/H_out) and end "
                "at ceil((i+1)·H/H_out): you rounded the start up", ceil_start),
        Variant("window end rounded down", "adaptive windows run from floor(i·H/H_out) to "
                "ceil((i+1)·H/H_out): you rounded the end down", floor_end),
        Variant("uniform windows", "adaptive windows are not all H // H_out wide: they run "
                "from floor(i·H/H_out) to ceil((i+1)·H/H_out) and may overlap", uniform),
        Variant("not divided", "each element of a window receives grad_output divided by "
                "the window's area: you did not divide", not_divided),
    ]


register(Exercise(
    name="adaptive_avg_pool2d_backward", arg_names=ADAPTIVE_ARGS, visible=_adaptive_visible,
    hidden=_adaptive_hidden, reference=_adaptive_reference, bugs=_adaptive_variants(),
))


# --------------------------------------------------------------------------------------
# Normalizations (training-mode batch norm, layer norm, group norm)

BN_ARGS = ("grad_output", "input", "weight", "bias", "eps")
LN_ARGS = ("grad_output", "input", "normalized_shape", "weight", "bias", "eps")
GN_ARGS = ("grad_output", "input", "num_groups", "weight", "bias", "eps")


def _scaled(rng, shape):
    """Inputs with a mean and a scale per position, as real activations have."""
    return _arr(rng, *shape) * rng.uniform(0.5, 3) + rng.uniform(-2, 2)


def bn_case(rng, shape, weight=True, bias=True, eps=None, note=""):
    c = shape[1]
    x = _scaled(rng, shape)
    w = rng.uniform(0.5, 2, c) * rng.choice([-1, 1], c) if weight else None
    b = _arr(rng, c) if bias else None
    kwargs = {} if eps is None else {"eps": eps}
    return Case((_arr(rng, *shape), x, w, b), kwargs,
                note=note or f"input {shape}, weight {'given' if weight else 'None'}, "
                             f"bias {'given' if bias else 'None'}")


def _bn_batch_norm(x, weight, bias, eps=1e-5):
    return oracle.F().batch_norm(x, None, None, weight, bias, training=True, eps=eps)


def _bn_visible(rng):
    return [
        bn_case(rng, (4, 3), note="(N, C) as after a linear layer"),
        bn_case(rng, (2, 3, 3, 3), note="(N, C, H, W)"),
        bn_case(rng, (3, 2, 2, 2), weight=False, bias=False, note="no affine: grad_weight and grad_bias are None"),
    ]


def _bn_hidden(rng):
    out = []
    for ndim, weight, bias in itertools.product((2, 3, 4, 5), (True, False), (True, False)):
        shape = (int(rng.integers(2, 5)), int(rng.integers(1, 4))) + \
            tuple(int(v) for v in rng.integers(1, 5, size=ndim - 2))
        out.append(bn_case(rng, shape, weight, bias, eps=None if rng.random() < 0.6 else 1e-3))
    out += [
        bn_case(rng, (1, 2, 3, 3), note="batch of one: statistics over H and W only"),
        bn_case(rng, (16, 4, 2, 2), eps=0.5, note="large eps"),
        bn_case(rng, (1, 3), note="one value per channel (torch refuses in training)"),
    ]
    return out


def _bn_reference(case):
    return _grads(_bn_batch_norm, case, ("weight", "bias"))


def _norm_variants(kind, fn, params=("weight", "bias")):
    """Variants shared by the three normalizations, built from torch autograd."""
    def detached_stats(case):
        """Mean and variance treated as constants: grad_input = weight · grad_output / std."""
        good = _grads(fn, case, params)
        return (_detached_grad(kind, case, None),) + tuple(good[1:])

    def no_xhat_term(case):
        good = _grads(fn, case, params)
        gi = _detached_grad(kind, case, None, keep_mean=True)
        return (gi,) + tuple(good[1:])

    def weight_not_xhat(case):
        if case.args[2] is None:
            return None
        good = _grads(fn, case, params)
        go = case.args[0]
        axes = _param_sum_axes(kind, case)
        return (good[0], go.sum(axis=axes).reshape(good[1].shape), good[2])

    def bias_mean(case):
        if case.args[3] is None:
            return None
        good = _grads(fn, case, params)
        go = case.args[0]
        axes = _param_sum_axes(kind, case)
        count = int(np.prod([go.shape[a] for a in axes]))
        if count == 1:
            return None
        return (good[0], good[1], good[2] / count)

    return [
        Variant("mean terms missing", "the mean and variance depend on every input: "
                "grad_input = weight·rstd·(grad_output − mean(grad_output) − x̂·mean(grad_output·x̂)) "
                "— you treated them as constants (only weight·rstd·grad_output)", detached_stats),
        Variant("x̂ term missing", "grad_input also has the term from the variance: "
                "− x̂·mean(grad_output·x̂); you kept only the mean's term", no_xhat_term),
        Variant("grad_weight not multiplied by x̂", "grad_weight = sum of grad_output · x̂ "
                "(the normalized input), not of grad_output alone", weight_not_xhat),
        Variant("grad_bias averaged", "grad_bias is the SUM of grad_output over every axis "
                "the parameter is shared across, not the mean", bias_mean),
    ]


def _param_sum_axes(kind, case):
    x = case.args[1]
    if kind == "bn":
        return (0,) + tuple(range(2, x.ndim))
    if kind == "gn":
        return (0,) + tuple(range(2, x.ndim))
    shape = case.args[2]
    k = 1 if isinstance(shape, int) else len(shape)
    return tuple(range(x.ndim - k))


def _detached_grad(kind, case, _unused, keep_mean=False):
    """grad_input with the variance (and, unless keep_mean, the mean) held constant."""
    t = oracle.torch()
    go, x = case.args[0], case.args[1]
    xt = t.from_numpy(x.copy()).requires_grad_(True)
    eps = case.kwargs.get("eps", 1e-5)
    if kind == "bn":
        axes = (0,) + tuple(range(2, x.ndim))
        view = xt
        mean = view.mean(dim=axes, keepdim=True)
        var = view.var(dim=axes, keepdim=True, unbiased=False)
        w = case.args[2]
        shape = (1, -1) + (1,) * (x.ndim - 2)
        scale = 1 if w is None else t.from_numpy(w.copy()).reshape(shape)
    elif kind == "ln":
        ns = case.args[2]
        k = 1 if isinstance(ns, int) else len(ns)
        axes = tuple(range(x.ndim - k, x.ndim))
        view = xt
        mean = view.mean(dim=axes, keepdim=True)
        var = view.var(dim=axes, keepdim=True, unbiased=False)
        w = case.args[3]
        scale = 1 if w is None else t.from_numpy(w.copy())
    else:
        g = case.args[2]
        n, c = x.shape[:2]
        view = xt.reshape(n, g, -1)
        mean = view.mean(dim=2, keepdim=True)
        var = view.var(dim=2, keepdim=True, unbiased=False)
        w = case.args[3]
        shape = (1, -1) + (1,) * (x.ndim - 2)
        scale = 1 if w is None else t.from_numpy(w.copy()).reshape(shape)
    mean_used = mean if keep_mean else mean.detach()
    xhat = (view - mean_used) / t.sqrt(var.detach() + eps)
    if kind == "gn":
        xhat = xhat.reshape(x.shape)
    (xhat * scale).backward(t.from_numpy(go.copy()))
    return xt.grad.numpy().copy()


register(Exercise(
    name="batch_norm_backward", arg_names=BN_ARGS, visible=_bn_visible, hidden=_bn_hidden,
    reference=_bn_reference, bugs=_norm_variants("bn", _bn_batch_norm) + [
        Variant("unbiased variance", "training-mode batch norm normalizes with the BIASED "
                "variance (divide by N·H·W); the unbiased one is only for running_var",
                lambda case: _grads(_bn_unbiased, case, ("weight", "bias"))),
    ],
    run=_none_run_positional(2), diagnose=_none_diagnose(2, ("weight", "bias")),
))


def _bn_unbiased(x, weight, bias, eps=1e-5):
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mean = x.mean(dim=axes, keepdim=True)
    var = x.var(dim=axes, keepdim=True, unbiased=True)
    out = (x - mean) / (var + eps).sqrt()
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def ln_case(rng, shape, k, weight=True, bias=True, eps=None, as_int=False, note=""):
    ns = tuple(shape[len(shape) - k:])
    x = _scaled(rng, shape)
    w = rng.uniform(0.5, 2, ns) * rng.choice([-1, 1], ns) if weight else None
    b = _arr(rng, *ns) if bias else None
    kwargs = {} if eps is None else {"eps": eps}
    normalized = ns[0] if as_int and k == 1 else ns
    return Case((_arr(rng, *shape), x, normalized, w, b), kwargs,
                note=note or f"input {shape}, normalized_shape {normalized!r}")


def _ln_visible(rng):
    return [
        ln_case(rng, (3, 5), 1, as_int=True, note="(N, features), normalized_shape an int"),
        ln_case(rng, (2, 3, 4, 4), 3, note="LayerNorm([C, H, W])"),
        ln_case(rng, (2, 4, 3), 1, weight=False, bias=False, note="no affine"),
    ]


def _ln_hidden(rng):
    out = []
    for ndim, weight, bias in itertools.product((2, 3, 4), (True, False), (True, False)):
        shape = tuple(int(v) for v in rng.integers(1, 5, size=ndim))
        shape = (shape[0],) + tuple(max(s, 2) for s in shape[1:])
        k = int(rng.integers(1, ndim + 1))
        out.append(ln_case(rng, shape, k, weight, bias, eps=None if rng.random() < 0.6 else 1e-3))
    out += [
        ln_case(rng, (2, 6), 1, as_int=True, eps=0.3, note="large eps"),
        ln_case(rng, (3, 4, 5), 3, note="normalized_shape = the whole input shape"),
        ln_case(rng, (2, 4, 1), 1, note="normalizing over one element"),
        Case((_arr(rng, 2, 3, 4), _arr(rng, 2, 3, 4), (3,), None, None), {},
             note="normalized_shape that is not the input's trailing shape (torch refuses)"),
    ]
    return out


def _ln(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    return oracle.F().layer_norm(x, normalized_shape, weight, bias, eps)


def _ln_grads(case, transform=None):
    """layer_norm's parameters come after normalized_shape: reorder for _grads."""
    go, x, ns, w, b = case.args
    shuffled = Case((go, x, w, b), case.kwargs)

    def fn(xt, wt, bt, **kwargs):
        return oracle.F().layer_norm(xt, (ns,) if isinstance(ns, int) else ns, wt, bt, **kwargs)
    return _grads(fn, shuffled, ("weight", "bias"), transform)


def _affine_norm_variant(kind, grads, variant):
    """A shared norm variant for layer/group norm, whose case is (grad_output, input,
    normalized_shape or num_groups, weight, bias): their gradients, one term wrong."""
    def compute(case):
        good = grads(case)
        go, _, _, w, b = case.args
        if variant.name == "mean terms missing":
            return (_detached_grad(kind, case, None),) + tuple(good[1:])
        if variant.name == "x̂ term missing":
            return (_detached_grad(kind, case, None, keep_mean=True),) + tuple(good[1:])
        axes = _param_sum_axes(kind, case)
        if variant.name == "grad_weight not multiplied by x̂":
            return None if w is None else (good[0], go.sum(axis=axes), good[2])
        if variant.name == "grad_bias averaged":
            count = int(np.prod([go.shape[a] for a in axes]))
            return None if b is None or count == 1 else (good[0], good[1], good[2] / count)
        return None
    return Variant(variant.name, variant.hint, compute)


def _reordered(case):
    """A case whose args are (grad_output, input, weight, bias): for the shared variants."""
    return Case((case.args[0], case.args[1], case.args[3], case.args[4]), case.kwargs)


def _ln_variants():
    shared = _norm_variants("ln", None)

    wrap = functools.partial(_affine_norm_variant, "ln", _ln_grads)

    def batch_axis(case):
        """Normalized over the batch axis (batch norm's axes) instead of the trailing ones."""
        go, x, ns, w, b = case.args
        if x.shape[0] == 1:
            return None
        k = 1 if isinstance(ns, int) else len(ns)
        if k != x.ndim - 1:
            return None
        t = oracle.torch()
        xt = t.from_numpy(x.copy()).requires_grad_(True)
        mean = xt.mean(dim=0, keepdim=True)
        var = xt.var(dim=0, keepdim=True, unbiased=False)
        out = (xt - mean) / t.sqrt(var + case.kwargs.get("eps", 1e-5))
        if w is not None:
            out = out * t.from_numpy(w.copy())
        out.backward(t.from_numpy(go.copy()))
        good = _ln_grads(case)
        return (xt.grad.numpy().copy(),) + tuple(good[1:])

    return [wrap(v) for v in shared] + [
        Variant("statistics over the batch", "layer norm computes a mean and variance per "
                "SAMPLE, over the trailing normalized_shape axes; you took them over the "
                "batch axis (that is batch norm)", batch_axis)]


register(Exercise(
    name="layer_norm_backward", arg_names=LN_ARGS, visible=_ln_visible, hidden=_ln_hidden,
    reference=_ln_grads, bugs=_ln_variants(),
    run=lambda fn, case: _ln_run(fn, case),
    diagnose=lambda case, got, expected: _none_diagnose(2, ("weight", "bias"))(_reordered(case), got, expected),
))


def _ln_run(fn, case):
    got = fn(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs))
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        return got
    got = list(got)
    for slot, value in ((1, case.args[3]), (2, case.args[4])):
        if value is None:
            got[slot] = np.array(got[slot] is None)
    return tuple(got)


def gn_case(rng, shape, groups, weight=True, bias=True, eps=None, note=""):
    c = shape[1]
    x = _scaled(rng, shape)
    w = rng.uniform(0.5, 2, c) * rng.choice([-1, 1], c) if weight else None
    b = _arr(rng, c) if bias else None
    kwargs = {} if eps is None else {"eps": eps}
    return Case((_arr(rng, *shape), x, groups, w, b), kwargs,
                note=note or f"input {shape}, num_groups={groups}")


def _gn_visible(rng):
    return [
        gn_case(rng, (2, 4, 3, 3), 2, note="GroupNorm(2, 4)"),
        gn_case(rng, (1, 6, 2, 2), 3, weight=False, bias=False, note="no affine"),
        gn_case(rng, (2, 4, 5), 4, note="num_groups = C: instance norm"),
    ]


def _gn_hidden(rng):
    out = []
    for ndim, weight, bias in itertools.product((2, 3, 4, 5), (True, False), (True, False)):
        groups = int(rng.integers(1, 4))
        c = groups * int(rng.integers(1, 4))
        shape = (int(rng.integers(1, 4)), c) + tuple(int(v) for v in rng.integers(1, 4, size=ndim - 2))
        out.append(gn_case(rng, shape, groups, weight, bias, eps=None if rng.random() < 0.6 else 1e-3))
    out += [
        gn_case(rng, (2, 6, 3, 3), 1, note="num_groups = 1: layer norm over (C, H, W)"),
        gn_case(rng, (2, 8, 4, 4), 4, eps=0.2, note="large eps"),
        gn_case(rng, (2, 6, 3, 3), 4, note="num_groups does not divide C (torch refuses)"),
    ]
    return out


def _gn_grads(case, transform=None):
    go, x, groups, w, b = case.args
    shuffled = Case((go, x, w, b), case.kwargs)

    def fn(xt, wt, bt, **kwargs):
        if wt is None and bt is not None:
            # torch 2.13's group_norm backward fails ("tensor does not have a device") with
            # a bias but no weight; a weight of ones that needs no gradient is the same layer.
            wt = oracle.torch().ones(xt.shape[1], dtype=xt.dtype)
        return oracle.F().group_norm(xt, groups, wt, bt, **kwargs)
    return _grads(fn, shuffled, ("weight", "bias"), transform)


def _gn_variants():
    shared = _norm_variants("gn", None)

    wrap = functools.partial(_affine_norm_variant, "gn", _gn_grads)

    def interleaved(case):
        """Channel c in group c % G instead of c // (C / G)."""
        go, x, groups, w, b = case.args
        c = x.shape[1]
        if groups in (1, c) or c % groups:
            return None
        perm = np.arange(c).reshape(c // groups, groups).T.reshape(-1)
        inv = np.argsort(perm)
        permuted = Case((go[:, perm], x[:, perm], groups,
                         None if w is None else w[perm], None if b is None else b[perm]), case.kwargs)
        grads = _gn_grads(permuted)
        return tuple(g if g.ndim == 0 else (g[:, inv] if g.ndim == x.ndim else g[inv]) for g in grads)

    return [wrap(v) for v in shared] + [
        Variant("interleaved groups", "group g holds the CONSECUTIVE channels g·C/G … "
                "(g+1)·C/G − 1: reshape (N, C, ...) to (N, G, C/G, ...); you grouped every "
                "G-th channel", interleaved)]


register(Exercise(
    name="group_norm_backward", arg_names=GN_ARGS, visible=_gn_visible, hidden=_gn_hidden,
    reference=_gn_grads, bugs=_gn_variants(),
    run=lambda fn, case: _ln_run(fn, case),
    diagnose=lambda case, got, expected: _none_diagnose(2, ("weight", "bias"))(_reordered(case), got, expected),
))
