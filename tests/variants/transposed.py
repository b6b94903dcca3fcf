"""Chapter 04: one-bug versions of the reference answers, and the bug each must be named for."""
import numpy as np
from booktools import solution

from autograder.checks._shapes import expand

CHAPTER = "04_transposed_convolution"


def _params(d, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """The call's keyword arguments, padding and output_padding as d-tuples."""
    return dict(stride=stride, padding=expand(padding, d),
                output_padding=expand(output_padding, d), groups=groups, dilation=dilation)


def _with_bias(out, b, d):
    return out if b is None else out + b.reshape((-1,) + (1,) * d)


def _function_variants(d, base):
    """One-bug versions of `base` (a conv_transpose{d}d-like function), named for their bug."""
    def flipped(x, w, b=None, **kw):
        return base(x, w[(Ellipsis,) + (slice(None, None, -1),) * d], b, **kw)

    def bias_ignored(x, w, b=None, **kw):
        return base(x, w, None, **kw)

    def output_padding_at_start(x, w, b=None, **kw):
        o = _params(d, **kw)
        full = base(x, w, None, **dict(kw, padding=0, output_padding=0))
        lead = x.ndim - d
        full = np.pad(full, [(0, 0)] * lead + [(op, 0) for op in o["output_padding"]])
        crop = tuple(slice(p, full.shape[lead + i] - p) for i, p in enumerate(o["padding"]))
        return _with_bias(full[(Ellipsis,) + crop], b, d)

    def padding_added(x, w, b=None, **kw):
        o = _params(d, **kw)
        full = base(x, w, None, **dict(kw, padding=0))
        full = np.pad(full, [(0, 0)] * (x.ndim - d) + [(p, p) for p in o["padding"]])
        return _with_bias(full, b, d)

    def padding_cropped_at_start(x, w, b=None, **kw):
        o = _params(d, **kw)
        full = base(x, w, None, **dict(kw, padding=0))
        crop = tuple(slice(2 * p, None) for p in o["padding"])
        return _with_bias(full[(Ellipsis,) + crop], b, d)

    def weight_read_as_c_out_c_in(x, w, b=None, **kw):
        # Reads weight as (C_out, C_in, ...): contracting its SECOND axis with the input.
        if w.shape[1] * kw.get("groups", 1) != x.shape[-d - 1]:
            raise IndexError("weight axes do not fit the input")
        return base(x, np.swapaxes(w, 0, 1), b, **kw)

    def groups_mixing_channels(x, w, b=None, groups=1, **kw):
        return base(x, np.tile(w, (1, groups) + (1,) * d), b, **kw)

    def dilation_ignored(x, w, b=None, dilation=1, **kw):
        return base(x, w, b, **kw)

    return [flipped, bias_ignored, output_padding_at_start, padding_added,
            padding_cropped_at_start, weight_read_as_c_out_c_in, groups_mixing_channels,
            dilation_ignored]


BUG_IDS = {
    "flipped": "flipped-kernel-in-scatter",
    "bias_ignored": "bias-ignored",
    "output_padding_at_start": "output-padding-at-start",
    "padding_added": "padding-added",
    "padding_cropped_at_start": "padding-cropped-on-one-side",
    "weight_read_as_c_out_c_in": "transposed-weight-axes-swapped",
    "groups_mixing_channels": "groups-mixed",
    "dilation_ignored": "dilation-ignored-in-scatter",
}


def catalogue():
    ref = solution(CHAPTER)
    out = []
    for d, name in ((1, "conv_transpose1d"), (2, "conv_transpose2d"), (3, "conv_transpose3d")):
        base = getattr(ref, name)
        out += [(name, fn, BUG_IDS[fn.__name__]) for fn in _function_variants(d, base)]
    loop = [fn for fn in _function_variants(2, ref.conv_transpose2d_loop)
            if fn.__name__ in ("flipped", "bias_ignored", "output_padding_at_start",
                               "padding_added", "padding_cropped_at_start")]
    out += [("conv_transpose2d_loop", fn, BUG_IDS[fn.__name__]) for fn in loop]

    class output_size_ignored(ref.ConvTranspose2d):
        def __call__(self, input, output_size=None):
            return super().__call__(input)

    class weight_shaped_like_conv2d(ref.ConvTranspose2d):
        def __init__(self, in_channels, out_channels, kernel_size, *args, groups=1, **kwargs):
            super().__init__(in_channels, out_channels, kernel_size, *args, groups=groups, **kwargs)
            self.weight = np.zeros((out_channels, in_channels // groups) + self.kernel_size)

    class groups_on_first_axis(ref.ConvTranspose2d):
        def __init__(self, in_channels, out_channels, kernel_size, *args, groups=1, **kwargs):
            super().__init__(in_channels, out_channels, kernel_size, *args, groups=groups, **kwargs)
            self.weight = np.zeros((in_channels // groups, out_channels) + self.kernel_size)

    class bias_always_created(ref.ConvTranspose2d):
        def __init__(self, in_channels, out_channels, kernel_size, *args, bias=True, **kwargs):
            super().__init__(in_channels, out_channels, kernel_size, *args, **kwargs)

    class output_padding_ignored(ref.ConvTranspose2d):
        def __call__(self, input, output_size=None):
            if output_size is None:
                return ref.conv_transpose2d(input, self.weight, self.bias, self.stride,
                                            self.padding, 0, self.groups, self.dilation)
            return super().__call__(input, output_size)

    out += [
        ("ConvTranspose2d", output_size_ignored, "output-size-ignored"),
        ("ConvTranspose2d", weight_shaped_like_conv2d, "weight-shaped-like-conv2d"),
        ("ConvTranspose2d", groups_on_first_axis, "groups-on-first-weight-axis"),
        ("ConvTranspose2d", bias_always_created, "bias-always-created"),
        ("ConvTranspose2d", output_padding_ignored, "module-output-padding-ignored"),
    ]
    return out
