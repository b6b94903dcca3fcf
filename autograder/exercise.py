"""What an exercise is, and the registry the families fill.

A family module (``autograder/checks/<family>.py``) describes each exercise: how to
build its cases from a seeded generator, how torch computes the expected answer, and
which known-wrong answers it recognises. The mechanisms (``compare``, ``api``,
``grading``) only ever see these objects, never a family by name.

Family modules must not import torch at module level: the grading kernel that runs
student code imports every family but must never have torch loaded.
"""
from __future__ import annotations

import copy
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .compare import Hint


@dataclass
class Case:
    """One call of the student's function.

    ``args`` / ``kwargs`` are the call itself (NumPy arrays and plain values).
    ``note`` says what the case is about, shown in feedback ("'same' with an even kernel").
    ``refused`` says why torch refuses the case (``refused(case, why)``): the student's
    function must then raise ValueError, and ``tests/test_book.py`` proves torch refuses it.
    ``extra`` carries what a custom ``run`` needs beyond the call (module states, steps).
    """

    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    note: str = ""
    extra: dict = field(default_factory=dict)
    refused: str = ""


def refused(case: Case, why: str) -> Case:
    """Declare that torch refuses ``case``, and why; the note says so to the student."""
    case.refused = why
    if "refuse" not in case.note:
        case.note = f"{case.note} (torch refuses: {why})" if case.note else f"torch refuses: {why}"
    return case


@dataclass(frozen=True)
class Bug:
    """A known bug: a stable id, the one hint it earns, when it applies, and the wrong
    answer it gives (computed with torch). A student's answer equal to ``answer(case)``
    on a case where ``when(case)`` holds earns ``hint``; ``tests/variants`` holds a NumPy
    implementation with exactly this bug for every id."""

    id: str
    hint: str
    answer: Callable[[Case], Any]
    when: Callable[[Case], bool] | None = None

    def applies(self, case: Case) -> bool:
        return self.when is None or bool(self.when(case))

    @property
    def as_hint(self) -> Hint:
        return Hint(self.id, self.hint)


def default_run(fn, case: Case):
    """Call the student's function on private copies, so mutation cannot leak between cases."""
    return fn(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs))


@dataclass
class Exercise:
    """Everything about grading one function or class."""

    name: str
    arg_names: tuple
    visible: Callable[[np.random.Generator], list]
    hidden: Callable[[np.random.Generator], list]
    reference: Callable[[Case], Any]
    bugs: list = field(default_factory=list)  # Bug, tried in order
    run: Callable = default_run
    # Hints no single wrong answer gives (a wrong shape, say): (case, got, expected) ->
    # a Hint or None.
    diagnose: Callable | None = None
    family: str = ""
    # The student's function name, for feedback; an exercise that grades a later
    # chapter's extension of a function is named "conv2d/groups" but calls conv2d.
    function: str = ""
    # How many hidden cases are graded again in float32, besides one visible case: torch
    # keeps float32 in float32, and so must the answer (compare.dtype_problem). 0 only
    # where float32 has no meaning for the exercise (a finite-difference gradient).
    float32_cases: int = 4
    # Case -> its float32 form, or None where the case has nothing to cast.
    to_float32: Callable[[Case], Case | None] | None = None

    def __post_init__(self):
        self.function = self.function or self.name.split("/")[0]

    def cases(self, hidden: bool, seed: int) -> list:
        rng = np.random.default_rng([seed, _stable_hash(self.name), int(hidden)])
        if hidden:
            cases = list(self.hidden(rng))
            return cases + self.float32(cases, self.float32_cases)
        visible = list(self.visible(rng))
        # The float32 case comes last: a bug in the values is met in float64 first.
        visible += self.float32(visible, 1) if self.float32_cases else []
        if any(_says_refused(case) for case in visible):
            return visible
        return visible + self.visible_refusal(seed)

    def float32(self, cases: list, count: int) -> list:
        """Up to ``count`` of ``cases`` again in float32, spread over the list; refusals
        and cases with no float64 array are left out."""
        cast = self.to_float32 or float32_case
        made = [c for c in (cast(case) for case in cases if not _says_refused(case)) if c]
        if len(made) <= count or count == 0:
            return made[:count]
        step = len(made) / count
        return [made[int(i * step)] for i in range(count)]

    def visible_refusal(self, seed: int) -> list:
        """One refusal for the visible cases, so that a student meets the ValueError rule
        before grading: the first hidden case, drawn from the visible seed, declared
        ``refused``; none when the exercise grades no refusal."""
        rng = np.random.default_rng([seed, _stable_hash(self.name), 2])
        return next(([case] for case in self.hidden(rng) if _says_refused(case)), [])


def float32_case(case: Case) -> Case | None:
    """The same call with every float64 array in float32 (integer arrays, such as indices,
    and Python numbers stay as they are); None when there is nothing to cast."""
    found = []

    def cast(value):
        if isinstance(value, np.ndarray) and value.dtype == np.float64:
            found.append(True)
            return value.astype(np.float32)
        if isinstance(value, tuple):
            return tuple(cast(v) for v in value)
        if isinstance(value, list):
            return [cast(v) for v in value]
        if isinstance(value, dict):
            return {k: cast(v) for k, v in value.items()}
        return value

    args, kwargs, extra = cast(case.args), cast(case.kwargs), cast(case.extra)
    if not found:
        return None
    note = f"{case.note} (float32)" if case.note else "float32"
    return Case(args, kwargs, note=note, extra=extra)


def case_float_dtype(case: Case):
    """float32 for the float32 form of a case (``float32_case``), else float64."""
    arrays = _arrays((case.args, case.kwargs, case.extra))
    return np.float32 if any(a.dtype == np.float32 for a in arrays) else np.float64


def _arrays(value):
    """Every NumPy array inside nested tuples, lists and dicts."""
    if isinstance(value, np.ndarray):
        yield value
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _arrays(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _arrays(v)


def module_to(module, dtype):
    """What torch's ``module.to(dtype)`` does, for a student's NumPy module: its float
    arrays (weight, bias, running statistics) become ``dtype``. The grader does it before
    a float32 case, as torch's reference module is made float32."""
    if dtype == np.float64:
        return module
    for name, value in list(vars(module).items()):
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            setattr(module, name, value.astype(dtype))
    return module


def _says_refused(case: Case) -> bool:
    return bool(case.refused)


def _stable_hash(text: str) -> int:
    h = 2166136261
    for byte in text.encode():
        h = ((h ^ byte) * 16777619) % 2**32
    return h


_REGISTRY: dict[str, Exercise] = {}
_LOADED = False


def register(exercise: Exercise) -> Exercise:
    if exercise.name in _REGISTRY:
        raise RuntimeError(f"exercise {exercise.name!r} is registered twice")
    _REGISTRY[exercise.name] = exercise
    return exercise


def load_families() -> None:
    """Import every module of ``autograder.checks`` once; each registers its exercises."""
    global _LOADED
    if _LOADED:
        return
    from . import checks

    for info in sorted(pkgutil.iter_modules(checks.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{checks.__name__}.{info.name}")
        for ex in list(_REGISTRY.values()):
            if not ex.family:
                ex.family = info.name
        del module
    _LOADED = True


def get(name: str) -> Exercise:
    load_families()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise KeyError(f"no exercise named {name!r}; known: {known}") from None


def all_exercises() -> dict[str, Exercise]:
    load_families()
    return dict(_REGISTRY)
