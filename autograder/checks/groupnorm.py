"""Chapter 10 — instance and group normalization, the functions: instance_norm, group_norm
(the modules InstanceNorm1d/2d/3d and GroupNorm are in ``groupnorm_modules``).

The seeded grids of valid parameters, the edge cases, the configurations torch refuses,
and the known bugs with the hint each one earns. Expected values and wrong answers are
computed with torch in float64.
"""
from __future__ import annotations

import copy
import warnings

import numpy as np

from .. import oracle
from ..exercise import Bug, Case, Exercise, refused, register
from ._norms import normal, shape_changed, shared_bug

IN_ARGS = ("input",)
GN_ARGS = ("input", "num_groups", "weight", "bias", "eps")


def _tensor(value):
    """A NumPy array (or None) as a tensor; float32 stays float32, like the input it goes
    with, and anything else becomes float64."""
    if value is None:
        return None
    value = np.array(value)
    return oracle.torch().from_numpy(value if value.dtype.kind == "f" else value.astype(np.float64))


def _normalize(x, dims, eps, unbiased=False, eps_outside=False):
    """(x - mean) / sqrt(var + eps) over `dims`, in torch, with one thing changeable."""
    mean = x.mean(dim=dims, keepdim=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # n - 1 = 0 gives inf; the bug just won't match
        var = x.var(dim=dims, keepdim=True, correction=1 if unbiased else 0)
    return (x - mean) / (var.sqrt() + eps if eps_outside else (var + eps).sqrt())


def _channel_affine(y, weight, bias):
    """y · weight + bias, one value per channel (axis 1)."""
    shape = (1, -1) + (1,) * (y.ndim - 2)
    if weight is not None:
        y = y * _tensor(weight).reshape(shape)
    if bias is not None:
        y = y + _tensor(bias).reshape(shape)
    return y


# instance_norm --------------------------------------------------------------------------
def in_case(rng: np.random.Generator, shape: tuple, *, stats: bool = False,
            affine: bool = False, use_input_stats: bool = True, momentum: float | None = None,
            eps: float | None = None, scale: float = 1.0, shift: float = 0.0,
            note: str = "") -> Case:
    """An instance_norm call; ``stats`` gives it running statistics to update."""
    c = shape[1] if len(shape) > 1 else shape[0]
    kwargs = {}
    if stats:
        kwargs["running_mean"] = normal(rng, c, 0.5)
        kwargs["running_var"] = rng.uniform(0.5, 2.0, c)
    if affine:
        kwargs["weight"] = normal(rng, c, 0.5, 1.0)
        kwargs["bias"] = normal(rng, c)
    if not use_input_stats:
        kwargs["use_input_stats"] = False
    if momentum is not None:
        kwargs["momentum"] = momentum
    if eps is not None:
        kwargs["eps"] = eps
    return Case((normal(rng, shape, scale, shift),), kwargs, note=note)


def _in_run(fn, case):
    """The output, and with running statistics also the arrays after the in-place update."""
    args, kwargs = copy.deepcopy(case.args), copy.deepcopy(case.kwargs)
    out = fn(*args, **kwargs)
    if kwargs.get("running_mean") is None:
        return out
    return out, kwargs["running_mean"], kwargs["running_var"]


def _in_reference(case):
    kwargs = {k: _tensor(v) if isinstance(v, np.ndarray) else v for k, v in case.kwargs.items()}
    with np.errstate(all="ignore"):
        out = oracle.call(oracle.F().instance_norm, case.args[0], **kwargs)
    if kwargs.get("running_mean") is None:
        return out
    return out, kwargs["running_mean"].numpy(), kwargs["running_var"].numpy()


def _in_visible(rng):
    return [
        in_case(rng, (2, 3, 4, 4), note="(N, C, H, W), no running statistics"),
        in_case(rng, (2, 3, 5), affine=True, eps=1e-3, note="(N, C, L) with weight and bias"),
        in_case(rng, (2, 2, 3, 3), stats=True,
                note="running statistics updated in place (momentum 0.1)"),
        in_case(rng, (2, 2, 4), stats=True, use_input_stats=False, affine=True,
                note="use_input_stats=False: normalize with the running statistics"),
    ]


def _in_hidden(rng):
    out = []
    for spatial in ((5,), (3, 4), (2, 3, 2)):
        for stats, use, affine in ((False, True, False), (False, True, True),
                                   (True, True, False), (True, True, True),
                                   (True, False, False), (True, False, True)):
            shape = (int(rng.integers(1, 4)), int(rng.integers(1, 5))) + spatial
            momentum = [None, 0.5, 1.0, 0.0][int(rng.integers(0, 4))] if stats else None
            eps = [None, 1e-3, 0.1][int(rng.integers(0, 3))]
            out.append(in_case(rng, shape, stats=stats, use_input_stats=use, affine=affine,
                               momentum=momentum, eps=eps, scale=float(rng.uniform(0.2, 4)),
                               shift=float(rng.normal()),
                               note=f"{len(shape)}-D input, running stats={stats}, "
                                    f"use_input_stats={use}, affine={affine}"))
    out += [
        in_case(rng, (1, 3, 2), stats=True, note="two positions per instance: n - 1 = 1 in "
                "the running variance"),
        in_case(rng, (4, 2, 6), stats=True, momentum=0.3,
                note="running statistics averaged over a batch of 4"),
        in_case(rng, (2, 3, 1, 1), stats=True, use_input_stats=False,
                note="a 1×1 image with running statistics (allowed: no input statistics)"),
        in_case(rng, (2, 3), stats=True, use_input_stats=False,
                note="(N, C) with running statistics"),
        refused(in_case(rng, (2, 3, 1, 1), note="one position per instance"),
                "the statistics need more than one value per instance"),
        refused(in_case(rng, (2, 3), note="(N, C): no spatial positions"),
                "the statistics need more than one value per instance"),
        refused(in_case(rng, (2, 3, 4), use_input_stats=False,
                        note="use_input_stats=False without running statistics"),
                "there are no statistics to normalize with"),
    ]
    return out


def _input_stats(case) -> bool:
    return case.kwargs.get("use_input_stats", True) is not False


def _tracks(case) -> bool:
    return case.kwargs.get("running_mean") is not None


def _with_output(case, y):
    """torch's answer with its output replaced by ``y`` (the running statistics kept)."""
    if not _tracks(case):
        return y
    _, rm, rv = _in_reference(case)
    return y, rm, rv


def _in_output(case, dims=None, **changes):
    """instance_norm's output with statistics over ``dims`` (each instance's spatial axes
    by default), or with one thing changed."""
    x = oracle.torch().from_numpy(case.args[0])
    dims = tuple(range(2, x.ndim)) if dims is None else dims
    y = _normalize(x, dims, case.kwargs.get("eps", 1e-5), **changes)
    y = _channel_affine(y, case.kwargs.get("weight"), case.kwargs.get("bias")).numpy()
    return _with_output(case, y)


def _in_stats(case, *, biased=False, whole_batch=False, momentum_flipped=False):
    """torch's output with running statistics updated with one thing changed."""
    rm0, rv0 = case.kwargs["running_mean"], case.kwargs["running_var"]
    m = case.kwargs.get("momentum", 0.1)
    x = oracle.torch().from_numpy(case.args[0])
    spatial = tuple(range(2, x.ndim))
    mean = x.mean(dim=spatial).mean(dim=0).numpy()
    var = x.var(dim=spatial, correction=0 if biased else 1).mean(dim=0).numpy()
    if whole_batch:
        var = x.transpose(0, 1).reshape(x.shape[1], -1).var(dim=1, correction=1).numpy()
    if momentum_flipped:
        m = 1 - m
    return _in_reference(case)[0], (1 - m) * rm0 + m * mean, (1 - m) * rv0 + m * var


def _updates_stats(case) -> bool:
    """Running statistics updated from the input's (two or more positions each)."""
    return (_tracks(case) and _input_stats(case)
            and int(np.prod(case.args[0].shape[2:])) >= 2)


IN_BUGS = [
    Bug("batch-norm-axes",
        "you averaged each channel over the batch too (batch norm's axes): instance norm "
        "averages each channel of each sample over its spatial positions only",
        lambda case: _in_output(case, (0,) + tuple(range(2, case.args[0].ndim))),
        when=lambda case: _input_stats(case) and case.args[0].shape[0] != 1),
    Bug("layer-norm-axes",
        "you averaged over all channels of a sample (layer norm's axes): instance norm keeps "
        "one mean and variance per (sample, channel)",
        lambda case: _in_output(case, tuple(range(1, case.args[0].ndim))),
        when=lambda case: _input_stats(case) and case.args[0].shape[1] != 1),
    shared_bug("normalized-with-unbiased-variance",
               lambda case: _in_output(case, unbiased=True), when=_input_stats),
    shared_bug("eps-outside-the-square-root",
               lambda case: _in_output(case, eps_outside=True), when=_input_stats),
    shared_bug("not-updated-in-place",
               lambda case: (_in_reference(case)[0], case.kwargs["running_mean"],
                             case.kwargs["running_var"]),
               when=lambda case: _tracks(case) and case.kwargs.get("momentum", 0.1) != 0.0),
    shared_bug("biased-running-variance", lambda case: _in_stats(case, biased=True),
               when=_updates_stats),
    Bug("running-variance-of-the-whole-batch",
        "torch updates running_var with the per-instance unbiased variances averaged over the "
        "batch, not with one variance over the whole batch",
        lambda case: _in_stats(case, whole_batch=True),
        when=lambda case: _updates_stats(case) and case.args[0].shape[0] != 1),
    shared_bug("momentum-0.9-convention", lambda case: _in_stats(case, momentum_flipped=True),
               when=lambda case: _updates_stats(case)
               and case.kwargs.get("momentum", 0.1) != 0.5),
]


register(Exercise(
    name="instance_norm", arg_names=IN_ARGS, visible=_in_visible, hidden=_in_hidden,
    reference=_in_reference, bugs=IN_BUGS, run=_in_run, diagnose=shape_changed,
))


# group_norm -----------------------------------------------------------------------------
def gn_case(rng: np.random.Generator, shape: tuple, groups: int, *, affine: bool = True,
            eps: float | None = None, scale: float = 1.0, shift: float = 0.0, note: str = "",
            wshape: tuple | None = None) -> Case:
    """A group_norm call; weight and bias of shape (C,) unless ``wshape``."""
    c = shape[1] if len(shape) > 1 else shape[0]
    wshape = (c,) if wshape is None else wshape
    w = normal(rng, wshape, 0.5, 1.0) if affine else None
    b = normal(rng, wshape) if affine else None
    kwargs = {} if eps is None else {"eps": eps}
    return Case((normal(rng, shape, scale, shift), groups, w, b), kwargs, note=note)


def _gn_visible(rng):
    return [
        gn_case(rng, (2, 4, 3, 3), 2, affine=False, note="4 channels in 2 groups"),
        gn_case(rng, (2, 4, 4), 2, note="(N, C, L) with L = C: weight and bias per channel"),
        gn_case(rng, (1, 4, 2, 2), 1, eps=1e-3, note="one group: like layer norm over (C, H, W)"),
        gn_case(rng, (2, 4, 3, 3), 4, note="C groups: like instance norm"),
    ]


def _gn_hidden(rng):
    out = []
    for spatial in ((), (5,), (3, 4), (2, 3, 2)):
        for c, groups in ((6, 1), (6, 2), (6, 3), (6, 6), (8, 4), (4, 2)):
            shape = (int(rng.integers(1, 4)), c) + spatial
            if shape[0] * (c // groups) * int(np.prod(spatial, dtype=int)) == 1:
                shape = (2,) + shape[1:]  # torch refuses one value per group with N = 1
            affine = bool(rng.integers(0, 3))
            eps = [None, 1e-3, 0.2, 0.0][int(rng.integers(0, 4))]
            if eps == 0.0 and c // groups * int(np.prod(spatial, dtype=int)) == 1:
                eps = None  # one value per group: 0 / sqrt(0) would be NaN
            out.append(gn_case(rng, shape, groups, affine=affine, eps=eps,
                               scale=float(rng.uniform(0.2, 4)), shift=float(rng.normal()),
                               note=f"{len(shape)}-D input, C={c}, num_groups={groups}"))
    out += [
        gn_case(rng, (2, 4, 4), 2, note="L = C: weight and bias must follow the channel axis"),
        gn_case(rng, (2, 3, 3, 3), 3, note="C = H = W = 3 and C groups"),
        gn_case(rng, (2, 4), 4, note="(N, C) with C groups: one value per group"),
        gn_case(rng, (1, 4, 1, 1), 2, note="a 1×1 image, two channels per group"),
        refused(gn_case(rng, (2, 6, 4), 4, note="6 channels in 4 groups"),
                "num_groups must divide the number of channels"),
        refused(gn_case(rng, (1, 4, 1, 1), 4, note="one value per group and N = 1"),
                "the statistics need more than one value"),
        refused(gn_case(rng, (2, 4, 3), 2, wshape=(2,), note="weight per group"),
                "weight and bias have one value per channel"),
    ]
    return out


def _gn_reference(case):
    return oracle.call(oracle.F().group_norm, *case.args, **case.kwargs)


def _gn_wrong(case, *, groups=None, unbiased=False, eps_outside=False, interleaved=False,
              affine_on_last=False, dims=None):
    """group_norm with torch ops and one thing changed: ``groups`` groups, every G-th channel
    in a group, statistics over ``dims``, weight and bias along the last axis, ..."""
    t = oracle.torch()
    x, g, w, b = case.args
    eps = case.kwargs.get("eps", 1e-5)
    xt = t.from_numpy(x)
    n, c = x.shape[:2]
    if interleaved:
        perm = np.argsort(np.arange(c) % g, kind="stable")
        xt = xt[:, perm]
    if dims is not None:
        y = _normalize(xt, dims, eps, unbiased, eps_outside)
    else:
        grouped = xt.reshape(n, groups or g, -1)
        y = _normalize(grouped, (2,), eps, unbiased, eps_outside).reshape(x.shape)
    if interleaved:
        y = y[:, np.argsort(perm)]
    if affine_on_last:
        if w is not None:
            y = y * _tensor(w)
        if b is not None:
            y = y + _tensor(b)
        return y.numpy()
    return _channel_affine(y, w, b).numpy()


def _channels(case) -> int:
    return case.args[0].shape[1]


GN_BUGS = [
    Bug("num-groups-read-as-group-size",
        "num_groups is the NUMBER of groups: each group holds C // num_groups channels",
        lambda case: _gn_wrong(case, groups=_channels(case) // case.args[1]),
        when=lambda case: _channels(case) % case.args[1] == 0
        and _channels(case) // case.args[1] != case.args[1]),
    shared_bug("interleaved-groups", lambda case: _gn_wrong(case, interleaved=True),
        when=lambda case: case.args[1] not in (1, _channels(case))),
    Bug("one-group-per-channel",
        "you normalized each channel on its own (instance norm): group norm pools the "
        "statistics of the C // num_groups channels of each group",
        lambda case: _gn_wrong(case, dims=tuple(range(2, case.args[0].ndim))),
        when=lambda case: case.args[1] != _channels(case) and case.args[0].ndim >= 3),
    shared_bug("affine-along-the-last-axis", lambda case: _gn_wrong(case, affine_on_last=True),
               when=lambda case: case.args[2] is not None and case.args[0].ndim >= 3
               and case.args[0].shape[-1] == _channels(case)),
    shared_bug("unbiased-variance", lambda case: _gn_wrong(case, unbiased=True),
               when=lambda case: case.args[0][0].size // case.args[1] >= 2),
    shared_bug("eps-outside-the-square-root", lambda case: _gn_wrong(case, eps_outside=True)),
]


register(Exercise(
    name="group_norm", arg_names=GN_ARGS, visible=_gn_visible, hidden=_gn_hidden,
    reference=_gn_reference, bugs=GN_BUGS, diagnose=shape_changed,
))
