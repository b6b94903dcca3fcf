"""Chapter 08 — batch normalization across devices: sync_batch_norm_stats (the statistics
SyncBatchNorm combines from every shard) and sync_batch_norm (the whole layer over shards).

The seeded grids of valid parameters, the edge cases, the configurations torch refuses,
and the known bugs with the hint each one earns. Expected values and wrong answers are
computed with torch, on the shards concatenated into one batch.
"""
from __future__ import annotations

import copy
import dataclasses
import itertools
import warnings

import numpy as np

from .. import oracle
from ..compare import Hint
from ..exercise import Bug, Case, Exercise, refused, register
from ._norms import shared_bug

SYNC_ARGS = ("shards",)
SYNC_BN_ARGS = ("shards", "running_mean", "running_var", "weight", "bias", "momentum", "eps")
ONE_VALUE_PER_CHANNEL = "the whole batch needs more than one value per channel"


def _dims(x) -> list:
    """The axes a channel's statistics are taken over: the batch and every spatial axis."""
    return [0] + list(range(2, x.dim()))


# sync_batch_norm_stats -------------------------------------------------------------------
def sync_case(rng: np.random.Generator, sizes: tuple, c: int = 3, spatial: tuple = (2, 3),
              note: str = "") -> Case:
    """Shards of batch sizes ``sizes`` that share a per-channel shift, each with its own
    spread and offset, so that combining them wrongly shows."""
    shift = rng.normal(0.0, 3.0, (1, c) + (1,) * len(spatial))
    shards = [rng.standard_normal((n, c) + tuple(spatial)) * rng.uniform(0.5, 2.0) + shift
              + rng.normal(0.0, 1.0) for n in sizes]
    return Case((shards,), {}, note=note or f"shard batch sizes {tuple(sizes)}")


def _sync_reference(case):
    t = oracle.torch()
    (shards,) = case.args
    whole = t.cat([t.from_numpy(s) for s in shards])
    if whole.dim() < 2:
        raise ValueError("expected (N, C, ...) shards")
    # torch's own check: more than one value per channel in the WHOLE batch.
    oracle.call(oracle.F().batch_norm, whole.numpy(), None, None, training=True)
    dims = _dims(whole)
    return (whole.mean(dim=dims).numpy(), whole.var(dim=dims, unbiased=False).numpy(),
            whole.var(dim=dims, unbiased=True).numpy(),
            np.asarray(whole.numel() // whole.shape[1], dtype=np.int64))


def _full_shards(case) -> list:
    """The shards that hold samples, as tensors."""
    t = oracle.torch()
    return [t.from_numpy(s) for s in case.args[0] if s.shape[0]]


def _mean_of_means(case):
    t = oracle.torch()
    mean = t.stack([p.mean(dim=_dims(p)) for p in _full_shards(case)]).mean(dim=0)
    return (mean.numpy(),) + _sync_reference(case)[1:]


def _mean_of_variances(case):
    t = oracle.torch()
    parts = _full_shards(case)
    ref = _sync_reference(case)
    counts = t.tensor([float(p.numel() // p.shape[1]) for p in parts], dtype=t.float64)
    var = (t.stack([p.var(dim=_dims(p), unbiased=False) for p in parts])
           * counts[:, None]).sum(dim=0) / counts.sum()
    n = float(counts.sum())
    return ref[0], var.numpy(), (var * n / (n - 1)).numpy(), ref[3]


def _count_without_spatial(case):
    ref = _sync_reference(case)
    n = sum(s.shape[0] for s in case.args[0])
    return ref[0], ref[1], ref[1] * n / (n - 1), np.asarray(n, dtype=np.int64)


def _biased_and_unbiased_swapped(case):
    mean, var, var_unbiased, count = _sync_reference(case)
    return mean, var_unbiased, var, count


def _several_shards(case) -> bool:
    return sum(1 for s in case.args[0] if s.shape[0]) > 1


SYNC_STATS_BUGS = [
    Bug("mean-of-the-shard-means",
        "shards of different sizes: weight each shard's mean by its count (sum all values, "
        "divide by the total count), do not average the means", _mean_of_means,
        when=lambda case: _several_shards(case)
        and len({s.shape[0] for s in case.args[0] if s.shape[0]}) > 1),
    Bug("mean-of-the-shard-variances",
        "the variance of the whole batch also includes how far the shard means are from the "
        "global mean: combine sums of squares (or Chan's M2 + delta² · n_a · n_b / n), not "
        "the variances", _mean_of_variances, when=_several_shards),
    Bug("count-without-spatial-positions",
        "count is the number of values per channel: N · H · W (every spatial position), not "
        "the batch size N", _count_without_spatial,
        when=lambda case: case.args[0][0].ndim > 2
        and sum(s.shape[0] for s in case.args[0]) > 1),
    Bug("biased-and-unbiased-swapped",
        "return (mean, biased var (÷ n), unbiased var (÷ (n - 1)), count), in that order",
        _biased_and_unbiased_swapped),
]


def _sync_visible(rng):
    return [
        sync_case(rng, (2, 2), note="two shards of equal size"),
        sync_case(rng, (1, 3, 2), c=2, spatial=(4,), note="three shards of different sizes"),
    ]


def _sync_hidden(rng):
    out = []
    for spatial in ((), (5,), (2, 3), (2, 2, 2)):
        for _ in range(3):
            sizes = tuple(int(v) for v in rng.integers(1, 5, int(rng.integers(1, 5))))
            case = sync_case(rng, sizes, c=int(rng.integers(1, 5)), spatial=spatial,
                             note=f"{2 + len(spatial)}-D shards, batch sizes {sizes}")
            # A draw can leave a single value per channel in the whole batch.
            if sum(sizes) * int(np.prod(spatial, dtype=int)) <= 1:
                case = refused(case, ONE_VALUE_PER_CHANNEL)
            out.append(case)
    out += [
        sync_case(rng, (3, 0, 2), note="one shard is empty (batch size 0)"),
        sync_case(rng, (1, 1, 1, 1), spatial=(), note="one sample per shard, (N, C) shards"),
        sync_case(rng, (1,), spatial=(3, 3), note="a single shard of batch size 1"),
        refused(sync_case(rng, (1,), spatial=(), note="one value per channel in total"),
                ONE_VALUE_PER_CHANNEL),
    ]
    bad = sync_case(rng, (2, 2), note="shards with different channel counts")
    bad = dataclasses.replace(bad, args=([bad.args[0][0], rng.standard_normal((2, 4, 2, 3))],))
    return out + [refused(bad, "every shard must have the same channels")]


register(Exercise(
    name="sync_batch_norm_stats", arg_names=SYNC_ARGS, visible=_sync_visible,
    hidden=_sync_hidden, reference=_sync_reference, bugs=SYNC_STATS_BUGS,
))


# sync_batch_norm: the whole layer over shards ------------------------------------------
def sync_bn_case(rng: np.random.Generator, sizes: tuple, c: int = 3, spatial: tuple = (2, 3),
                 *, running: bool = True, weight: bool = True, bias: bool = True,
                 momentum: float | None = None, eps: float | None = None,
                 note: str = "") -> Case:
    """A sync_batch_norm call on shards drawn as ``sync_case`` draws them."""
    base = sync_case(rng, sizes, c, spatial)
    kwargs = {}
    if weight:
        kwargs["weight"] = rng.normal(1.0, 0.5, c)
    if bias:
        kwargs["bias"] = rng.normal(0.0, 1.0, c)
    if momentum is not None:
        kwargs["momentum"] = momentum
    if eps is not None:
        kwargs["eps"] = eps
    rm = rng.normal(0.0, 1.0, c) if running else None
    rv = rng.uniform(0.5, 2.0, c) if running else None
    return Case((base.args[0], rm, rv), kwargs, note=note or f"shard batch sizes {tuple(sizes)}")


def _sync_bn_run(fn, case):
    args, kwargs = copy.deepcopy(case.args), copy.deepcopy(case.kwargs)
    out = fn(*args, **kwargs)
    outs = tuple(out) if isinstance(out, (list, tuple)) else (out,)
    # The count comes first: a one-shard answer stays a tuple, and a wrong count is named.
    outs = (np.asarray(len(outs)),) + outs
    if case.args[1] is None:
        return outs
    return outs + (args[1], args[2])


def _sync_bn(case, *, per_shard_statistics=False, once_per_shard=False,
             momentum_flipped=False, biased_running_var=False, in_place=True):
    """The layer on the concatenated batch, split back into shards; or with one thing
    changed."""
    t = oracle.torch()
    F = oracle.F()
    shards, rm, rv = case.args
    k = case.kwargs
    weight, bias = oracle.to_torch(k.get("weight")), oracle.to_torch(k.get("bias"))
    momentum, eps = k.get("momentum", 0.1), k.get("eps", 1e-5)
    parts = [t.from_numpy(s) for s in shards]
    whole = t.cat(parts)
    rm_t, rv_t = oracle.to_torch(rm), oracle.to_torch(rv)
    factor = 1.0 - momentum if momentum_flipped else momentum
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        old_rv = None if rv_t is None else rv_t.clone()
        y = F.batch_norm(whole, rm_t, rv_t, weight, bias, True, factor, eps)
        outs = list(t.split(y, [s.shape[0] for s in shards]))
        if per_shard_statistics:
            outs = [F.batch_norm(p, None, None, weight, bias, True, 0.0, eps) if p.shape[0] else o
                    for p, o in zip(parts, outs, strict=True)]
        if rm_t is not None:
            if biased_running_var:
                rv_t.copy_((1 - factor) * old_rv
                           + factor * whole.var(dim=_dims(whole), unbiased=False))
            if once_per_shard:
                rm_t, rv_t = oracle.to_torch(rm), oracle.to_torch(rv)
                for p in parts:
                    if p.shape[0]:
                        F.batch_norm(p, rm_t, rv_t, None, None, True, factor, eps)
            if not in_place:
                rm_t, rv_t = oracle.to_torch(rm), oracle.to_torch(rv)
    result = (np.asarray(len(outs)),) + tuple(oracle.to_numpy(o) for o in outs)
    if rm is None:
        return result
    return result + (oracle.to_numpy(rm_t), oracle.to_numpy(rv_t))


def _sync_bn_diagnose(case, got, expected):
    if isinstance(got, tuple) and got and int(np.asarray(got[0])) != int(expected[0]):
        return Hint("one-array-per-shard", f"return a list with one normalized array per shard "
                    f"({int(expected[0])} here), in the order of `shards`")
    return None


def _sync_tracks(case) -> bool:
    return case.args[1] is not None


SYNC_BN_BUGS = [
    Bug("per-shard-statistics",
        "each shard was normalized with its own statistics, as plain BatchNorm on each device "
        "would: SyncBatchNorm normalizes every shard with the statistics of the WHOLE batch "
        "(your sync_batch_norm_stats)", lambda case: _sync_bn(case, per_shard_statistics=True),
        when=_several_shards),
    Bug("running-statistics-once-per-shard",
        "the running statistics are updated once per step, with the global statistics, not "
        "once per shard", lambda case: _sync_bn(case, once_per_shard=True),
        when=lambda case: _several_shards(case) and _sync_tracks(case)),
    shared_bug("momentum-0.9-convention", lambda case: _sync_bn(case, momentum_flipped=True),
               when=lambda case: _sync_tracks(case) and case.kwargs.get("momentum", 0.1) != 0.5),
    shared_bug("biased-running-variance", lambda case: _sync_bn(case, biased_running_var=True),
               when=_sync_tracks),
    shared_bug("not-updated-in-place", lambda case: _sync_bn(case, in_place=False),
               when=_sync_tracks),
]


def _sync_bn_visible(rng):
    return [
        sync_bn_case(rng, (2, 2), note="two shards of equal size, running statistics"),
        sync_bn_case(rng, (1, 3, 2), c=2, spatial=(4,), momentum=0.3, eps=0.01,
                     note="three shards of different sizes, momentum=0.3, eps=0.01"),
        sync_bn_case(rng, (1, 1), c=2, spatial=(), running=False, weight=False, bias=False,
                     note="two (1, C) shards: one sample each, no running statistics"),
    ]


def _sync_bn_hidden(rng):
    out = []
    for spatial, momentum in itertools.product(((), (5,), (2, 3), (2, 2, 2)),
                                               (0.1, 0.0, 1.0, 0.42)):
        sizes = tuple(int(v) for v in rng.integers(1, 4, int(rng.integers(1, 5))))
        weight, bias = bool(rng.integers(0, 3)), bool(rng.integers(0, 3))
        running = bool(rng.integers(0, 4))
        eps = [1e-5, 1e-3, 0.5][int(rng.integers(0, 3))]
        if sum(sizes) * int(np.prod(spatial)) < 2:
            sizes = sizes + (1,)
        out.append(sync_bn_case(rng, sizes, c=int(rng.integers(1, 4)), spatial=spatial,
                                momentum=momentum, eps=eps, weight=weight, bias=bias,
                                running=running,
                                note=f"{2 + len(spatial)}-D shards {sizes}, momentum={momentum}, "
                                     f"eps={eps}, weight={'yes' if weight else 'None'}, "
                                     f"bias={'yes' if bias else 'None'}"
                                     + ("" if running else ", running stats None")))
    out += [
        sync_bn_case(rng, (2, 0, 3), note="one device got an empty shard"),
        sync_bn_case(rng, (1,), spatial=(2, 2), note="a single device, batch size 1"),
        refused(sync_bn_case(rng, (1,), spatial=(), note="one value per channel in the whole "
                             "batch"), ONE_VALUE_PER_CHANNEL),
        refused(sync_bn_case(rng, (2, 2), eps=0.0, note="eps=0"),
                "eps must be positive in training"),
    ]
    return out


register(Exercise(
    name="sync_batch_norm", arg_names=SYNC_BN_ARGS, visible=_sync_bn_visible,
    hidden=_sync_bn_hidden, reference=_sync_bn, bugs=SYNC_BN_BUGS,
    run=_sync_bn_run, diagnose=_sync_bn_diagnose,
))
