"""NumPy against torch: the tolerance policy, the comparison, and the feedback message.

This module is shared by the student's own kernel (visible tests) and by the grader's
judge (hidden tests), so both say exactly the same thing about the same answer.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def tolerance(dtype) -> tuple[float, float]:
    """The book's one tolerance policy: (rtol, atol) for comparing with torch.

    float64: rtol 1e-6, atol 1e-8 — a sum in another order differs near 1e-15, so this
    only fails a real bug. float32: rtol 1e-4, atol 1e-5. Integers (pooling indices,
    counts) and booleans must be equal.
    """
    dtype = np.dtype(dtype)
    if dtype.kind in "biu":
        return 0.0, 0.0
    if dtype == np.float64:
        return 1e-6, 1e-8
    return 1e-4, 1e-5


@dataclass(frozen=True)
class Hint:
    """A likely bug: a stable id (tests and records key on it) and its one wording."""

    id: str
    text: str


@dataclass
class Mismatch:
    """Why one output differs from torch's, already in words."""

    summary: str
    detail: str = ""
    # The likely bug, when the mismatch itself names one (an upcast dtype).
    hint: Hint | None = None


def as_outputs(value) -> tuple:
    """A function returns one array or a tuple of them: always work with a tuple."""
    if isinstance(value, (tuple, list)):
        return tuple(value)
    return (value,)


def _type_problem(got):
    # The grader's judge sees a returned non-array only by its type name (``type_name``).
    type_name = getattr(got, "type_name", None) or f"{type(got).__module__}.{type(got).__name__}"
    if got is None:
        return "returned None — did you forget `return`?"
    if type_name.split(".")[0] == "torch":
        return "returned a torch tensor — the book's functions return NumPy arrays"
    if isinstance(got, (np.ndarray, np.generic, int, float, bool)):
        return None
    return f"returned a {type_name.split('.')[-1]}, expected a NumPy array"


def compare(expected, got, dtype: bool = True) -> Mismatch | None:
    """None when ``got`` matches ``expected`` (torch's outputs) under the policy.

    The output's dtype is part of the answer: float32 in, float32 out, as torch does.
    ``dtype=False`` compares values only (a known-wrong variant is recognised by its
    values, whatever dtype the student's answer has).
    """
    expected = as_outputs(expected)
    if len(expected) > 1:
        if not isinstance(got, (tuple, list)):
            return Mismatch(f"returned one value, expected a tuple of {len(expected)}")
        if len(got) != len(expected):
            return Mismatch(f"returned {len(got)} values, expected {len(expected)}")
    else:
        got = (got,)
    for position, (exp, out) in enumerate(zip(expected, got, strict=True)):
        where = f"output {position}: " if len(expected) > 1 else ""
        problem = compare_one(np.asarray(exp), out, dtype)
        if problem:
            problem.summary = where + problem.summary
            return problem
    return None


def compare_one(exp: np.ndarray, got, dtype: bool = True) -> Mismatch | None:
    # A warning on stderr zeroes an nbgrader test cell; overflow in a wrong answer is normal.
    with np.errstate(all="ignore"):
        problem = _compare_one(exp, got)
        if problem is None and dtype:
            problem = dtype_problem(exp, got)
        return problem


UPCAST_HINT = Hint("upcast-to-float64", (
    "the answer was computed in float64 although the input is float32: a buffer made "
    "with np.zeros(shape) / np.empty(shape) / np.ones(shape) without dtype= is float64, "
    "and a float64 array or np.float64 constant mixed in promotes the whole result. "
    "Make buffers with dtype=input.dtype (or np.zeros_like(input)) and keep constants "
    "Python floats"))


def dtype_problem(exp: np.ndarray, got) -> Mismatch | None:
    """The output's dtype must be torch's exactly: float32 stays float32, indices int64.

    Values are compared first: a dtype is only worth a message once the numbers are right.
    """
    got_dtype = np.asarray(got).dtype
    if got_dtype == exp.dtype:
        return None
    summary = f"the values match, but the dtype is {got_dtype}; torch returns {exp.dtype}"
    if exp.dtype == np.float32 and got_dtype == np.float64:
        return Mismatch(summary, "torch keeps float32 input in float32", hint=UPCAST_HINT)
    if exp.dtype.kind == "f" and got_dtype.kind == "f":
        return Mismatch(summary, f"the output's dtype follows the input's: return {exp.dtype}")
    if exp.dtype.kind in "iu":
        return Mismatch(summary, f"torch's indices are {exp.dtype}: return "
                        f"{exp.dtype} (np.argmax gives it; .astype({exp.dtype}) otherwise)")
    return Mismatch(summary, f"return {exp.dtype}")


def _compare_one(exp: np.ndarray, got) -> Mismatch | None:
    problem = _type_problem(got)
    if problem:
        return Mismatch(problem)
    got = np.asarray(got)
    if got.shape != exp.shape:
        return Mismatch(f"expected shape {exp.shape}, got {got.shape}")
    if exp.dtype.kind in "biu":
        if got.dtype.kind not in "biu":
            return Mismatch(f"expected integers ({exp.dtype}), got {got.dtype}")
        wrong = np.argwhere(got != exp)
        if len(wrong):
            first = tuple(int(i) for i in wrong[0])
            return Mismatch(
                f"{len(wrong)} of {exp.size} values differ",
                f"first at {list(first)}: expected {exp[first]}, got {got[first]}",
            )
        return None
    if got.dtype.kind not in "biufc":
        return Mismatch(f"expected numbers, got dtype {got.dtype}")
    got = got.astype(np.float64)
    exp64 = exp.astype(np.float64)
    rtol, atol = tolerance(exp.dtype)
    nan_exp, nan_got = np.isnan(exp64), np.isnan(got)
    if (nan_exp != nan_got).any():
        idx = tuple(int(i) for i in np.argwhere(nan_exp != nan_got)[0])
        return Mismatch(
            "NaN in the wrong places",
            f"at {list(idx)}: expected {exp64[idx]}, got {got[idx]}",
        )
    finite = ~nan_exp
    err = np.where(finite, np.abs(got - exp64), 0.0)
    err = np.nan_to_num(err, nan=np.inf)
    ok = np.where(finite, err <= atol + rtol * np.abs(exp64), True)
    if ok.all():
        return None
    idx = tuple(int(i) for i in np.unravel_index(np.argmax(err), err.shape))
    rel = err / np.maximum(np.abs(exp64), np.finfo(np.float64).tiny)
    return Mismatch(
        f"{int((~ok).sum())} of {exp.size} values differ"
        f" (max abs error {err[idx]:.3g}, max rel error {np.max(rel):.3g})",
        f"largest at {list(idx)}: expected {exp64[idx]:.6g}, got {got[idx]:.6g}"
        f" (rtol {rtol:g}, atol {atol:g})",
    )


def describe_value(value) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {describe_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, np.ndarray):
        return f"array{value.shape}" + ("" if value.dtype == np.float64 else f" {value.dtype}")
    if isinstance(value, (list, tuple)) and any(isinstance(v, np.ndarray) for v in value):
        inner = ", ".join(describe_value(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    return repr(value)


def describe_call(name: str, arg_names, case) -> str:
    parts = []
    for i, value in enumerate(case.args):
        label = arg_names[i] if i < len(arg_names) else f"arg{i}"
        parts.append(f"{label}={describe_value(value)}")
    parts += [f"{k}={describe_value(v)}" for k, v in case.kwargs.items()]
    return f"{name}({', '.join(parts)})"


def failure_message(name, arg_names, case, index, total, hidden, problem, hint=None) -> str:
    """The one-screen feedback for a failing case."""
    scope = "hidden" if hidden else "visible"
    lines = [f"{name}: {scope} case {index + 1} of {total} failed"]
    if case.note:
        lines.append(f"  case:     {case.note}")
    lines.append(f"  call:     {describe_call(name, arg_names, case)}")
    lines.append(f"  problem:  {problem.summary}")
    if problem.detail:
        lines.append(f"            {problem.detail}")
    if hint:
        lines.append(f"  likely bug: {hint}")
    return "\n".join(lines)
