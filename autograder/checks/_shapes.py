"""Sizes and parameter forms every family shares, each defined once, as torch defines them.

Not a family: it registers no exercise.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def expand(value, n: int) -> tuple:
    """torch's reading of a size argument of a d-D op (``kernel_size=3``, ``stride=(2,)``):
    an int, or a 1-element sequence, stands for every axis; a longer sequence is taken as
    it is (its length is the caller's to check, as torch's is)."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        values = tuple(value)
        return values * n if len(values) == 1 else values
    return (value,) * n


def exact(value, n: int) -> tuple:
    """An int stands for every axis; a sequence is taken as it is, even of length 1
    (``interpolate``'s ``size`` and ``scale_factor``, where torch does not broadcast)."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        return tuple(value)
    return (value,) * n


def window_out_size(size: int, kernel: int, stride: int = 1, padding: int = 0,
                    dilation: int = 1, ceil_mode: bool = False) -> int:
    """Output length of a sliding window (convolution, pooling, unfold) along one axis:
    floor((size + 2·padding − dilation·(kernel − 1) − 1) / stride) + 1; with ``ceil_mode``
    rounded up, except that the last window must start inside the input or its left padding."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if not ceil_mode:
        return span // stride + 1
    out = math.ceil(span / stride) + 1
    if (out - 1) * stride >= size + padding:
        out -= 1
    return out


def transposed_out_size(size: int, kernel: int, stride: int = 1, padding: int = 0,
                        output_padding: int = 0, dilation: int = 1) -> int:
    """Output length of a transposed convolution along one axis (the formula run backwards)."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def shape_diagnosis(explain):
    """A ``diagnose`` for an answer of the right rank but the wrong shape:
    ``explain(case, got_shape, expected_shape)`` says why (a Hint, or None)."""
    def diagnose(case, got, expected):
        shapes = differing_shapes(got, expected)
        return None if shapes is None else explain(case, *shapes)
    return diagnose


def differing_shapes(got, expected) -> tuple | None:
    """(got's shape, expected's shape) when the answer is an array of the right rank but
    the wrong shape — what a shape diagnosis explains; None otherwise."""
    got_shape = getattr(got, "shape", None)
    exp_shape = np.asarray(expected).shape
    if got_shape is None or len(got_shape) != len(exp_shape) or got_shape == exp_shape:
        return None
    return got_shape, exp_shape
