"""``check``: the one call a test cell makes, and the judging it shares with the grader."""
from __future__ import annotations

import linecache
import traceback
from dataclasses import dataclass

from . import compare, exercise, guard, runtime
from .errors import CheckFailed

_PACKAGE_DIR = __file__.rsplit("/", 1)[0]


@dataclass
class Outcome:
    """What the student's function did on one case: a value, or an exception."""

    value: object = None
    error: str | None = None  # exception type name
    message: str = ""
    where: str = ""


def run_student(ex: exercise.Exercise, fn, case: exercise.Case) -> Outcome:
    try:
        return Outcome(value=ex.run(fn, case))
    except Exception as err:  # noqa: BLE001 - any student bug becomes feedback
        return Outcome(error=type(err).__name__, message=str(err)[:500], where=_where(err))


def _where(err: BaseException) -> str:
    """The last line of the student's own code in the traceback."""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if not f.filename.startswith(_PACKAGE_DIR)]
    if not frames:
        return ""
    frame = frames[-1]
    line = (frame.line or linecache.getline(frame.filename, frame.lineno)).strip()
    return f"in {frame.name}, line {frame.lineno}: {line}"


@dataclass
class Expected:
    """Torch's answer to a case, or the reason torch refuses it."""

    value: object = None
    refusal: str | None = None


# What torch raises when it refuses a configuration (as opposed to a bug in a reference).
REFUSALS = (RuntimeError, ValueError, NotImplementedError, IndexError, TypeError)


def expected_for(ex, case) -> Expected:
    try:
        return Expected(value=ex.reference(case))
    except REFUSALS as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else ""
        return Expected(refusal=f"{type(err).__name__}: {first_line}"[:300])


def judge(ex, case, index, total, hidden, outcome: Outcome, expected: Expected) -> str | None:
    """None when the outcome is right; otherwise the feedback message."""
    def fail(problem, hint=None):
        return compare.failure_message(ex.function, ex.arg_names, case, index, total, hidden, problem, hint)

    if outcome.error == "NotImplementedError":
        return (f"{ex.function} is not implemented yet: replace `raise NotImplementedError()` "
                f"with your code, then run this cell again.")
    if expected.refusal is not None:
        refused = f"torch refuses this configuration ({expected.refusal})"
        if outcome.error is None:
            return fail(compare.Mismatch(
                refused, "but your function returned a value: raise ValueError with a "
                "message that says what is wrong"))
        # Where torch rejects an argument's type, TypeError is as right as ValueError.
        accepted = ("ValueError", "TypeError") if expected.refusal.startswith("TypeError") else ("ValueError",)
        if outcome.error not in accepted:
            return fail(compare.Mismatch(
                refused, f"raise ValueError there; you raised {outcome.error}: {outcome.message}"))
        return None
    if outcome.error is not None:
        detail = outcome.where
        return fail(compare.Mismatch(f"raised {outcome.error}: {outcome.message}", detail))
    problem = compare.compare(expected.value, outcome.value)
    if problem is None:
        return None
    return fail(problem, problem.hint or diagnose(ex, case, outcome.value, expected.value))


def diagnose(ex, case, got, expected) -> str | None:
    """The hint of the first known-wrong variant whose answer equals the student's."""
    for variant in ex.variants:
        try:
            wrong = variant.compute(case)
        except Exception:  # noqa: BLE001 - a variant may not apply to this case
            continue
        if wrong is not None and compare.compare(wrong, got, dtype=False) is None:
            return variant.hint
    if ex.diagnose is not None:
        try:
            return ex.diagnose(case, got, expected)
        except Exception:  # noqa: BLE001
            return None
    return None


def check(name: str, fn, hidden: bool = False) -> None:
    """Compare ``fn`` with torch on the exercise's cases; raise CheckFailed on the first miss."""
    __tracebackhide__ = True  # noqa: F841 - IPython and pytest hide this frame
    if runtime.session is not None:
        runtime.session.submit(name, fn, hidden)
        return
    try:
        ex = exercise.get(name)
    except KeyError as err:
        raise CheckFailed(str(err)) from None
    if fn is None or not callable(fn):
        raise CheckFailed(f"{name}: expected your function or class, got {fn!r}") from None
    used = guard.torch_use(fn)
    if used:
        raise CheckFailed(
            f"{name} uses torch ({used}). Write it with NumPy: torch is the answer key, "
            f"and a solution that calls it earns nothing.") from None
    seed = runtime.hidden_seed() if hidden else runtime.VISIBLE_SEED
    cases = ex.cases(hidden, seed)
    outcomes = (run_student(ex, fn, case) for case in cases)
    message = first_failure(ex, cases, outcomes, [expected_for(ex, c) for c in cases], hidden)
    if message:
        raise CheckFailed(message) from None
    scope = "hidden" if hidden else "visible"
    print(f"{name}: all {len(cases)} {scope} cases match torch")


def first_failure(ex, cases, outcomes, expected, hidden) -> str | None:
    """The message of the first failing case, or None when all pass.

    When the first failure names no likely bug (a crash, say), the later cases are still
    judged, and the first hint found there is added: the student learns the bug either way.
    """
    first = None
    for index, (case, outcome, exp) in enumerate(zip(cases, outcomes, expected)):
        message = judge(ex, case, index, len(cases), hidden, outcome, exp)
        if message is None:
            continue
        if first is None:
            first = message
            if "likely bug:" in message or "not implemented yet" in message:
                return first
        elif "likely bug:" in message:
            hint = message.split("likely bug:", 1)[1].strip()
            return f"{first}\n  likely bug (seen in {ex.function} case {index + 1}): {hint}"
    return first
