"""Chapter 06a: one-bug versions of max_unpool1d/2d/3d, and the bug each must be caught as."""
import numpy as np
from booktools import solution


def _bugs(ref, name, d):
    unpool = {1: ref.max_unpool1d, 2: ref.max_unpool2d, 3: ref.max_unpool3d}[d]

    def output_size_ignored(input, indices, kernel_size, stride=None, padding=0,
                            output_size=None):
        return unpool(input, indices, kernel_size, stride, padding)

    def stride_defaults_to_one(input, indices, kernel_size, stride=None, padding=0,
                               output_size=None):
        return unpool(input, indices, kernel_size, 1 if stride is None else stride, padding,
                      output_size)

    def padding_ignored(input, indices, kernel_size, stride=None, padding=0, output_size=None):
        if output_size is not None:
            return unpool(input, indices, kernel_size, stride, padding, output_size)
        return unpool(input, indices, kernel_size, stride, 0)

    def indices_over_padded_plane(input, indices, kernel_size, stride=None, padding=0,
                                  output_size=None):
        right = unpool(input, indices, kernel_size, stride, padding, output_size)
        pads = ref._ntuple(padding, d)
        if not any(pads):
            return right
        size = right.shape[-d:]
        big = tuple(s + 2 * p for s, p in zip(size, pads, strict=True))
        lead = input.shape[:-d]
        out = np.zeros(lead + (int(np.prod(big)),))
        np.put_along_axis(out, indices.reshape(lead + (-1,)), input.reshape(lead + (-1,)),
                          axis=-1)
        out = out.reshape(lead + big)
        return out[(Ellipsis,) + tuple(slice(p, p + s) for s, p in zip(size, pads, strict=True))]

    def column_major(input, indices, kernel_size, stride=None, padding=0, output_size=None):
        right = unpool(input, indices, kernel_size, stride, padding, output_size)
        size = right.shape[-d:]
        count = int(np.prod(input.shape[-d:]))
        values, flat = input.reshape(-1, count), indices.reshape(-1, count)
        out = np.zeros((values.shape[0],) + size)
        for plane in range(values.shape[0]):
            out[(plane,) + np.unravel_index(flat[plane], size, order="F")] = values[plane]
        return out.reshape(right.shape)

    bugs = [
        (name, output_size_ignored, "unpool-output-size-ignored"),
        (name, stride_defaults_to_one, "unpool-stride-defaults-to-one"),
        (name, padding_ignored, "unpool-padding-ignored"),
        (name, indices_over_padded_plane, "indices-over-the-padded-plane"),
    ]
    if d > 1:
        bugs.append((name, column_major, "column-major-indices"))
    return bugs


def catalogue():
    ref = solution("06_unpooling_upsampling")
    out = []
    for name, d in {"max_unpool1d": 1, "max_unpool2d": 2, "max_unpool3d": 3}.items():
        out += _bugs(ref, name, d)
    return out
