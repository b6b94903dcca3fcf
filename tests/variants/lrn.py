"""Chapter 11: one-bug versions of the reference answers, and the hint each must earn."""
import numpy as np
from booktools import solution


def catalogue():
    ref = solution("11_local_response_norm")

    def _lrn(input, size, alpha, beta, k, before=None, after=None, divisor="size", axis=1,
             square=True, power=True):
        ref.local_response_norm(input, size, alpha, beta, k)     # the same refusals
        before = size // 2 if before is None else before
        after = (size - 1) // 2 if after is None else after
        values = input * input if square else input
        widths = [(0, 0)] * input.ndim
        widths[axis] = (before, after)
        window = before + after + 1
        sums = np.lib.stride_tricks.sliding_window_view(np.pad(values, widths), window,
                                                        axis=axis).sum(axis=-1)
        if divisor == "size":
            mean = sums / size
        elif divisor == "count":
            ones = np.pad(np.ones(input.shape), widths)
            counts = np.lib.stride_tricks.sliding_window_view(ones, window, axis=axis).sum(axis=-1)
            mean = sums / counts
        else:
            mean = sums
        base = k + alpha * mean
        return input / (base ** beta if power else base)

    def by_count(input, size, alpha=1e-4, beta=0.75, k=1.0):
        return _lrn(input, size, alpha, beta, k, divisor="count")

    def centred_other_way(input, size, alpha=1e-4, beta=0.75, k=1.0):
        return _lrn(input, size, alpha, beta, k, before=(size - 1) // 2, after=size // 2)

    def symmetric_window(input, size, alpha=1e-4, beta=0.75, k=1.0):
        return _lrn(input, size, alpha, beta, k, before=size // 2, after=size // 2)

    def sum_not_mean(input, size, alpha=1e-4, beta=0.75, k=1.0):
        return _lrn(input, size, alpha, beta, k, divisor=None)

    def last_axis(input, size, alpha=1e-4, beta=0.75, k=1.0):
        return _lrn(input, size, alpha, beta, k, axis=input.ndim - 1 if input.ndim >= 3 else 1)

    def beta_ignored(input, size, alpha=1e-4, beta=0.75, k=1.0):
        return _lrn(input, size, alpha, beta, k, power=False)

    def not_squared(input, size, alpha=1e-4, beta=0.75, k=1.0):
        with np.errstate(all="ignore"):   # a negative base to a fractional power is NaN
            return _lrn(input, size, alpha, beta, k, square=False)

    out = []
    for name in ("local_response_norm", "local_response_norm_loop"):
        out += [
            (name, by_count, "divided-by-window-count"),
            (name, centred_other_way, "even-window-centred-the-other-way"),
            (name, symmetric_window, "window-of-size-plus-one"),
            (name, sum_not_mean, "sum-instead-of-mean"),
            (name, last_axis, "window-along-the-last-axis"),
            (name, beta_ignored, "beta-ignored"),
            (name, not_squared, "values-not-squared"),
        ]
    return out
