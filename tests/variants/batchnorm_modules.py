"""Chapter 08, BatchNorm1d/2d/3d: one-bug versions of the reference answers, and the bug id
each must be caught as."""
from booktools import solution

from variants import pinned
from variants.batchnorm import stat_axes


def catalogue():
    ref = solution("08_batch_norm")

    def wrong_module(base, name, *, always_training=False, counted=True, momentum_none_as=None,
                     momentum_flipped=False, eval_batch_stats=False, biased_running_var=False):
        """The reference module with one thing changed in forward."""
        class Wrong(base):
            def __call__(self, input):
                self._check_input_dim(input)
                training = self.training or always_training
                track = self.track_running_stats
                factor = 0.0 if self.momentum is None else self.momentum
                if training and track:
                    if counted:
                        self.num_batches_tracked += 1
                    if self.momentum is None:
                        factor = momentum_none_as or 1.0 / self.num_batches_tracked
                    elif momentum_flipped:
                        factor = 1.0 - self.momentum
                use_batch = training or self.running_mean is None
                running = not training or track
                if eval_batch_stats and not training:
                    use_batch, running = True, False
                old = None if self.running_var is None else self.running_var.copy()
                out = ref.batch_norm(input, self.running_mean if running else None,
                                     self.running_var if running else None, self.weight,
                                     self.bias, use_batch, factor, self.eps)
                if biased_running_var and training and track:
                    var = input.var(axis=stat_axes(input))
                    self.running_var[...] = (1 - factor) * old + factor * var
                return out
        Wrong.__name__ = f"{base.__name__}_{name}"
        return Wrong

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

    out = []
    for name in ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d"):
        base = getattr(ref, name)
        out += [
            (name, wrong_module(base, "momentum_09", momentum_flipped=True),
             "momentum-0.9-convention"),
            (name, wrong_module(base, "biased_running_var", biased_running_var=True),
             "biased-running-variance"),
            (name, wrong_module(base, "eval_uses_batch_stats", eval_batch_stats=True),
             "eval-uses-input-statistics"),
            (name, wrong_module(base, "always_training", always_training=True),
             "train-eval-ignored"),
            (name, wrong_module(base, "momentum_none_as_01", momentum_none_as=0.1),
             "momentum-none-as-0.1"),
            (name, wrong_module(base, "count_not_incremented", counted=False),
             "num-batches-tracked-not-counted"),
            (name, pinned(base, "tracks_always", track_running_stats=True),
             "running-statistics-without-tracking"),
            (name, pinned(base, "affine_always", affine=True), "parameters-with-affine-false"),
            (name, step_off_by_one(base), "cumulative-average-off-by-one"),
        ]
    return out
