"""Chapter 12 — the backward passes of the normalizations: training-mode batch norm, layer
norm and group norm, against torch.autograd in float64.

Each takes (grad_output, input, [normalized_shape | num_groups,] weight, bias, eps) and
returns (grad_input, grad_weight, grad_bias); a None parameter's gradient is None. The
three differ only in their ``Layout``: which axes the statistics run over, and where the
weight and bias sit and broadcast. Their common bugs are written once, against a layout.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import oracle
from ..exercise import Bug, Case, Exercise, refused, register
from ._norms import shared_bug
from .backward import (
    diagnose_gradients,
    grad_bias_averaged,
    none_gradient_bug,
    normal,
    run_with_parameters,
    torch_grads,
)

BN_ARGS = ("grad_output", "input", "weight", "bias", "eps")
LN_ARGS = ("grad_output", "input", "normalized_shape", "weight", "bias", "eps")
GN_ARGS = ("grad_output", "input", "num_groups", "weight", "bias", "eps")
PARAMS = ("weight", "bias")


@dataclass(frozen=True)
class Layout:
    """Where a normalization takes its statistics, and where its weight and bias sit."""

    # torch's forward: (x, *what comes between input and weight in the case, weight, bias,
    # eps=...) -> the normalized output.
    forward: Callable
    # The weight is case.args[weight_at], the bias the next one.
    weight_at: int
    # (input tensor, case) -> (the input viewed for the statistics, the axes they run over).
    statistics: Callable
    # case -> the axes of the input each weight and bias entry is shared across.
    shared_axes: Callable
    # The weight is (C,), broadcast along axis 1; otherwise it has normalized_shape.
    per_channel: bool

    def weight(self, case: Case):
        return case.args[self.weight_at]

    def bias(self, case: Case):
        return case.args[self.weight_at + 1]

    def grads(self, case: Case) -> tuple:
        """(grad_input, grad_weight, grad_bias) from torch.autograd."""
        go, x = case.args[:2]
        between = case.args[2:self.weight_at]

        def fn(xt, wt, bt, **kwargs):
            return self.forward(xt, *between, wt, bt, **kwargs)
        return torch_grads(fn, Case((go, x, self.weight(case), self.bias(case)), case.kwargs),
                           PARAMS)

    def scale(self, case: Case, ndim: int):
        """The weight as a tensor that broadcasts against the input (1 when None)."""
        w = self.weight(case)
        if w is None:
            return 1
        tensor = oracle.torch().from_numpy(w.copy())
        return tensor.reshape((1, -1) + (1,) * (ndim - 2)) if self.per_channel else tensor


def _batch_axes(ndim):
    return (0,) + tuple(range(2, ndim))


def _normalized_count(case):
    shape = case.args[2]
    return 1 if isinstance(shape, int) else len(shape)


def _batch_norm(x, weight, bias, eps=1e-5):
    return oracle.F().batch_norm(x, None, None, weight, bias, training=True, eps=eps)


def _layer_norm(x, normalized_shape, weight, bias, **kwargs):
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
    return oracle.F().layer_norm(x, shape, weight, bias, **kwargs)


def _group_norm(x, groups, weight, bias, **kwargs):
    if weight is None and bias is not None:
        # torch 2.13's group_norm backward fails ("tensor does not have a device") with a
        # bias but no weight; a weight of ones that needs no gradient is the same layer.
        weight = oracle.torch().ones(x.shape[1], dtype=x.dtype)
    return oracle.F().group_norm(x, groups, weight, bias, **kwargs)


BATCH = Layout(
    forward=_batch_norm, weight_at=2,
    statistics=lambda xt, case: (xt, _batch_axes(xt.ndim)),
    shared_axes=lambda case: _batch_axes(case.args[1].ndim), per_channel=True)
LAYER = Layout(
    forward=_layer_norm, weight_at=3,
    statistics=lambda xt, case: (xt, tuple(range(xt.ndim - _normalized_count(case), xt.ndim))),
    shared_axes=lambda case: tuple(range(case.args[1].ndim - _normalized_count(case))),
    per_channel=False)
GROUP = Layout(
    forward=_group_norm, weight_at=3,
    statistics=lambda xt, case: (xt.reshape(xt.shape[0], case.args[2], -1), (2,)),
    shared_axes=lambda case: _batch_axes(case.args[1].ndim), per_channel=True)


def _held_constant_grad(layout: Layout, case: Case, keep_mean: bool = False):
    """grad_input with the variance (and, unless ``keep_mean``, the mean) held constant."""
    t = oracle.torch()
    go, x = case.args[0], case.args[1]
    xt = t.from_numpy(x.copy()).requires_grad_(True)
    view, axes = layout.statistics(xt, case)
    mean = view.mean(dim=axes, keepdim=True)
    var = view.var(dim=axes, keepdim=True, unbiased=False)
    mean_used = mean if keep_mean else mean.detach()
    xhat = (view - mean_used) / t.sqrt(var.detach() + case.kwargs.get("eps", 1e-5))
    (xhat.reshape(x.shape) * layout.scale(case, x.ndim)).backward(t.from_numpy(go.copy()))
    return xt.grad.numpy().copy()


def _shared_count(layout, case):
    go = case.args[0]
    return int(np.prod([go.shape[a] for a in layout.shared_axes(case)]))


def _norm_bugs(layout: Layout) -> list:
    """The bugs the three normalizations share, for one layout."""
    def mean_terms_missing(case):
        return (_held_constant_grad(layout, case),) + layout.grads(case)[1:]

    def xhat_term_missing(case):
        return (_held_constant_grad(layout, case, keep_mean=True),) + layout.grads(case)[1:]

    def weight_not_xhat(case):
        good = layout.grads(case)
        plain = case.args[0].sum(axis=layout.shared_axes(case)).reshape(good[1].shape)
        return (good[0], plain, good[2])

    def bias_averaged(case):
        good = layout.grads(case)
        return (good[0], good[1], good[2] / _shared_count(layout, case))

    return [
        Bug("mean-terms-missing",
            "the mean and variance depend on every input: grad_input = weight·rstd·"
            "(grad_output − mean(grad_output) − x̂·mean(grad_output·x̂)) — you treated them as "
            "constants (only weight·rstd·grad_output)", mean_terms_missing),
        Bug("xhat-term-missing",
            "grad_input also has the term from the variance: − x̂·mean(grad_output·x̂); you "
            "kept only the mean's term", xhat_term_missing),
        Bug("grad-weight-not-multiplied-by-xhat",
            "grad_weight = sum of grad_output · x̂ (the normalized input), not of grad_output "
            "alone", weight_not_xhat, when=lambda case: layout.weight(case) is not None),
        grad_bias_averaged(bias_averaged, when=lambda case: layout.bias(case) is not None
                           and _shared_count(layout, case) > 1),
    ]


def _exercise(name: str, arg_names: tuple, layout: Layout, visible, hidden, bugs: list) -> None:
    register(Exercise(
        name=name, arg_names=arg_names, visible=visible, hidden=hidden, reference=layout.grads,
        bugs=_norm_bugs(layout) + bugs + [none_gradient_bug(layout.weight_at, layout.grads)],
        run=run_with_parameters(layout.weight_at), diagnose=diagnose_gradients(layout.weight_at),
    ))


def _scaled(rng, shape):
    """Inputs with a mean and a scale per position, as real activations have."""
    return normal(rng, *shape) * rng.uniform(0.5, 3) + rng.uniform(-2, 2)


def _signed_weight(rng, shape):
    return rng.uniform(0.5, 2, shape) * rng.choice([-1, 1], shape)


# --------------------------------------------------------------------------------------
# batch_norm_backward (training mode)

def bn_case(rng: np.random.Generator, shape, weight=True, bias=True, eps=None, note="") -> Case:
    """A batch_norm_backward case: (grad_output, input, weight, bias), eps if given."""
    c = shape[1]
    x = _scaled(rng, shape)
    w = _signed_weight(rng, c) if weight else None
    b = normal(rng, c) if bias else None
    kwargs = {} if eps is None else {"eps": eps}
    return Case((normal(rng, *shape), x, w, b), kwargs,
                note=note or f"input {shape}, weight {'given' if weight else 'None'}, "
                             f"bias {'given' if bias else 'None'}")


def _bn_visible(rng):
    return [
        bn_case(rng, (4, 3), note="(N, C) as after a linear layer"),
        bn_case(rng, (2, 3, 3, 3), note="(N, C, H, W)"),
        bn_case(rng, (3, 2, 2, 2), weight=False, bias=False,
                note="no affine: grad_weight and grad_bias are None"),
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
        refused(bn_case(rng, (1, 3), note="one value per channel"),
                "training needs more than one value per channel"),
    ]
    return out


def _bn_unbiased(x, weight, bias, eps=1e-5):
    axes = _batch_axes(x.ndim)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mean = x.mean(dim=axes, keepdim=True)
    var = x.var(dim=axes, keepdim=True, unbiased=True)
    out = (x - mean) / (var + eps).sqrt()
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


_exercise("batch_norm_backward", BN_ARGS, BATCH, _bn_visible, _bn_hidden, [
    shared_bug("normalized-with-unbiased-variance",
               lambda case: torch_grads(_bn_unbiased, case, PARAMS)),
])


# --------------------------------------------------------------------------------------
# layer_norm_backward

def ln_case(rng: np.random.Generator, shape, k, weight=True, bias=True, eps=None, as_int=False,
            note="") -> Case:
    """A layer_norm_backward case normalizing the last ``k`` axes (an int if ``as_int``)."""
    ns = tuple(shape[len(shape) - k:])
    x = _scaled(rng, shape)
    w = _signed_weight(rng, ns) if weight else None
    b = normal(rng, *ns) if bias else None
    kwargs = {} if eps is None else {"eps": eps}
    normalized = ns[0] if as_int and k == 1 else ns
    return Case((normal(rng, *shape), x, normalized, w, b), kwargs,
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
        refused(Case((normal(rng, 2, 3, 4), normal(rng, 2, 3, 4), (3,), None, None), {},
                     note="normalized_shape that is not the input's trailing shape"),
                "normalized_shape must be the input's trailing shape"),
    ]
    return out


def _ln_over_batch(case):
    """Statistics over the batch axis (batch norm's) instead of the trailing ones."""
    t = oracle.torch()
    go, x, _, w, _ = case.args
    xt = t.from_numpy(x.copy()).requires_grad_(True)
    mean = xt.mean(dim=0, keepdim=True)
    var = xt.var(dim=0, keepdim=True, unbiased=False)
    out = (xt - mean) / t.sqrt(var + case.kwargs.get("eps", 1e-5))
    if w is not None:
        out = out * t.from_numpy(w.copy())
    out.backward(t.from_numpy(go.copy()))
    return (xt.grad.numpy().copy(),) + LAYER.grads(case)[1:]


_exercise("layer_norm_backward", LN_ARGS, LAYER, _ln_visible, _ln_hidden, [
    Bug("statistics-over-the-batch",
        "layer norm computes a mean and variance per SAMPLE, over the trailing "
        "normalized_shape axes; you took them over the batch axis (that is batch norm)",
        _ln_over_batch, when=lambda case: case.args[1].shape[0] > 1
        and _normalized_count(case) == case.args[1].ndim - 1),
])


# --------------------------------------------------------------------------------------
# group_norm_backward

def gn_case(rng: np.random.Generator, shape, groups, weight=True, bias=True, eps=None,
            note="") -> Case:
    """A group_norm_backward case: (grad_output, input, num_groups, weight, bias)."""
    c = shape[1]
    x = _scaled(rng, shape)
    w = _signed_weight(rng, c) if weight else None
    b = normal(rng, c) if bias else None
    kwargs = {} if eps is None else {"eps": eps}
    return Case((normal(rng, *shape), x, groups, w, b), kwargs,
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
        shape = (int(rng.integers(1, 4)), c) + \
            tuple(int(v) for v in rng.integers(1, 4, size=ndim - 2))
        case = gn_case(rng, shape, groups, weight, bias, eps=None if rng.random() < 0.6 else 1e-3)
        # torch checks N·(C/G)·H·W > 1, as batch norm checks its values per channel.
        out.append(refused(case, "training needs more than one value per group") if
                   shape[0] * (c // groups) * int(np.prod(shape[2:])) == 1 else case)
    out += [
        gn_case(rng, (2, 6, 3, 3), 1, note="num_groups = 1: layer norm over (C, H, W)"),
        gn_case(rng, (2, 8, 4, 4), 4, eps=0.2, note="large eps"),
        refused(gn_case(rng, (2, 6, 3, 3), 4, note="num_groups does not divide C"),
                "num_groups must divide the number of channels"),
    ]
    return out


def _gn_interleaved(case):
    """Channel c in group c % G instead of c // (C / G)."""
    go, x, groups, w, b = case.args
    c = x.shape[1]
    perm = np.arange(c).reshape(c // groups, groups).T.reshape(-1)
    inv = np.argsort(perm)
    permuted = Case((go[:, perm], x[:, perm], groups, None if w is None else w[perm],
                     None if b is None else b[perm]), case.kwargs)
    return tuple(g if g.ndim == 0 else (g[:, inv] if g.ndim == x.ndim else g[inv])
                 for g in GROUP.grads(permuted))


_exercise("group_norm_backward", GN_ARGS, GROUP, _gn_visible, _gn_hidden, [
    shared_bug("interleaved-groups", _gn_interleaved,
               when=lambda case: case.args[2] not in (1, case.args[1].shape[1])
               and case.args[1].shape[1] % case.args[2] == 0),
])
