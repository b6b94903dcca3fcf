"""Chapter 08 — batch normalization, the function: batch_norm and its loop version (the
modules BatchNorm1d/2d/3d are in ``batchnorm_modules``, SyncBatchNorm's statistics and
layer in ``batchnorm_sync``).

The seeded grids of valid parameters, the edge cases, the configurations torch refuses,
and the known bugs with the hint each one earns. Expected values and wrong answers are
computed with torch.

batch_norm is graded on what torch does IN PLACE too: its ``run`` returns ``(output,
running_mean, running_var)`` read from the copies the student's function received (just
``output`` when the case passes ``running_mean=None``).
"""
from __future__ import annotations

import copy
import dataclasses
import itertools
import warnings

import numpy as np

from .. import oracle
from ..exercise import Bug, Case, Exercise, refused, register
from ._norms import shape_changed, shared_bug

BN_ARGS = ("input", "running_mean", "running_var", "weight", "bias", "training",
           "momentum", "eps")
ONE_VALUE_PER_CHANNEL = "training needs more than one value per channel"


def bn_case(rng: np.random.Generator, shape: tuple, *, running: bool = True,
            weight: bool = True, bias: bool = True, training: bool = False,
            momentum: float | None = None, eps: float | None = None, note: str = "",
            x: np.ndarray | None = None) -> Case:
    """A batch_norm call: channels with their own mean and spread, so that statistics
    taken over the wrong axes are visibly wrong."""
    c = shape[1] if len(shape) > 1 else shape[0]
    if x is None:
        spread = rng.uniform(0.5, 3.0, c)
        centre = rng.normal(0.0, 2.0, c)
        view = (1, c) + (1,) * (len(shape) - 2) if len(shape) > 1 else (c,)
        x = rng.standard_normal(shape) * spread.reshape(view) + centre.reshape(view)
    rm = rng.normal(0.0, 1.0, c) if running else None
    rv = rng.uniform(0.5, 2.0, c) if running else None
    kwargs = {}
    if weight:
        kwargs["weight"] = rng.normal(1.0, 0.5, c)
    if bias:
        kwargs["bias"] = rng.normal(0.0, 1.0, c)
    if training:
        kwargs["training"] = True
    if momentum is not None:
        kwargs["momentum"] = momentum
    if eps is not None:
        kwargs["eps"] = eps
    return Case((x, rm, rv), kwargs, note=note)


def _with_running(case: Case, running_mean, running_var) -> Case:
    """The same call with other running statistics."""
    return dataclasses.replace(case, args=(case.args[0], running_mean, running_var))


def _bn_run(fn, case):
    """Call on private copies; read back the running statistics the call updated in place."""
    args, kwargs = copy.deepcopy(case.args), copy.deepcopy(case.kwargs)
    out = fn(*args, **kwargs)
    if case.args[1] is None:
        return out
    return out, args[1], args[2]


def _bn_reference(case):
    F = oracle.F()
    x, rm, rv = oracle.to_torch(case.args)
    kwargs = {k: oracle.to_torch(v) for k, v in case.kwargs.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = F.batch_norm(x, rm, rv, **kwargs)
    if rm is None:
        return oracle.to_numpy(out)
    return oracle.to_numpy(out), oracle.to_numpy(rm), oracle.to_numpy(rv)


def _bn_options(case):
    x, rm, rv = case.args
    k = case.kwargs
    return (x, rm, rv, k.get("weight"), k.get("bias"), bool(k.get("training", False)),
            k.get("momentum", 0.1), k.get("eps", 1e-5))


def _bn_wrong(case, *, momentum_flipped=False, biased_running_var=False, unbiased=False,
              batch_stats=False, batch_axis_only=False, eps_outside=False,
              affine_last_axis=False, in_place=True):
    """batch_norm written with torch tensor operations, with one thing changed."""
    t = oracle.torch()
    x, rm, rv, weight, bias, training, momentum, eps = _bn_options(case)
    xt = t.from_numpy(x)
    c = x.shape[1]
    view = (1, c) + (1,) * (x.ndim - 2)
    dims = [0] + list(range(2, x.ndim))
    batch_mean = xt.mean(dim=dims)
    batch_var = xt.var(dim=dims, unbiased=False)
    count = x.size // c
    if training or batch_stats:
        norm_dims = [0] if batch_axis_only else dims
        mean = xt.mean(dim=norm_dims, keepdim=True)
        var = xt.var(dim=norm_dims, unbiased=unbiased, keepdim=True)
    else:
        mean, var = t.from_numpy(rm).view(view), t.from_numpy(rv).view(view)
    y = (xt - mean) / (var.sqrt() + eps if eps_outside else (var + eps).sqrt())
    # Plain broadcasting lines a (C,) array up with the last axis.
    affine_view = (c,) if affine_last_axis else view
    if weight is not None:
        y = y * t.from_numpy(weight).view(affine_view)
    if bias is not None:
        y = y + t.from_numpy(bias).view(affine_view)
    if rm is None:
        return y.numpy()
    rm_out, rv_out = t.from_numpy(rm.copy()), t.from_numpy(rv.copy())
    if training and in_place:
        m = 1.0 - momentum if momentum_flipped else momentum
        update_var = batch_var if biased_running_var else batch_var * count / (count - 1)
        rm_out = (1 - m) * rm_out + m * batch_mean
        rv_out = (1 - m) * rv_out + m * update_var
    return y.numpy(), rm_out.numpy(), rv_out.numpy()


def _training(case) -> bool:
    """Training on more than one value per channel (torch refuses fewer)."""
    x = case.args[0]
    return bool(case.kwargs.get("training", False)) and x.size // x.shape[1] > 1


def _evaluation(case) -> bool:
    return not case.kwargs.get("training", False)


def _computable(case) -> bool:
    return _training(case) or _evaluation(case)


def _updates(case) -> bool:
    return _training(case) and case.args[1] is not None


BN_BUGS = [
    shared_bug("momentum-0.9-convention", lambda case: _bn_wrong(case, momentum_flipped=True),
               when=lambda case: _updates(case) and case.kwargs.get("momentum", 0.1) != 0.5),
    shared_bug("biased-running-variance",
               lambda case: _bn_wrong(case, biased_running_var=True), when=_updates),
    shared_bug("normalized-with-unbiased-variance",
               lambda case: _bn_wrong(case, unbiased=True), when=_training),
    Bug("eval-uses-batch-statistics",
        "with training=False normalize with running_mean and running_var, not with the "
        "statistics of this batch", lambda case: _bn_wrong(case, batch_stats=True),
        when=_evaluation),
    Bug("statistics-over-the-batch-axis-only",
        "the statistics are per channel over the batch AND every spatial position (axes 0, "
        "2, 3, ...), not over axis 0 alone", lambda case: _bn_wrong(case, batch_axis_only=True),
        when=lambda case: _training(case) and case.args[0].ndim > 2),
    shared_bug("eps-outside-the-square-root", lambda case: _bn_wrong(case, eps_outside=True),
               when=_computable),
    shared_bug("affine-along-the-last-axis",
               lambda case: _bn_wrong(case, affine_last_axis=True),
               when=lambda case: _computable(case) and case.args[0].ndim > 2
               and case.args[0].shape[-1] == case.args[0].shape[1]),
    shared_bug("not-updated-in-place", lambda case: _bn_wrong(case, in_place=False),
               when=_updates),
]


def _bn_visible(rng):
    return [
        bn_case(rng, (4, 3), training=True, note="training, (N, C) input: batch statistics, "
                "running statistics updated in place"),
        bn_case(rng, (2, 3, 4, 3), training=True, running=False,
                note="training without running statistics (running_mean=None)"),
        bn_case(rng, (2, 3, 4, 3), note="evaluation: running statistics, nothing updated"),
        bn_case(rng, (2, 2, 5), training=True, momentum=0.3, eps=0.1, weight=False, bias=False,
                note="(N, C, L) input, momentum=0.3, eps=0.1, no affine"),
    ]


def _bn_hidden(rng):
    out = []
    shapes = {2: lambda: (int(rng.integers(2, 6)), int(rng.integers(1, 5))),
              3: lambda: tuple(int(v) for v in rng.integers(1, 5, 3)),
              4: lambda: tuple(int(v) for v in rng.integers(1, 5, 4)),
              5: lambda: tuple(int(v) for v in rng.integers(1, 4, 5))}
    for ndim, training, momentum in itertools.product((2, 3, 4, 5), (True, False),
                                                      (0.1, 0.0, 1.0, 0.37)):
        shape = shapes[ndim]()
        if training and np.prod(shape) // shape[1] <= 1:
            shape = (2,) + shape[1:]
        eps = [1e-5, 1e-3, 0.5][int(rng.integers(0, 3))]
        weight, bias = bool(rng.integers(0, 3)), bool(rng.integers(0, 3))
        running = bool(rng.integers(0, 4)) or not training
        out.append(bn_case(rng, shape, training=training, momentum=momentum, eps=eps,
                           weight=weight, bias=bias, running=running,
                           note=f"{ndim}-D input, training={training}, momentum={momentum}, "
                                f"eps={eps}, weight={'yes' if weight else 'None'}, "
                                f"bias={'yes' if bias else 'None'}"
                                + ("" if running else ", running stats None")))
    out += [
        bn_case(rng, (1, 3, 2, 2), training=True, note="batch size 1 with spatial dims "
                "(4 values per channel: torch accepts it)"),
        bn_case(rng, (1, 2, 1, 1, 2), training=True, eps=1e-3,
                note="5-D, batch size 1, two values per channel"),
        bn_case(rng, (2, 4, 1, 1), training=True, note="1×1 spatial: two values per channel"),
        bn_case(rng, (3, 4, 5, 4), training=True, running=False, note="W == C, no running stats"),
        bn_case(rng, (3, 4, 5, 4), note="W == C, evaluation"),
        bn_case(rng, (5, 1, 6), training=True, momentum=0.5, note="one channel"),
        bn_case(rng, (6, 3), training=True, eps=1.0, note="large eps"),
        bn_case(rng, (4, 3, 2), eps=0.0, note="eps=0 in evaluation (torch accepts it)"),
        bn_case(rng, (1, 3), note="one sample in evaluation (torch accepts it)"),
        bn_case(rng, (0, 3, 2, 2), training=True, note="an empty batch (N = 0) in training: "
                "torch returns an empty output and leaves the running statistics alone"),
        bn_case(rng, (2, 3, 4), training=True, momentum=1.5,
                note="momentum 1.5 (torch does not check the range)"),
        refused(bn_case(rng, (1, 3), training=True,
                        note="training with one value per channel"), ONE_VALUE_PER_CHANNEL),
        refused(bn_case(rng, (1, 4, 1, 1), training=True, running=False,
                        note="training with one value per channel, no running stats"),
                ONE_VALUE_PER_CHANNEL),
        refused(bn_case(rng, (4, 3), training=True, eps=0.0, note="eps=0 in training"),
                "eps must be positive in training"),
        refused(bn_case(rng, (4, 3), running=False,
                        note="evaluation without running statistics"),
                "evaluation normalizes with running statistics, and there are none"),
        refused(bn_case(rng, (4,), note="1-D input, no channel axis"),
                "the input needs a channel axis: (N, C, ...)"),
    ]
    mismatch = bn_case(rng, (4, 3, 2), training=True,
                       note="running_mean with 4 entries for 3 channels")
    mismatch = _with_running(mismatch, rng.normal(size=4), rng.uniform(0.5, 2, 4))
    half = bn_case(rng, (4, 3), training=True, note="running_mean given, running_var None")
    half = _with_running(half, half.args[1], None)
    return out + [refused(mismatch, "the running statistics need one entry per channel"),
                  refused(half, "running_mean and running_var come together or not at all")]


register(Exercise(
    name="batch_norm", arg_names=BN_ARGS, visible=_bn_visible, hidden=_bn_hidden,
    reference=_bn_reference, bugs=BN_BUGS, run=_bn_run, diagnose=shape_changed,
))


# batch_norm_loop: the readable version, one channel at a time; small cases.
def _loop_hidden(rng):
    out = []
    for ndim, training in itertools.product((2, 3, 4, 5), (True, False)):
        shape = (2, 3, 3, 2, 2)[:ndim]
        out.append(bn_case(rng, shape, training=training, momentum=float(rng.uniform(0, 1)),
                           eps=1e-3, weight=bool(ndim % 2), bias=ndim > 2,
                           note=f"{ndim}-D input, training={training}"))
    out += [
        bn_case(rng, (1, 2, 3), training=True, note="batch size 1 with a length axis"),
        refused(bn_case(rng, (1, 3), training=True, note="training with one value per channel"),
                ONE_VALUE_PER_CHANNEL),
    ]
    return out


register(Exercise(
    name="batch_norm_loop", arg_names=BN_ARGS, visible=_bn_visible, hidden=_loop_hidden,
    reference=_bn_reference, bugs=BN_BUGS, run=_bn_run, diagnose=shape_changed,
))
