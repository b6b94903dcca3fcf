"""Torch as the oracle: run a case through torch in float64 and come back to NumPy.

Imported lazily by the families' reference functions, never at module level, so that the
grading kernel (which imports the families) never has torch loaded.
"""
from __future__ import annotations

import warnings

import numpy as np

_CONFIGURED = False


def torch():
    """torch, on one intra-op thread: the cases are small, and graders run side by side."""
    global _CONFIGURED
    import torch as _torch

    if not _CONFIGURED:
        _torch.set_num_threads(1)
        _CONFIGURED = True
    return _torch


def F():
    return torch().nn.functional


def to_torch(value):
    """NumPy arrays become tensors (same dtype); tuples and lists are converted inside."""
    if isinstance(value, np.ndarray):
        return torch().from_numpy(np.ascontiguousarray(value).copy())
    if isinstance(value, tuple):
        return tuple(to_torch(v) for v in value)
    if isinstance(value, list):
        return [to_torch(v) for v in value]
    return value


def to_numpy(value):
    t = torch()
    if isinstance(value, t.Tensor):
        return value.detach().cpu().numpy().copy()
    if isinstance(value, (tuple, list)):
        return tuple(to_numpy(v) for v in value)
    return value


def call(fn, *args, **kwargs):
    """Call a torch function on NumPy arguments, silencing its warnings.

    A warning on stderr zeroes an nbgrader test cell (torch warns on ``padding='same'``
    with an even kernel), so the oracle never lets one through.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(*to_torch(args), **{k: to_torch(v) for k, v in kwargs.items()})
    return to_numpy(out)


def case_dtype(case):
    """torch's dtype for a case: float32 for the float32 form of a case, else float64."""
    from .exercise import case_float_dtype

    return getattr(torch(), np.dtype(case_float_dtype(case)).name)


def call_case(fn, case, **overrides):
    """``call`` on a Case's arguments, with some keyword arguments replaced."""
    kwargs = dict(case.kwargs)
    kwargs.update(overrides)
    return call(fn, *case.args, **kwargs)
