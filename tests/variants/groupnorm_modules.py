"""Chapter 10, the modules: one-bug versions of the reference answers, and the bug id each
must be caught as."""
import numpy as np
from booktools import solution

from variants import pinned


def catalogue():
    ref = solution("10_instance_group_norm")

    def _always_affine(base):
        class AlwaysAffine(base):
            def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False,
                         track_running_stats=False, *, bias=True):
                super().__init__(num_features, eps, momentum, True, track_running_stats, bias=bias)
                self.affine = affine
        return AlwaysAffine

    def _eval_ignored(base):
        class EvalIgnored(base):
            def eval(self):
                return self
        return EvalIgnored

    def _momentum_none_cumulative(base):
        class Cumulative(base):
            steps = 0

            def __call__(self, x):
                if self.momentum is None and self.training and self.track_running_stats:
                    self.steps += 1
                    saved, self.momentum = self.momentum, 1.0 / self.steps
                    try:
                        return super().__call__(x)
                    finally:
                        self.momentum = saved
                return super().__call__(x)
        return Cumulative

    class GroupNormPerGroup(ref.GroupNorm):
        def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, *, bias=True):
            super().__init__(num_groups, num_channels, eps, affine, bias=bias)
            if self.weight is not None:
                self.weight = np.ones(num_groups)
            if self.bias is not None:
                self.bias = np.zeros(num_groups)

    out = []
    for name in ("InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"):
        base = getattr(ref, name)
        out += [
            (name, _always_affine(base), "parameters-with-affine-false"),
            (name, _eval_ignored(base), "eval-uses-input-statistics"),
            (name, _momentum_none_cumulative(base), "momentum-none-as-a-cumulative-average"),
            (name, pinned(base, "always_tracking", track_running_stats=True),
             "running-statistics-without-tracking"),
        ]
    return out + [
        ("GroupNorm", pinned(ref.GroupNorm, "no_params", affine=False), "no-parameters-by-default"),
        ("GroupNorm", pinned(ref.GroupNorm, "always_params", affine=True),
         "parameters-with-affine-false"),
        ("GroupNorm", pinned(ref.GroupNorm, "always_bias", bias=True), "bias-with-bias-false"),
        ("GroupNorm", GroupNormPerGroup, "parameters-per-group"),
    ]
