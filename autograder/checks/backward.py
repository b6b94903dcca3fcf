"""Chapter 12 — backward passes: numerical_gradient, and what every backward exercise of the
chapter shares (``backward_conv``, ``backward_pool``, ``backward_norm`` import it).

Each backward exercise takes ``grad_output`` and then the forward's own inputs and
parameters under their torch names, and returns ``grad_input`` or a tuple
``(grad_input, grad_weight, grad_bias)``. Where a parameter is None its gradient must be
None: the run function turns that position into a boolean "is None" so the comparison
stays on arrays. Expected values and known bugs are computed with torch.autograd in float64.
"""
from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import oracle
from ..compare import Hint
from ..exercise import Bug, Case, Exercise, register


def normal(rng: np.random.Generator, *shape: int) -> np.ndarray:
    """Standard normal values of ``shape`` (one draw from ``rng``)."""
    return rng.standard_normal(shape)


_DEFAULTS = {"stride": 1, "padding": 0, "dilation": 1, "groups": 1, "output_padding": 0,
             "ceil_mode": False, "count_include_pad": True, "divisor_override": None,
             "eps": 1e-5}


def non_default(**kwargs: Any) -> dict:
    """Keyword arguments without the ones left at torch's default (shorter feedback lines)."""
    return {k: v for k, v in kwargs.items() if not (k in _DEFAULTS and v == _DEFAULTS[k]
                                                      and type(v) is type(_DEFAULTS[k]))}


# --------------------------------------------------------------------------------------
# The shared machinery of the backward exercises.

def _grad(tensor):
    return tensor.grad.detach().numpy().copy()


def torch_grads(torch_fn: Callable, case: Case, params: tuple = (),
                transform: Callable | None = None):
    """Forward with ``torch_fn``, backward(grad_output): the gradients as NumPy arrays.

    ``case.args`` = (grad_output, input, *one value per name in ``params``, *the rest
    positional); ``transform`` may change the tensors before the forward (for a known bug).
    Returns grad_input alone when there are no ``params``, else (grad_input, *their
    gradients), a None parameter's gradient being ``np.array(True)`` ("is None").
    """
    import warnings
    t = oracle.torch()
    grad_output, x = case.args[0], case.args[1]
    values = case.args[2:2 + len(params)]
    rest = case.args[2 + len(params):]
    xt = t.from_numpy(np.ascontiguousarray(x).copy()).requires_grad_(True)
    tensors = [None if v is None
               else t.from_numpy(np.ascontiguousarray(v).copy()).requires_grad_(True)
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
             for v, tt in zip(values, tensors, strict=True)]
    return (gi, *grads)


def run_with_parameters(at: int) -> Callable:
    """The run of an exercise whose weight and bias are ``case.args[at]`` and
    ``case.args[at + 1]``: where one is None, its returned gradient becomes "is None"."""
    def run(fn, case):
        got = fn(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs))
        if not isinstance(got, (tuple, list)) or len(got) != 3:
            return got
        got = list(got)
        for slot in (1, 2):
            if case.args[at + slot - 1] is None:
                got[slot] = np.array(got[slot] is None)
        return tuple(got)
    return run


NONE_GRADIENT_NOT_NONE = Hint(
    "gradient-of-none-parameter-not-none",
    "a parameter that is None has no gradient: return None in its place")


def none_gradient_bug(at: int, reference: Callable) -> Bug:
    """An array (zeros, say) returned as the gradient of a parameter that is None; weight and
    bias are ``case.args[at]``, ``case.args[at + 1]``."""
    def answer(case):
        good = list(reference(case))
        for slot in (1, 2):
            if case.args[at + slot - 1] is None:
                good[slot] = np.array(False)
        return tuple(good)

    return Bug(NONE_GRADIENT_NOT_NONE.id, NONE_GRADIENT_NOT_NONE.text, answer,
               when=lambda case: case.args[at] is None or case.args[at + 1] is None)


def grad_bias_averaged(answer: Callable, when: Callable) -> Bug:
    """grad_bias divided by how many values each bias entry is shared across."""
    return Bug("grad-bias-averaged",
               "grad_bias is the SUM of grad_output over every axis the bias is shared across "
               "(the batch, and the spatial positions or the normalized elements), not the mean",
               answer, when=when)


NOT_A_TUPLE = Hint("gradients-not-a-tuple", "return a tuple (grad_input, grad_weight, grad_bias)")


def diagnose_gradients(at: int) -> Callable:
    """The diagnose of an exercise returning (grad_input, grad_weight, grad_bias), whose
    weight and bias are ``case.args[at]``, ``case.args[at + 1]``: a tuple expected, a None
    parameter's gradient None, each gradient of its parameter's shape."""
    names = ("input", "weight", "bias")

    def diagnose(case, got, expected):
        if not isinstance(got, (tuple, list)):
            return NOT_A_TUPLE
        if len(got) != 3:
            return None
        for slot in (1, 2):
            out = got[slot]
            if case.args[at + slot - 1] is None and isinstance(out, np.ndarray) \
                    and out.dtype == bool and not out:
                return NONE_GRADIENT_NOT_NONE
        for name, exp, out in zip(names, expected, got, strict=True):
            if np.shape(exp) != np.shape(out) and np.asarray(exp).dtype != bool:
                return Hint("gradient-shape-differs",
                            f"grad_{name} must have the shape of {name}: expected "
                            f"{np.shape(exp)}, got {np.shape(out)}")
        return None
    return diagnose


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

# The same functions in torch: (torch, x) -> a 0-D tensor.
MENU_TORCH = {
    "sum_sin": lambda t, x: t.sin(x).sum(),
    "sum_cubes": lambda t, x: (x ** 3).sum() / 3,
    "logsumexp": lambda t, x: t.log(t.exp(x).sum()),
    "weighted_squares": lambda t, x: (t.from_numpy(_weights(tuple(x.shape))) * x ** 2).sum(),
    "norm": lambda t, x: t.sqrt((x ** 2).sum()),
    "tanh_dot": lambda t, x: (t.tanh(x) * x).sum(),
}

NG_ARGS = ("f", "x", "eps")


def _ng_run(fn, case):
    name, x = case.args
    return fn(MENU_NUMPY[name], x.copy(), **copy.deepcopy(case.kwargs))


def _ng_case(rng, name, shape, eps=None, note=""):
    return Case((name, normal(rng, *shape)), {} if eps is None else {"eps": eps},
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


def _differences(case, *, one_sided=False, halved=True, restore=True, sign=1.0):
    """Torch's finite differences of the case's function at its x: central, halved and
    restored unless told otherwise."""
    t = oracle.torch()
    name, x = case.args
    eps = case.kwargs.get("eps", 1e-6)
    xt = t.from_numpy(x.copy())
    flat = xt.view(-1)
    grad = np.zeros(x.size)
    for i in range(x.size):
        old = float(flat[i])
        flat[i] = old + eps
        plus = float(MENU_TORCH[name](t, xt))
        flat[i] = old if one_sided else old - eps
        minus = float(MENU_TORCH[name](t, xt))
        grad[i] = sign * (plus - minus) / (2 * eps if halved and not one_sided else eps)
        if restore:
            flat[i] = old
    return grad.reshape(x.shape)


NG_BUGS = [
    Bug("forward-difference",
        "that is the forward difference (f(x + eps) - f(x)) / eps, whose error shrinks like "
        "eps; the central difference (f(x + eps) - f(x - eps)) / (2 eps) errs like eps²",
        lambda case: _differences(case, one_sided=True)),
    Bug("central-difference-not-halved",
        "your gradient is twice too large: the central difference divides by 2·eps, the "
        "distance between x - eps and x + eps",
        lambda case: _differences(case, halved=False)),
    Bug("x-not-restored",
        "each entry must be put back after it is nudged: your later entries were computed at "
        "a shifted x",
        lambda case: _differences(case, restore=False), when=lambda case: case.args[1].size > 1),
    Bug("gradient-sign-flipped",
        "your gradient has the wrong sign: (f(x + eps) - f(x - eps)), not the other way round",
        lambda case: _differences(case, sign=-1.0)),
]

NG_SHAPE = Hint("gradient-not-shaped-like-x", "the gradient has the shape of x: one partial "
                "derivative per entry")


def _ng_diagnose(case, got, expected):
    return NG_SHAPE if np.shape(got) != np.shape(expected) else None


register(Exercise(
    name="numerical_gradient", arg_names=NG_ARGS, visible=_ng_visible, hidden=_ng_hidden,
    reference=_differences, bugs=NG_BUGS, run=_ng_run, diagnose=_ng_diagnose,
    # A finite difference in float32 loses half its digits: the exercise is float64 only.
    float32_cases=0,
))
