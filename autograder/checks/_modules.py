"""Probing a student's ``nn.Module``-like class against torch's, shared by every family
that grades a module (Conv2d, ConvTranspose2d, BatchNorm, LayerNorm, GroupNorm, ...).

A module check builds the module (``build`` / ``torch_build``), reports for each parameter
whether it exists and its shape (``probe`` / ``torch_probe``), gives it the case's values
(``load`` / ``torch_load``), then calls it; ``first_difference`` names the first of these
outputs that differs from torch's.
Not a family: it registers no exercise.
"""
from __future__ import annotations

import numpy as np

from .. import compare, oracle
from ..exercise import case_float_dtype, module_to


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
    for index, (exp, out) in enumerate(zip(expected, got, strict=True)):
        if compare.compare_one(np.asarray(exp), out) is not None:
            return compare.Hint("module-output-differs",
                                f"the first mismatch, output {index}, is {labels[index]}")
    return None


def build(cls, case):
    """The student's module made from the case's arguments, its float arrays in the case's
    dtype (what ``.to(dtype)`` does to torch's)."""
    return module_to(cls(*case.args, **case.kwargs), case_float_dtype(case))


def torch_build(torch_name: str, case):
    """torch's ``nn.<torch_name>`` made from the case's arguments, in the case's dtype."""
    return getattr(oracle.torch().nn, torch_name)(*case.args, **case.kwargs).to(
        oracle.case_dtype(case))


def load(module, values: dict) -> None:
    """Give the student's module each of ``values`` (name -> array) it holds (not None)."""
    for name, value in values.items():
        if getattr(module, name, None) is not None:
            setattr(module, name, value.copy())


def torch_load(module, values: dict) -> None:
    """The same for torch's module, in place, as its parameters are leaves."""
    t = oracle.torch()
    with t.no_grad():
        for name, value in values.items():
            if getattr(module, name, None) is not None:
                getattr(module, name).copy_(t.from_numpy(value))
