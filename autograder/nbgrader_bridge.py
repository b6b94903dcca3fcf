"""nbgrader's own Autograde (command line and Formgrader's button) through the trusted grader.

nbgrader autograde reads a submission, sanitizes it, then runs its autograde
preprocessors; one of them, ``Execute``, runs the cells in a plain kernel, and
``SaveAutoGrades`` scores each test cell from its outputs (an error output: zero).
``nbgrader_config.py`` puts :class:`TrustedGrade` in ``Execute``'s place: it hands the
submitted file (as the student handed it in, not nbgrader's sanitized copy) to the
grader that ``make grade`` uses, and writes the judge's verdicts into the test cells'
outputs, so nbgrader's own scoring gives the points ``make grade`` gives.

:func:`grade_path` is the one function that knows how the grader is reached.
:class:`SubmissionExporter` lets a notebook nbgrader cannot read (invalid JSON, a
cell-type mess its sanitizers refuse) reach :class:`TrustedGrade`, which scores it 0
with the reason, as ``make grade`` does. :func:`register_assignments` fills the
gradebook with the course's assignments (from ``solutions/``) when it does not know them,
so autograde works on a fresh clone without a release first.
"""
from __future__ import annotations

import atexit
import json
import threading
from pathlib import Path

from nbconvert.exporters import NotebookExporter
from nbconvert.preprocessors import Preprocessor

_grader_lock = threading.Lock()
_grader: dict = {}  # one warm grader per course root and seed, for the life of the process


def grade_path(path, assignment: str, student: str, root):
    """Grade one submitted notebook with the course's recorded seed; a ``node.Verdict``.

    ``Verdict`` has ``scores`` / ``max_scores`` (test grade_id -> points), ``messages``
    (grade_id -> verdict text), ``flags`` ([(label, detail)]), ``note`` (why nothing
    could be graded, or ""), ``seed`` and ``autograded`` (the course's test cells with the
    verdicts as outputs, or None). The kernels are the sandboxed ones ``make grade``
    uses; the pool and the judge live as long as this process (Formgrader's server).
    """
    from . import grading, node, sandbox, submission
    from .execution import Settings
    from .judge import Judge

    root, path = Path(root).resolve(), Path(path)
    with _grader_lock:
        seed = grading.seed_for(root, None)
        if "pool" not in _grader:
            _grader["pool"] = sandbox.KernelPool()
            atexit.register(_grader["pool"].close)
        if seed not in _grader:
            _grader[seed] = Judge(seed)
        pool, judge = _grader["pool"], _grader[seed]
    name = path.stem
    solutions = root / "solutions" / assignment
    if not (
        solutions / f"{name}.ipynb"
    ).exists():  # a renamed notebook of a one-notebook assignment
        names = sorted(p.stem for p in solutions.glob("*.ipynb"))
        name = names[0] if len(names) == 1 else name
    source = submission.SourceNotebook.load(solutions / f"{name}.ipynb", assignment,
                                            root / "notebooks" / assignment / f"{name}.ipynb")
    task = grading.read_task(student, assignment, name, path)
    return node.grade(pool, judge, source.for_grading(), task, Settings())


# The gradebook ---------------------------------------------------------------------

def register_assignments(root, db_url, assignment: str = "*", course_id: str = "") -> list:
    """Put what solutions/ holds into the gradebook, for each assignment it does not know:
    what ``nbgrader generate_assignment`` records, without writing a release (the same
    filling ``make grade`` does, ``gradebook.prepare``)."""
    import fnmatch

    from nbgrader.api import Gradebook, MissingEntry

    from . import gradebook, grading

    everything = grading.load_sources(Path(root) / "solutions")
    sources = {name: notebooks for name, notebooks in everything.items()
               if fnmatch.fnmatch(name, assignment or "*")}
    with Gradebook(db_url, course_id) as gb:
        for name, notebooks in list(sources.items()):
            try:
                if {n.name for n in gb.find_assignment(name).notebooks} >= set(notebooks):
                    del sources[name]
            except MissingEntry:
                pass
        gradebook.prepare(gb, sources)
    return sorted(sources)


def pre_convert_hook(root, db_url, course_id):
    """A ``BaseConverter.pre_convert_hook``: the gradebook learns the assignment first."""

    def hook(assignment=None, student=None, notebooks=None):
        register_assignments(root, db_url, assignment or "*", course_id)

    return hook


# nbconvert / nbgrader classes ------------------------------------------------------

def _find(obj, attribute):
    while obj is not None:
        if getattr(obj, attribute, None) is not None:
            return getattr(obj, attribute)
        obj = getattr(obj, "parent", None)
    return None


def _placeholder():
    import nbformat

    return nbformat.v4.new_notebook()


class SubmissionExporter(NotebookExporter):
    """nbgrader's NotebookExporter, except that a submission it cannot read or sanitize
    becomes an empty notebook instead of an error: the grader scores it 0 with the reason."""

    def _sanitizing(self) -> bool:
        return bool(_find(self, "_sanitizing")) and _find(self, "coursedir") is not None

    def from_filename(self, filename, resources=None, **kw):
        try:
            return super().from_filename(filename, resources=resources, **kw)
        except Exception as err:  # noqa: BLE001 - unreadable is the grader's verdict to give
            if not self._sanitizing():
                raise
            self.log.warning("nbgrader cannot read %s (%s); the grader will say why", filename, err)
            return self.from_notebook_node(_placeholder(), resources=resources, **kw)

    def from_notebook_node(self, nb, resources=None, **kw):
        try:
            return super().from_notebook_node(nb, resources=resources, **kw)
        except Exception as err:  # noqa: BLE001 - same: a sanitizer refused a hostile notebook
            if not self._sanitizing() or not nb.cells:
                raise
            self.log.warning("nbgrader's sanitizers refused the submission (%s); "
                             "the grader will say why", err)
            return super().from_notebook_node(_placeholder(), resources=resources, **kw)


REPORT_MARK = "# The grader's report on this submission"


class TrustedGrade(Preprocessor):
    """In nbgrader's Autograde, in place of Execute: the trusted grader's verdicts as outputs."""

    enabled = True  # nbconvert's preprocessors are off unless enabled

    def preprocess(self, nb, resources):
        import nbformat

        info = resources["nbgrader"]
        coursedir = _find(self, "coursedir")
        root = Path(coursedir.root)
        folder = Path(coursedir.format_path(coursedir.submitted_directory, info["student"],
                                            info["assignment"]))
        path = folder / f"{info['notebook']}.ipynb"
        graded = grade_path(path, info["assignment"], info["student"], root)
        self.log.info(
            "trusted grader: %s/%s %s/%s%s",
            info["student"],
            info["assignment"],
            sum(graded.scores.values()),
            sum(graded.max_scores.values()),
            " flags: " + " ".join(sorted({f for f, _ in graded.flags})) if graded.flags else "",
        )
        # Through nbformat's reader: sources and outputs as nbgrader expects them (strings).
        graded_nb = nbformat.reads(
            json.dumps(
                graded.autograded
                or {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
            ),
            as_version=4,
        )
        cells = list(graded_nb.cells)
        tests, kept = set(graded.max_scores), set()
        for cell in cells:
            cell.setdefault("metadata", {})
            # Only the course's own test cells, once each, may carry grading metadata: a
            # student's copy of it (a fake grade cell) must not reach SaveAutoGrades.
            meta = cell.metadata.get("nbgrader")
            if isinstance(meta, dict) and meta:
                grade_id = meta.get("grade_id")
                if cell.get("cell_type") == "code" and grade_id in tests and grade_id not in kept:
                    kept.add(grade_id)
                elif grade_id in tests or not isinstance(grade_id, str):
                    del cell.metadata["nbgrader"]
                else:
                    meta.pop("points", None)
                    meta["grade"] = False
            if cell.get("cell_type") == "code":
                cell.setdefault("outputs", [])
                cell.setdefault("execution_count", None)
        cells.insert(0, nbformat.v4.new_code_cell(REPORT_MARK, outputs=[nbformat.v4.new_output(
            "stream", name="stdout", text=self.report(graded))]))
        nb.cells = cells
        return nb, resources

    @staticmethod
    def report(graded) -> str:
        lines = [f"score {sum(graded.scores.values()):g} of {sum(graded.max_scores.values()):g}"
                 f" (hidden cases drawn with seed {graded.seed})"]
        if graded.note:
            lines.append(f"not graded: {graded.note}")
        for label, detail in graded.flags:
            lines.append(f"flag {label}: {detail}")
        if not graded.flags:
            lines.append("no flags")
        return "\n".join(lines) + "\n"
