"""Chapter 01: one-bug versions of the reference answers, and the hint each must earn."""
import numpy as np

from booktools import solution


def catalogue():
    ref = solution("01_convolution")

    def flipped(x, w, b=None, **kw):
        return ref.conv2d(x, w[..., ::-1, ::-1], b, **kw)

    def upcast(x, w, b=None, **kw):
        """Right values, but float32 input comes back float64 (a float64 buffer)."""
        return ref.conv2d(x.astype(np.float64), w.astype(np.float64), b, **kw)

    def bias_ignored(x, w, b=None, **kw):
        return ref.conv2d(x, w, None, **kw)

    def padding_at_end(x, w, b=None, stride=1, padding=0, **kw):
        if isinstance(padding, str) or padding == 0:
            return ref.conv2d(x, w, b, stride=stride, padding=padding)
        ph, pw = ref._ntuple(padding, 2)
        widths = [(0, 0)] * (x.ndim - 2) + [(0, 2 * ph), (0, 2 * pw)]
        return ref.conv2d(np.pad(x, widths), w, b, stride=stride)

    def same_extra_first(x, w, b=None, stride=1, padding=0, **kw):
        if padding != "same":
            return ref.conv2d(x, w, b, stride=stride, padding=padding)
        if stride != 1:
            raise ValueError("strided 'same'")
        widths = [(0, 0)] * (x.ndim - 2) + [(k - 1 - (k - 1) // 2, (k - 1) // 2) for k in w.shape[2:]]
        return ref.conv2d(np.pad(x, widths), w, b)

    def weight_axes_swapped(x, w, b=None, **kw):
        return ref.conv2d(x, np.swapaxes(w, 0, 1), b, **kw)

    def output_size_ceil(x, w, b=None, stride=1, padding=0, **kw):
        """Rounds the output size up: a last window that runs past the padding is kept."""
        if isinstance(padding, str):
            return ref.conv2d(x, w, b, stride=stride, padding=padding)
        (sh, sw), (ph, pw) = ref._ntuple(stride, 2), ref._ntuple(padding, 2)
        extra = []
        for size, k, s, p in zip(x.shape[-2:], w.shape[-2:], (sh, sw), (ph, pw)):
            out = -(-(size + 2 * p - k) // s) + 1
            extra.append((out - 1) * s + k - (size + 2 * p))
        widths = [(0, 0)] * (x.ndim - 2) + [(ph, ph + extra[0]), (pw, pw + extra[1])]
        return ref.conv2d(np.pad(x, widths), w, b, stride=stride)

    def symmetric_reflect(x, pad, mode="constant", value=None):
        if mode != "reflect":
            return ref.pad(x, pad, mode, value)
        widths = [(0, 0)] * x.ndim
        for i in range(len(pad) // 2):
            widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
        return np.pad(x, widths, mode="symmetric")

    def pad_pairs_first_dim_first(x, pad, mode="constant", value=None):
        pairs = [pad[i:i + 2] for i in range(0, len(pad), 2)]
        return ref.pad(x, tuple(v for pair in reversed(pairs) for v in pair), mode, value)

    def value_ignored(x, pad, mode="constant", value=None):
        return ref.pad(x, pad, mode)

    def padding_mode_ignored(*args, padding_mode="zeros", **kwargs):
        return ref.Conv2d(*args, **kwargs)

    return [
        ("conv2d", flipped, "kernel is flipped"),
        ("conv2d", upcast, "np.zeros(shape)"),
        ("conv2d", bias_ignored, "bias is missing"),
        ("conv2d", padding_at_end, "padded one side only"),
        ("conv2d", same_extra_first, "extra padding at the end"),
        ("conv2d", weight_axes_swapped, "first two axes"),
        ("conv2d", output_size_ceil, "rounds up"),
        ("conv2d_loop", flipped, "kernel is flipped"),
        ("pad", symmetric_reflect, "does not repeat the edge"),
        ("pad", pad_pairs_first_dim_first, "LAST dimension"),
        ("pad", value_ignored, "ignored it"),
        ("Conv2d", padding_mode_ignored, "padding_mode is ignored"),
    ]
