"""What the normalization families (batchnorm, layernorm, groupnorm and their module files)
share: the bugs they have in common, each with its one wording, and the random arrays
their cases are drawn from.

Not a family: it registers no exercise.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..compare import Hint
from ..exercise import Bug, Case

# One wording per bug id, whichever normalization the student got wrong.
HINTS = {
    "eps-outside-the-square-root":
        "eps goes inside the square root: (x - mean) / sqrt(var + eps), not "
        "(x - mean) / (sqrt(var) + eps)",
    "unbiased-variance":
        "you divided the variance by n - 1: normalization uses the biased variance (divide "
        "by n, the number of values averaged), as torch does",
    "normalized-with-unbiased-variance":
        "normalize with the BIASED variance (divide by n, the number of values averaged); "
        "the unbiased one (n - 1) is only for updating running_var",
    "biased-running-variance":
        "running_var is updated with the UNBIASED variance (divide by n - 1, n = the number "
        "of values averaged); only the normalization itself uses the biased one (divide by n)",
    "momentum-0.9-convention":
        "torch's momentum is the weight of the NEW statistic: running = (1 - momentum) * "
        "running + momentum * new (momentum=0.1 keeps 90% of the old value); you used the "
        "momentum-0.9 convention the other way round",
    "not-updated-in-place":
        "running_mean and running_var must be updated IN PLACE (running_mean[...] = ...), as "
        "torch does: assigning a new array to the name leaves the caller's array unchanged",
    "eval-uses-input-statistics":
        "in eval() a module that tracks running statistics normalizes with them, not with "
        "the statistics of its input",
    "parameters-with-affine-false":
        "with affine=False there are no parameters: weight and bias are None (InstanceNorm's "
        "affine defaults to False, BatchNorm's and GroupNorm's to True)",
    "running-statistics-without-tracking":
        "with track_running_stats=False there are no running statistics (None), and eval() "
        "still normalizes with the input's statistics",
    "affine-along-the-last-axis":
        "weight and bias are per CHANNEL (axis 1): reshape them to (1, C, 1, ...) before "
        "multiplying; plain broadcasting lines them up with the last axis",
    "interleaved-groups":
        "torch's groups are consecutive blocks of channels (group 0 = channels 0 .. C/G - 1), "
        "not every G-th channel",
    "bias-with-bias-false":
        "with bias=False the module keeps its weight but has no bias: self.bias = None",
}

SHAPE_CHANGED = Hint("shape-changed", "normalization keeps the input's shape")


def shared_bug(bug_id: str, answer: Callable[[Case], Any],
               when: Callable[[Case], bool] | None = None) -> Bug:
    """A bug the normalizations share, with its one wording from ``HINTS``."""
    return Bug(bug_id, HINTS[bug_id], answer, when)


def normal(rng: np.random.Generator, shape, scale: float = 1.0, shift: float = 0.0,
           dtype=np.float64) -> np.ndarray:
    """shift + scale · N(0, 1) samples of ``shape``, in ``dtype``."""
    return (shift + scale * rng.standard_normal(shape)).astype(dtype)


def shape_changed(case: Case, got, expected) -> Hint | None:
    """The hint for an output (or an output tuple's first array) of the wrong shape."""
    if isinstance(expected, tuple):
        expected = expected[0]
        got = got[0] if isinstance(got, (tuple, list)) and got else got
    return SHAPE_CHANGED if np.shape(got) != np.shape(expected) else None
