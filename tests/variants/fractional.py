"""Chapter 05c: one-bug versions of the reference fractional max pooling answers, and the bug
each must be named for."""
import numpy as np
from booktools import solution

from variants.pool_max import named


def frac2d_wrongs(ref):
    """(one-bug fractional_max_pool2d, bug id) pairs."""
    f = ref.fractional_max_pool2d

    def samples_swapped(input, kernel_size, output_size=None, output_ratio=None,
                        return_indices=False, _random_samples=None):
        return f(input, kernel_size, output_size, output_ratio, return_indices,
                 None if _random_samples is None else _random_samples[..., ::-1])

    def first_image_samples(input, kernel_size, output_size=None, output_ratio=None,
                            return_indices=False, _random_samples=None):
        if _random_samples is not None:
            _random_samples = np.broadcast_to(_random_samples[:1], _random_samples.shape)
        return f(input, kernel_size, output_size, output_ratio, return_indices, _random_samples)

    def indices_over_whole_tensor(input, kernel_size, output_size=None, output_ratio=None,
                                  return_indices=False, _random_samples=None):
        result = f(input, kernel_size, output_size, output_ratio, return_indices, _random_samples)
        if not return_indices or input.ndim != 4:
            return result
        n, c, h, w = input.shape
        offset = (np.arange(n)[:, None] * c + np.arange(c)[None, :]) * h * w
        return result[0], result[1] + offset[:, :, None, None]

    def ratio_swapped(input, kernel_size, output_size=None, output_ratio=None,
                      return_indices=False, _random_samples=None):
        if output_ratio is not None:
            output_ratio = tuple(output_ratio)[::-1]
        return f(input, kernel_size, output_size, output_ratio, return_indices, _random_samples)

    def nan_ignored(input, *args, **kwargs):
        return f(np.where(np.isnan(input), -np.inf, input), *args, **kwargs)

    return [
        (samples_swapped, "samples-swapped"),
        (first_image_samples, "first-image-samples-everywhere"),
        (indices_over_whole_tensor, "indices-over-whole-tensor"),
        (ratio_swapped, "output-ratio-swapped"),
        (nan_ignored, "nan-ignored"),
    ]


def frac3d_wrongs(ref):
    """(one-bug fractional_max_pool3d, bug id) pairs."""
    f = ref.fractional_max_pool3d

    def samples_in_2d_order(input, kernel_size, output_size=None, output_ratio=None,
                            return_indices=False, _random_samples=None):
        return f(input, kernel_size, output_size, output_ratio, return_indices,
                 None if _random_samples is None else _random_samples[..., ::-1].copy())

    def nan_ignored(input, *args, **kwargs):
        return f(np.where(np.isnan(input), -np.inf, input), *args, **kwargs)

    return [(samples_in_2d_order, "samples-in-2d-order"), (nan_ignored, "nan-ignored")]


def catalogue():
    ref = solution("05_pooling")
    out = [("fractional_max_pool2d", named("fractional_max_pool2d", fn), bug)
           for fn, bug in frac2d_wrongs(ref)]
    out += [("fractional_max_pool3d", named("fractional_max_pool3d", fn), bug)
            for fn, bug in frac3d_wrongs(ref)]
    return out
