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
    frames = [
        f
        for f in traceback.extract_tb(err.__traceback__)
        if not f.filename.startswith(_PACKAGE_DIR)
    ]
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


@dataclass
class Failure:
    """Why one case failed, as data; ``message()`` puts it in words, last."""

    ex: exercise.Exercise
    case: exercise.Case
    index: int
    total: int
    hidden: bool
    problem: compare.Mismatch | None  # None: the function is not written yet
    hint: compare.Hint | None = None
    hint_seen_in: int | None = None  # the later case the hint comes from, when not this one

    @property
    def bug_id(self) -> str | None:
        return self.hint.id if self.hint else None

    def message(self) -> str:
        if self.problem is None:
            return (
                f"{self.ex.function} is not implemented yet: replace `raise NotImplementedError()` "
                f"with your code, then run this cell again."
            )
        here = self.hint if self.hint_seen_in is None else None
        text = compare.failure_message(
            self.ex.function,
            self.ex.arg_names,
            self.case,
            self.index,
            self.total,
            self.hidden,
            self.problem,
            here.text if here else None,
        )
        if self.hint_seen_in is not None:
            text += (f"\n  likely bug (seen in {self.ex.function} case {self.hint_seen_in + 1}): "
                     f"{self.hint.text}")
        return text


def judge(ex, case, index, total, hidden, outcome: Outcome, expected: Expected) -> Failure | None:
    """None when the outcome is right; otherwise what is wrong."""
    def fail(problem, hint=None):
        return Failure(ex, case, index, total, hidden, problem, hint)

    if outcome.error == "NotImplementedError":
        return fail(None)
    if expected.refusal is not None:
        refused = f"torch refuses this configuration ({expected.refusal})"
        if outcome.error is None:
            return fail(compare.Mismatch(
                refused, "but your function returned a value: raise ValueError with a "
                "message that says what is wrong"))
        # Where torch rejects an argument's type, TypeError is as right as ValueError.
        accepted = (
            ("ValueError", "TypeError")
            if expected.refusal.startswith("TypeError")
            else ("ValueError",)
        )
        if outcome.error not in accepted:
            return fail(compare.Mismatch(
                refused, f"raise ValueError there; you raised {outcome.error}: {outcome.message}"))
        return None
    if outcome.error is not None:
        return fail(compare.Mismatch(f"raised {outcome.error}: {outcome.message}", outcome.where))
    problem = compare.compare(expected.value, outcome.value)
    if problem is None:
        return None
    return fail(problem, problem.hint or diagnose(ex, case, outcome.value, expected.value))


def diagnose(ex, case, got, expected) -> compare.Hint | None:
    """The first known bug that applies to this case and gives the student's answer."""
    for bug in ex.bugs:
        try:
            if not bug.applies(case):
                continue
            wrong = bug.answer(case)
        except Exception:  # noqa: BLE001 - a bug may not be computable on this case
            continue
        if wrong is not None and compare.compare(wrong, got, dtype=False) is None:
            return bug.as_hint
    if ex.diagnose is not None:
        try:
            hint = ex.diagnose(case, got, expected)
        except Exception:  # noqa: BLE001
            return None
        return hint
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
    failure = first_failure(ex, cases, outcomes, [expected_for(ex, c) for c in cases], hidden)
    if failure:
        raise CheckFailed(failure.message(), failure.bug_id) from None
    scope = "hidden" if hidden else "visible"
    print(f"{name}: all {len(cases)} {scope} cases match torch")


def first_failure(ex, cases, outcomes, expected, hidden) -> Failure | None:
    """The first failing case, or None when all pass.

    When the first failure names no likely bug (a crash, say), the later cases are still
    judged, and the first hint found there is added: the student learns the bug either way.
    """
    first = None
    for index, (case, outcome, exp) in enumerate(zip(cases, outcomes, expected, strict=True)):
        failure = judge(ex, case, index, len(cases), hidden, outcome, exp)
        if failure is None:
            continue
        if first is None:
            first = failure
            if failure.hint is not None or failure.problem is None:
                return first
        elif failure.hint is not None:
            first.hint, first.hint_seen_in = failure.hint, index
            return first
    return first
