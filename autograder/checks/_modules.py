"""Probing a student's ``nn.Module``-like class against torch's, shared by every family
that grades a module (Conv2d, ConvTranspose2d, BatchNorm, LayerNorm, GroupNorm, ...).

A module check reports, for each parameter, whether it exists and its shape, then the
outputs; ``first_difference`` names the first of these that differs from torch's.
Not a family: it registers no exercise.
"""
from __future__ import annotations

import numpy as np

from .. import compare


def probe(module, name: str) -> tuple:
    """(exists, shape) of one parameter of the student's module (None counts as absent)."""
    value = getattr(module, name, None)
    if value is None:
        return np.array(False), np.array([], dtype=np.int64)
    return np.array(True), np.array(np.shape(value), dtype=np.int64)


def torch_probe(module, name: str) -> tuple:
    """The same for torch's module."""
    value = getattr(module, name, None)
    if value is None:
        return np.array(False), np.array([], dtype=np.int64)
    return np.array(True), np.array(tuple(value.shape), dtype=np.int64)


def probe_labels(*names: str) -> list[str]:
    """The words for the probed outputs, in the order ``probe`` gives them."""
    labels = []
    for name in names:
        labels += [f"whether self.{name} exists (None or not)", f"the shape of self.{name}"]
    return labels


def first_difference(labels, got, expected) -> compare.Hint | None:
    """Which of a module check's outputs is the first to differ from torch's."""
    if not isinstance(got, tuple) or len(got) != len(expected) or len(labels) != len(expected):
        return None
    for index, (exp, out) in enumerate(zip(expected, got)):
        if compare.compare_one(np.asarray(exp), out) is not None:
            return compare.Hint("module-output-differs",
                                f"the first mismatch, output {index}, is {labels[index]}")
    return None
