"""Chapter 08: one-bug versions of the reference answers, and the hint each must earn."""
import numpy as np

from booktools import solution


def _axes(x):
    return (0,) + tuple(range(2, x.ndim))


def _view(x):
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def catalogue():
    ref = solution("08_batch_norm")

    # batch_norm ---------------------------------------------------------------------
    def momentum_09(input, running_mean, running_var, weight=None, bias=None,
                    training=False, momentum=0.1, eps=1e-5):
        """Keeps `momentum` of the old value: the Keras / course-notes convention."""
        return ref.batch_norm(input, running_mean, running_var, weight, bias, training,
                              1 - momentum, eps)

    def biased_running_var(input, running_mean, running_var, weight=None, bias=None,
                           training=False, momentum=0.1, eps=1e-5):
        old = None if running_var is None else running_var.copy()
        out = ref.batch_norm(input, running_mean, running_var, weight, bias, training,
                             momentum, eps)
        if training and running_var is not None:
            running_var[...] = (1 - momentum) * old + momentum * input.var(axis=_axes(input))
        return out

    def unbiased_normalization(input, running_mean, running_var, weight=None, bias=None,
                               training=False, momentum=0.1, eps=1e-5):
        out = ref.batch_norm(input, running_mean, running_var, None, None, training,
                             momentum, eps)
        if training:
            m = input.size // input.shape[1]
            var = input.var(axis=_axes(input)).reshape(_view(input))
            # rescale from sqrt(var + eps) to sqrt(var * m / (m - 1) + eps)
            out = out * np.sqrt(var + eps) / np.sqrt(var * m / (m - 1) + eps)
        if weight is not None:
            out = out * weight.reshape(_view(input))
        if bias is not None:
            out = out + bias.reshape(_view(input))
        return out

    def eval_uses_batch_stats(input, running_mean, running_var, weight=None, bias=None,
                              training=False, momentum=0.1, eps=1e-5):
        if not training:
            return ref.batch_norm(input, None, None, weight, bias, True, momentum, eps)
        return ref.batch_norm(input, running_mean, running_var, weight, bias, training,
                              momentum, eps)

    def batch_axis_only(input, running_mean, running_var, weight=None, bias=None,
                        training=False, momentum=0.1, eps=1e-5):
        out = ref.batch_norm(input, running_mean, running_var, weight, bias, training,
                             momentum, eps)
        if not training:
            return out
        y = (input - input.mean(axis=0)) / np.sqrt(input.var(axis=0) + eps)
        if weight is not None:
            y = y * weight.reshape(_view(input))
        if bias is not None:
            y = y + bias.reshape(_view(input))
        return y

    def eps_outside(input, running_mean, running_var, weight=None, bias=None,
                    training=False, momentum=0.1, eps=1e-5):
        if training:
            mean, var = input.mean(axis=_axes(input)), input.var(axis=_axes(input))
        else:
            mean, var = running_mean, running_var
        ref.batch_norm(input, running_mean, running_var, None, None, training, momentum, eps)
        y = (input - mean.reshape(_view(input))) / (np.sqrt(var.reshape(_view(input))) + eps)
        if weight is not None:
            y = y * weight.reshape(_view(input))
        if bias is not None:
            y = y + bias.reshape(_view(input))
        return y

    def affine_last_axis(input, running_mean, running_var, weight=None, bias=None,
                         training=False, momentum=0.1, eps=1e-5):
        y = ref.batch_norm(input, running_mean, running_var, None, None, training, momentum, eps)
        if weight is not None:
            y = y * weight
        if bias is not None:
            y = y + bias
        return y

    def not_in_place(input, running_mean, running_var, weight=None, bias=None,
                     training=False, momentum=0.1, eps=1e-5):
        if running_mean is not None:
            running_mean, running_var = running_mean.copy(), running_var.copy()
        return ref.batch_norm(input, running_mean, running_var, weight, bias, training,
                              momentum, eps)

    # modules --------------------------------------------------------------------------
    def wrong_module(base, bug):
        class Wrong(base):
            def __call__(self, input):
                self._check_input_dim(input)
                training = self.training or bug == "always training"
                track = self.track_running_stats
                factor = 0.0 if self.momentum is None else self.momentum
                if training and track:
                    if bug != "count not incremented":
                        self.num_batches_tracked += 1
                    if self.momentum is None:
                        factor = 0.1 if bug == "momentum None" else 1.0 / self.num_batches_tracked
                    elif bug == "momentum 0.9":
                        factor = 1.0 - self.momentum
                use_batch = training or self.running_mean is None
                running = not training or track
                if bug == "eval uses batch stats" and not training:
                    use_batch, running = True, False
                old = None if self.running_var is None else self.running_var.copy()
                out = ref.batch_norm(input, self.running_mean if running else None,
                                     self.running_var if running else None, self.weight,
                                     self.bias, use_batch, factor, self.eps)
                if bug == "biased running var" and training and track:
                    self.running_var[...] = (1 - factor) * old + factor * input.var(axis=_axes(input))
                return out
        Wrong.__name__ = f"{base.__name__}_{bug.replace(' ', '_').replace('.', '')}"
        return Wrong

    def tracks_always(base):
        class TracksAlways(base):
            """track_running_stats=False ignored: running statistics kept and used."""
            def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                         track_running_stats=True, **kwargs):
                super().__init__(num_features, eps, momentum, affine, True, **kwargs)
        TracksAlways.__name__ = f"{base.__name__}_tracks_always"
        return TracksAlways

    def affine_always(base):
        class AffineAlways(base):
            """affine=False ignored: weight and bias exist (ones and zeros)."""
            def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                         track_running_stats=True, **kwargs):
                super().__init__(num_features, eps, momentum, True, track_running_stats, **kwargs)
        AffineAlways.__name__ = f"{base.__name__}_affine_always"
        return AffineAlways

    def step_off_by_one(base):
        class Wrong(base):
            """momentum=None with the factor taken BEFORE counting: 1/0 on the first step
            would crash, so this one divides by count + 1 after incrementing."""
            def __call__(self, input):
                if self.momentum is None and self.training and self.track_running_stats:
                    self._check_input_dim(input)
                    self.num_batches_tracked += 1
                    factor = 1.0 / (self.num_batches_tracked + 1)
                    return ref.batch_norm(input, self.running_mean, self.running_var,
                                          self.weight, self.bias, True, factor, self.eps)
                return super().__call__(input)
        Wrong.__name__ = f"{base.__name__}_cma_off_by_one"
        return Wrong

    module_bugs = [
        ("momentum 0.9", "momentum-0.9 convention"),
        ("biased running var", "UNBIASED"),
        ("eval uses batch stats", "in eval() the module normalizes with its running"),
        ("always training", "train() and eval() must change"),
        ("momentum None", "cumulative moving average"),
        ("count not incremented", "num_batches_tracked counts the training steps"),
    ]

    # sync_batch_norm_stats ------------------------------------------------------------
    def mean_of_means(shards):
        mean, var, var_u, n = ref.sync_batch_norm_stats(shards)
        means = [s.mean(axis=_axes(s)) for s in shards if s.shape[0]]
        return np.mean(means, axis=0), var, var_u, n

    def mean_of_vars(shards):
        mean, _, _, n = ref.sync_batch_norm_stats(shards)
        full = [s for s in shards if s.shape[0]]
        counts = np.array([s.size // s.shape[1] for s in full])
        var = sum(c * s.var(axis=_axes(s)) for c, s in zip(counts, full)) / counts.sum()
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

    functional = [
        (momentum_09, "momentum-0.9 convention"),
        (biased_running_var, "UNBIASED batch variance"),
        (unbiased_normalization, "normalize with the BIASED"),
        (eval_uses_batch_stats, "with training=False normalize with running_mean"),
        (batch_axis_only, "not over axis 0 alone"),
        (eps_outside, "eps goes inside the square root"),
        (affine_last_axis, "per CHANNEL"),
        (not_in_place, "IN PLACE"),
    ]
    out = [("batch_norm", fn, hint) for fn, hint in functional]
    out += [("batch_norm_loop", fn, hint) for fn, hint in functional[:4]]
    for name in ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d"):
        base = getattr(ref, name)
        out += [(name, wrong_module(base, bug), hint) for bug, hint in module_bugs]
        out += [(name, tracks_always(base), "track_running_stats=False running_mean"),
                (name, affine_always(base), "with affine=False weight and bias are None"),
                (name, step_off_by_one(base), "running_mean after step 1")]
    out += [
        ("sync_batch_norm_stats", mean_of_means, "do not average the means"),
        ("sync_batch_norm_stats", mean_of_vars, "not the variances"),
        ("sync_batch_norm_stats", count_without_spatial, "not the batch size N"),
        ("sync_batch_norm_stats", biased_unbiased_swapped, "in that order"),
        ("sync_batch_norm", sync_per_shard, "statistics of the WHOLE batch"),
        ("sync_batch_norm", sync_once_per_shard, "not once per shard"),
        ("sync_batch_norm", sync_momentum_09, "weight of the NEW batch"),
        ("sync_batch_norm", sync_biased_running_var, "UNBIASED variance of the whole batch"),
        ("sync_batch_norm", sync_not_in_place, "IN PLACE"),
    ]
    return out
