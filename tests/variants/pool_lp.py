"""Chapter 05c: one-bug versions of the reference lp pooling answers, and the bug each must be
named for."""
import numpy as np
from booktools import solution

from variants.pool_max import named


def lp_wrongs(ref, f, d):
    """(one-bug lp_pool{d}d built on the reference ``f``, bug id) pairs."""
    nt = ref._ntuple
    max_pool = getattr(ref, {1: "max_pool1d", 2: "max_pool2d", 3: "max_pool3d"}[d])
    avg_pool = getattr(ref, {1: "avg_pool1d", 2: "avg_pool2d", 3: "avg_pool3d"}[d])

    def stride_one(input, norm_type, kernel_size, stride=None, ceil_mode=False):
        return f(input, norm_type, kernel_size, 1 if stride is None else stride, ceil_mode)

    def power_mean(input, norm_type, kernel_size, stride=None, ceil_mode=False):
        if not np.isfinite(norm_type):
            return f(input, norm_type, kernel_size, stride, ceil_mode)
        with np.errstate(all="ignore"):
            mean = avg_pool(input ** norm_type, kernel_size, stride, 0, ceil_mode)
            return mean ** (1.0 / norm_type)

    def abs_first(input, norm_type, kernel_size, stride=None, ceil_mode=False):
        if not np.isfinite(norm_type):
            return f(input, norm_type, kernel_size, stride, ceil_mode)
        return f(np.abs(input), norm_type, kernel_size, stride, ceil_mode)

    def partial_window_summed(input, norm_type, kernel_size, stride=None, ceil_mode=False):
        if not ceil_mode or not np.isfinite(norm_type):
            return f(input, norm_type, kernel_size, stride, ceil_mode)
        k = nt(kernel_size, d)
        s = k if stride is None else nt(stride, d)
        with np.errstate(all="ignore"):
            xp = input ** norm_type
            if d == 1:
                total = ref.avg_pool2d(xp[..., None, :], (1, k[0]), (1, s[0]), 0, True, True,
                                       1)[..., 0, :]
            else:
                total = avg_pool(xp, k, s, 0, True, True, 1)
            return total ** (1.0 / norm_type)

    def inf_without_abs(input, norm_type, kernel_size, stride=None, ceil_mode=False):
        if np.isfinite(norm_type):
            return f(input, norm_type, kernel_size, stride, ceil_mode)
        if norm_type > 0:
            return max_pool(input, kernel_size, stride, 0, 1, ceil_mode)
        return -max_pool(-input, kernel_size, stride, 0, 1, ceil_mode)

    return [
        (stride_one, "stride-defaults-to-1"),
        (power_mean, "mean-instead-of-sum"),
        (abs_first, "abs-before-power"),
        (partial_window_summed, "partial-window-summed"),
        (inf_without_abs, "inf-norm-without-abs"),
    ]


def catalogue():
    ref = solution("05_pooling")
    out = []
    for name, d in {"lp_pool1d": 1, "lp_pool2d": 2, "lp_pool3d": 3}.items():
        out += [(name, named(name, fn), bug) for fn, bug in lp_wrongs(ref, getattr(ref, name), d)]
    return out
