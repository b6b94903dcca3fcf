"""Chapter 08, SyncBatchNorm: one-bug versions of the reference answers, and the bug id
each must be caught as."""
import numpy as np
from booktools import solution

from variants.batchnorm import stat_axes


def catalogue():
    ref = solution("08_batch_norm")

    # sync_batch_norm_stats ------------------------------------------------------------
    def mean_of_means(shards):
        mean, var, var_u, n = ref.sync_batch_norm_stats(shards)
        means = [s.mean(axis=stat_axes(s)) for s in shards if s.shape[0]]
        return np.mean(means, axis=0), var, var_u, n

    def mean_of_vars(shards):
        mean, _, _, n = ref.sync_batch_norm_stats(shards)
        full = [s for s in shards if s.shape[0]]
        counts = np.array([s.size // s.shape[1] for s in full])
        var = sum(c * s.var(axis=stat_axes(s)) for c, s in zip(counts, full, strict=True))
        var = var / counts.sum()
        return mean, var, var * n / (n - 1), n

    def count_without_spatial(shards):
        mean, var, _, _ = ref.sync_batch_norm_stats(shards)
        n = sum(s.shape[0] for s in shards)
        return mean, var, var * n / (n - 1), n

    def biased_unbiased_swapped(shards):
        mean, var, var_u, n = ref.sync_batch_norm_stats(shards)
        return mean, var_u, var, n

    def sync_per_shard(shards, running_mean, running_var, weight=None, bias=None,
                       momentum=0.1, eps=1e-5):
        ref.sync_batch_norm(shards, running_mean, running_var, weight, bias, momentum, eps)
        return [ref.batch_norm(s, None, None, weight, bias, True, momentum, eps) for s in shards]

    def sync_once_per_shard(shards, running_mean, running_var, weight=None, bias=None,
                            momentum=0.1, eps=1e-5):
        out = ref.sync_batch_norm(shards, None, None, weight, bias, momentum, eps)
        if running_mean is not None:
            for s in shards:
                if s.shape[0]:
                    ref.batch_norm(s, running_mean, running_var, None, None, True, momentum, eps)
        return out

    def sync_momentum_09(shards, running_mean, running_var, weight=None, bias=None,
                         momentum=0.1, eps=1e-5):
        return ref.sync_batch_norm(shards, running_mean, running_var, weight, bias,
                                   1 - momentum, eps)

    def sync_biased_running_var(shards, running_mean, running_var, weight=None, bias=None,
                                momentum=0.1, eps=1e-5):
        old = None if running_var is None else running_var.copy()
        out = ref.sync_batch_norm(shards, running_mean, running_var, weight, bias, momentum, eps)
        if running_var is not None:
            _, var, _, _ = ref.sync_batch_norm_stats(shards)
            running_var[...] = (1 - momentum) * old + momentum * var
        return out

    def sync_not_in_place(shards, running_mean, running_var, weight=None, bias=None,
                          momentum=0.1, eps=1e-5):
        if running_mean is not None:
            running_mean, running_var = running_mean.copy(), running_var.copy()
        return ref.sync_batch_norm(shards, running_mean, running_var, weight, bias, momentum, eps)

    return [
        ("sync_batch_norm_stats", mean_of_means, "mean-of-the-shard-means"),
        ("sync_batch_norm_stats", mean_of_vars, "mean-of-the-shard-variances"),
        ("sync_batch_norm_stats", count_without_spatial, "count-without-spatial-positions"),
        ("sync_batch_norm_stats", biased_unbiased_swapped, "biased-and-unbiased-swapped"),
        ("sync_batch_norm", sync_per_shard, "per-shard-statistics"),
        ("sync_batch_norm", sync_once_per_shard, "running-statistics-once-per-shard"),
        ("sync_batch_norm", sync_momentum_09, "momentum-0.9-convention"),
        ("sync_batch_norm", sync_biased_running_var, "biased-running-variance"),
        ("sync_batch_norm", sync_not_in_place, "not-updated-in-place"),
    ]
