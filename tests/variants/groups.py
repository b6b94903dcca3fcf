"""Chapter 02: one-bug versions of the reference answers, and the bug each must be named for."""
import numpy as np
from booktools import solution

from autograder.checks._shapes import expand


def _strided_order(c, g):
    return np.concatenate([np.arange(j, c, g) for j in range(g)])


def _conv_catalogue(ref, d):
    name, exercise = {1: ("conv1d", "conv1d/groups"), 2: ("conv2d", "conv2d/groups"),
                      3: ("conv3d", "conv3d/groups")}[d]
    conv = getattr(ref, name)
    axis = -d - 1

    def mixed_across_groups(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
        """Group j reads input channels j, j + G, j + 2G, ... instead of a contiguous block."""
        if groups >= 1 and x.shape[axis] % groups == 0:
            x = np.take(x, _strided_order(x.shape[axis], groups), axis=axis)
        return conv(x, w, b, stride, padding, dilation, groups)

    def output_interleaved(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
        """Output channel o is computed by group o % G."""
        if groups < 1 or w.shape[0] % groups:
            return conv(x, w, b, stride, padding, dilation, groups)
        perm = _strided_order(w.shape[0], groups)
        out = conv(x, w[perm], None if b is None else b[perm], stride, padding, dilation, groups)
        return np.take(out, np.argsort(perm), axis=axis)

    def dilation_ignored(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
        return conv(x, w, b, stride, padding, 1, groups)

    def dilation_plus_one(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
        dil = expand(dilation, d)
        return conv(x, w, b, stride, padding, tuple(v + 1 for v in dil), groups)

    def same_extra_first(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
        if padding != "same" or stride != 1:
            return conv(x, w, b, stride, padding, dilation, groups)
        totals = [dl * (k - 1) for dl, k in zip(expand(dilation, d), w.shape[2:], strict=True)]
        widths = [(0, 0)] * (x.ndim - d) + [(t - t // 2, t // 2) for t in totals]
        return conv(np.pad(x, widths), w, b, 1, 0, dilation, groups)

    def same_ignores_dilation(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
        if padding != "same" or stride != 1:
            return conv(x, w, b, stride, padding, dilation, groups)
        widths = [(0, 0)] * (x.ndim - d) + [((k - 1) // 2, k - 1 - (k - 1) // 2)
                                            for k in w.shape[2:]]
        return conv(np.pad(x, widths), w, b, 1, 0, dilation, groups)

    def flipped(x, w, b=None, **kw):
        return conv(x, w[(Ellipsis,) + (slice(None, None, -1),) * d], b, **kw)

    def bias_ignored(x, w, b=None, **kw):
        return conv(x, w, None, **kw)

    return [
        (exercise, mixed_across_groups, "channels-mixed-across-groups"),
        (exercise, output_interleaved, "output-channels-interleaved"),
        (exercise, dilation_ignored, "dilation-ignored"),
        (exercise, dilation_plus_one, "dilation-off-by-one"),
        (exercise, same_extra_first, "same-dilated-extra-at-start"),
        (exercise, same_ignores_dilation, "same-ignores-dilation"),
        (exercise, flipped, "flipped-kernel"),
        (exercise, bias_ignored, "bias-ignored"),
    ]


def catalogue():
    ref = solution("02_groups_dilation")
    entries = []
    for d in (1, 2, 3):
        entries += _conv_catalogue(ref, d)

    def count_bias_ignored(in_channels, out_channels, kernel_size, groups=1, bias=True):
        return ref.conv_parameter_count(in_channels, out_channels, kernel_size, groups, False)

    def count_groups_ignored(in_channels, out_channels, kernel_size, groups=1, bias=True):
        if in_channels % groups or out_channels % groups:
            raise ValueError("not divisible")
        return ref.conv_parameter_count(in_channels, out_channels, kernel_size, 1, bias)

    def count_groups_twice(in_channels, out_channels, kernel_size, groups=1, bias=True):
        weights = ref.conv_parameter_count(in_channels, out_channels, kernel_size, groups, False)
        return weights // groups + (out_channels if bias else 0)

    def count_kernel_not_squared(in_channels, out_channels, kernel_size, groups=1, bias=True):
        if isinstance(kernel_size, int):
            kernel_size = (kernel_size,)
        return ref.conv_parameter_count(in_channels, out_channels, kernel_size, groups, bias)

    def rf_strides_ignored(kernel_sizes, strides=None, dilations=None):
        return ref.receptive_field(kernel_sizes, None, dilations)

    def rf_dilations_ignored(kernel_sizes, strides=None, dilations=None):
        return ref.receptive_field(kernel_sizes, strides, None)

    def rf_own_stride(kernel_sizes, strides=None, dilations=None):
        strides = strides or (1,) * len(kernel_sizes)
        dilations = dilations or (1,) * len(kernel_sizes)
        field, jump = 1, 1
        for k, s, dl in zip(kernel_sizes, strides, dilations, strict=True):
            jump *= s
            field += dl * (k - 1) * jump
        return field

    def rf_sum_of_kernels(kernel_sizes, strides=None, dilations=None):
        dilations = dilations or (1,) * len(kernel_sizes)
        return int(sum(dl * (k - 1) + 1 for k, dl in zip(kernel_sizes, dilations, strict=True)))

    entries += [
        ("conv_parameter_count", count_bias_ignored, "bias-not-counted"),
        ("conv_parameter_count", count_groups_ignored, "groups-not-counted"),
        ("conv_parameter_count", count_groups_twice, "divided-by-groups-twice"),
        ("conv_parameter_count", count_kernel_not_squared, "int-kernel-size-not-squared"),
        ("receptive_field", rf_strides_ignored, "strides-ignored"),
        ("receptive_field", rf_dilations_ignored, "dilations-ignored"),
        ("receptive_field", rf_own_stride, "own-stride-counted"),
        ("receptive_field", rf_sum_of_kernels, "kernel-sizes-summed"),
    ]
    return entries
