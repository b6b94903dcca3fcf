"""A grading node: one submitted notebook's bytes in, its verdicts out.

The node holds the sandboxed kernel pool and a judge; it reads no file of the course's
(no ``submitted/``, no ``solutions/``, no gradebook): a task carries the notebook's bytes,
and the node's ``SourceNotebook`` is ``for_grading()`` (test cells only). The same node
grades for ``make grade``, for nbgrader's Autograde and on a Dask worker.
"""
from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field

from . import exercise, records, submission
from .execution import Settings, execute

FLAG_LABELS = {"torch-used": "torch-used", "tamper": "tamper", "timeout": "timeout",
               "memory": "memory", "crashed": "crashed", "process": "tamper", "network": "tamper",
               "exit": "tamper", "loads-arrays": "torch-used", "malformed": "malformed",
               "other-library": "other-library"}


@dataclass
class Task:
    student: str
    assignment: str
    notebook: str  # the notebook's name without .ipynb
    data: bytes | None  # the submitted file; None when it could not be read
    read_error: str = ""  # why it could not be read
    digest: str = ""


@dataclass
class Verdict:
    student: str
    assignment: str
    notebook: str
    scores: dict  # test grade_id -> points
    max_scores: dict
    messages: dict  # test grade_id -> feedback text
    flags: list  # (label, detail)
    seed: int
    digest: str
    autograded: dict | None = None  # the notebook nbgrader's feedback is made from
    note: str = ""
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


def grade(pool, judge, spec: submission.SourceNotebook, task: Task, settings: Settings) -> Verdict:
    """Grade one task; whatever goes wrong, the task gets a verdict with its reason."""
    began = time.monotonic()
    try:
        return _grade(pool, judge, spec, task, settings, began)
    except Exception as err:  # noqa: BLE001 - one submission never stops the batch
        detail = f"the grader failed on this notebook ({type(err).__name__}: {str(err)[:200]})"
        traceback.print_exc()
        return _failed(judge, spec, task, detail, began, label="crashed")


def _failed(judge, spec, task, note, began, label="malformed") -> Verdict:
    max_scores = {gid: pts for gid, (_, pts, _) in spec.tests.items()}
    zero = {gid: 0 for gid in max_scores}
    messages = {gid: f"not graded: {note}" for gid in max_scores}
    autograded = None
    if spec.released is not None:  # feedback still shows the chapter, verdicts in
        blank = submission.build_plan(spec, spec.released)
        autograded = records.autograded_notebook(spec, blank, messages, zero)
    return Verdict(task.student, task.assignment, task.notebook, zero, max_scores, messages,
                   [(label, note)], judge.seed, task.digest, autograded, note,
                   time.monotonic() - began)


def _grade(pool, judge, spec, task, settings, began) -> Verdict:
    if task.data is None:
        return _failed(judge, spec, task, task.read_error or "the file could not be read", began)
    try:
        nb, fixes = submission.parse_notebook(task.data, f"{task.notebook}.ipynb")
    except submission.Malformed as err:
        return _failed(judge, spec, task, str(err), began)
    max_scores = {gid: pts for gid, (_, pts, _) in spec.tests.items()}
    plan = submission.build_plan(spec, nb)
    checks = [c for step in plan.steps if step.kind == "test" for c in step.checks]
    run = execute(pool, plan.steps, judge.cases_for(checks), settings)

    flags = [("malformed", f"repaired: {fix}") for fix in fixes]
    flags += [(label, detail) for label, detail, _ in plan.notes]
    # Tampering with a test cell costs that exercise its points, whatever the answer.
    affected = {gid: f"{label}: {detail}" for label, detail, gid in plan.notes if gid}
    defined = {i: submission.defined_names(s.source) for i, s in enumerate(plan.steps)
               if s.kind in ("answer", "student")}
    for kind, detail, step in run.flags:
        label = FLAG_LABELS.get(kind, "tamper")
        if step is None or not 0 <= step < len(plan.steps):
            flags.append((label, detail))
            continue
        cell = plan.steps[step]
        if cell.kind == "book":
            continue  # the text's own cells may touch torch; they are not the student's
        where = cell.grade_id or f"cell {step}"
        flags.append((label, f"{detail} ({where})"))
        if cell.kind == "test":
            affected[cell.grade_id] = f"{label}: {detail}"
            continue
        names = defined.get(step, set())
        for test in plan.steps:
            if test.kind == "test" and any(_function(n) in names for n, _ in test.checks):
                affected.setdefault(test.grade_id, f"{label} in {where}: {detail}")

    scores, messages = {}, {}
    for index, step in enumerate(plan.steps):
        if step.kind != "test":
            continue
        problems = []
        reports, status = run.reports.get(index, {}), run.status.get(index)
        for name, hidden in step.checks:
            report = reports.get((name, hidden))
            if report is None:
                why = status if status not in (None, "ok") else "it was not reached"
                problems.append(f"{name} ({'hidden' if hidden else 'visible'} cases): "
                                f"the check did not run ({why})")
                continue
            message = judge.verdict(name, hidden, report)
            if message:
                problems.append(message)
        if step.grade_id in affected:
            problems.insert(0, f"no credit: {affected[step.grade_id]}")
        if problems:
            scores[step.grade_id] = 0
            messages[step.grade_id] = "\n\n".join(problems)
        else:
            scores[step.grade_id] = max_scores[step.grade_id]
            counts = [
                f"{judge.case_count(n, h)} {'hidden' if h else 'visible'}" for n, h in step.checks
            ]
            messages[step.grade_id] = f"passed: {', '.join(counts)} cases match torch"
    autograded = records.autograded_notebook(spec, plan, messages, scores)
    return Verdict(task.student, task.assignment, task.notebook, scores, max_scores, messages,
                   _dedup(flags), judge.seed, task.digest, autograded, "", time.monotonic() - began)


def _function(name):
    try:
        return exercise.get(name).function
    except KeyError:
        return name


def _dedup(items):
    seen, out = set(), []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out
