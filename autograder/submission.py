"""From a submitted notebook (anything a student can hand in) to the cells the grader runs.

The course's own test cells are always the ones that run, taken from solutions/ (with
their hidden tests) and placed after the answer they test, whatever the student did to
their copy: edited, deleted, duplicated, moved or retyped test cells are noted, never
obeyed. The student's other code cells run in the student's order.
"""
from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path

from . import nbcell
from .kernel import Step

MAX_NOTEBOOK_BYTES = 50 * 2**20
# What ``check`` prints on success; student code has no reason to print it.
FAKE_OUTPUT = "cases match torch"


class Malformed(Exception):
    """Nothing can be graded: the message says why, for the report."""


def check_calls(source: str) -> list:
    """The (exercise, hidden) pairs a test cell's ``check(...)`` calls name."""
    calls = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "check" and node.args:
            name = node.args[0]
            if isinstance(name, ast.Constant) and isinstance(name.value, str):
                hidden = any(k.arg == "hidden" and getattr(k.value, "value", False) is True
                             for k in node.keywords)
                calls.append((name.value, hidden))
    return calls


def defined_names(source: str) -> set:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}


def visible_part(source: str) -> str:
    """A test cell as the student sees it: without the hidden block."""
    out, hidden = [], False
    for line in source.splitlines():
        if "### BEGIN HIDDEN TESTS" in line:
            hidden = True
        elif "### END HIDDEN TESTS" in line:
            hidden = False
        elif not hidden:
            out.append(line)
    return "\n".join(out).strip()


@dataclass
class SourceNotebook:
    """What solutions/ says one notebook of an assignment holds.

    ``cells`` are the source's cells (answers included) for the coordinator; a grading
    node gets ``for_grading()``, which keeps only the test cells and the released stub.
    """

    chapter: str  # the assignment id
    cells: list
    tests: dict = field(default_factory=dict)  # grade_id -> (source, points, checks)
    answers: list = field(default_factory=list)  # solution grade_ids, in order
    anchors: dict = field(default_factory=dict)  # test grade_id -> preceding answer grade_id
    book_sources: set = field(default_factory=set)  # ordinary code cells of the text
    notebook: str = ""  # the notebook's name without .ipynb (the assignment id when alone)
    released: dict | None = None  # the student version, for feedback on an ungradable file

    @classmethod
    def load(cls, path: Path, chapter: str, released: Path | None = None) -> SourceNotebook:
        nb = json.loads(path.read_text(encoding="utf-8"))
        self = cls(chapter, nb["cells"], notebook=path.stem)
        if released is not None and released.exists():
            self.released = json.loads(released.read_text(encoding="utf-8"))
        last_answer = None
        for cell in nb["cells"]:
            meta, source = nbcell.grading(cell), nbcell.source(cell)
            if cell.get("cell_type") != "code":
                continue
            if meta.get("grade") and not meta.get("solution"):
                self.tests[meta["grade_id"]] = (
                    source,
                    int(meta.get("points", 0)),
                    check_calls(source),
                )
                self.anchors[meta["grade_id"]] = last_answer
            elif meta.get("solution"):
                self.answers.append(meta["grade_id"])
                last_answer = meta["grade_id"]
            else:
                self.book_sources.add(source.strip())
        return self

    def for_grading(self) -> SourceNotebook:
        """The same notebook without a single answer: what a grading node may hold."""
        tests = [c for c in self.cells if nbcell.is_test(c)]
        return SourceNotebook(
            self.chapter,
            tests,
            dict(self.tests),
            list(self.answers),
            dict(self.anchors),
            set(self.book_sources),
            self.notebook,
            self.released,
        )


@dataclass
class Plan:
    steps: list
    notes: list  # (flag, message, test grade_id or "") for the report
    notebook: dict  # the student's notebook (for the autograded copy)


MAX_INT_DIGITS = 100


class _Ints:
    """JSON integers: a huge literal is data, not a reason to stop (Python limits int())."""

    def __init__(self):
        self.huge = 0

    def __call__(self, text: str) -> int:
        if len(text) <= MAX_INT_DIGITS:
            return int(text)
        self.huge += 1
        return 0


def read_notebook(path: Path) -> bytes:
    if path.is_dir():
        raise Malformed(f"{path.name} is a directory, not a notebook")
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        raise Malformed(
            f"{path.name} is {size / 2**20:.0f} MB; the limit is {MAX_NOTEBOOK_BYTES >> 20} MB"
        )
    return path.read_bytes()


def _clean_text(value, fixes: list):
    """A string that encodes as UTF-8 (lone surrogates become U+FFFD)."""
    if not isinstance(value, str):
        return value
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        fixes.append("text with lone surrogates")
        return value.encode("utf-8", "replace").decode("utf-8")


def _clean_source(value, fixes: list) -> str:
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        return _clean_text("".join(value), fixes)
    if isinstance(value, str):
        return _clean_text(value, fixes)
    fixes.append("a cell source that is not text")
    return ""


def _clean_cell(cell, fixes: list):
    """The fields the grader relies on, with the types it relies on; None if unusable."""
    if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
        fixes.append("a cell that is not a notebook cell")
        return None
    out = {"cell_type": cell["cell_type"], "source": _clean_source(cell.get("source", ""), fixes)}
    meta = cell.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    nbg = meta.get("nbgrader")
    clean_meta = {}
    if isinstance(nbg, dict):
        clean = {}
        for key, kind in (
            ("grade_id", str),
            ("cell_type", str),
            ("grade", bool),
            ("solution", bool),
            ("locked", bool),
            ("task", bool),
            ("schema_version", int),
            ("points", (int, float)),
        ):
            if key in nbg:
                if isinstance(nbg[key], kind) and not (
                    kind is not bool and isinstance(nbg[key], bool)
                ):
                    clean[key] = _clean_text(nbg[key], fixes)
                else:
                    fixes.append(f"nbgrader metadata {key!r} of the wrong type")
        clean_meta["nbgrader"] = clean
    elif nbg is not None:
        fixes.append("nbgrader metadata that is not an object")
    out["metadata"] = clean_meta
    if isinstance(cell.get("id"), str) and len(cell["id"]) <= 64:
        out["id"] = cell["id"]
    if out["cell_type"] == "code":
        outputs = cell.get("outputs")
        if not isinstance(outputs, list):
            fixes.append("outputs that are not a list")
            outputs = []
        try:
            json.dumps(outputs, ensure_ascii=False).encode("utf-8")
        except (UnicodeEncodeError, ValueError, RecursionError):
            fixes.append("unreadable outputs")
            outputs = []
        out["outputs"] = outputs
        count = cell.get("execution_count")
        out["execution_count"] = (
            count if isinstance(count, int) and not isinstance(count, bool) else None
        )
    return out


def parse_notebook(data: bytes, name: str) -> tuple[dict, list]:
    """(notebook, what had to be fixed) from a submitted file's bytes; Malformed when
    nothing can be graded. Everything kept has the types the grader relies on."""
    if len(data) == 0:
        raise Malformed(f"{name} is empty")
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise Malformed(
            f"{name} is {len(data) / 2**20:.0f} MB; the limit is {MAX_NOTEBOOK_BYTES >> 20} MB"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise Malformed(f"{name} is not UTF-8 text (byte {err.start})") from None
    try:
        ints = _Ints()
        nb = json.loads(text, parse_int=ints)
    except json.JSONDecodeError as err:
        raise Malformed(f"{name} is not valid JSON (line {err.lineno}: {err.msg})") from None
    except RecursionError:
        raise Malformed(f"{name} is JSON nested too deeply to be a notebook") from None
    except ValueError as err:
        raise Malformed(f"{name} is not valid JSON ({str(err)[:100]})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise Malformed(f"{name} is JSON but not a notebook (no list of cells)")
    fixes: list = (
        [f"{ints.huge} integer(s) of over {MAX_INT_DIGITS} digits read as 0"] if ints.huge else []
    )
    problem = schema_problem(nb)
    if problem:
        fixes.append(f"not a valid notebook for nbformat ({problem})")
    cells = [c for c in (_clean_cell(cell, fixes) for cell in nb["cells"]) if c is not None]
    meta = nb.get("metadata") if isinstance(nb.get("metadata"), dict) else {}
    kernelspec = meta.get("kernelspec") if isinstance(meta.get("kernelspec"), dict) else {}
    kernelspec = {
        k: v
        for k, v in kernelspec.items()
        if isinstance(v, str) and k in ("name", "language", "display_name")
    }
    clean = {
        "cells": cells,
        "metadata": {"kernelspec": kernelspec},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return clean, sorted(set(fixes))


def schema_problem(nb: dict) -> str | None:
    """nbformat's own schema on the cleaned notebook (reported, never fatal)."""
    import warnings

    import nbformat

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nbformat.validate(nb, version=4)
    except Exception as err:  # noqa: BLE001 - nbformat raises ValidationError and others
        return str(err).splitlines()[0][:200]
    return None


def _retyped(source: SourceNotebook, text: str) -> str | None:
    """The test cell whose checks an unmarked cell calls, if any."""
    try:
        calls = {name for name, _ in check_calls(text)}
    except SyntaxError:
        return None
    for grade_id, (_, _, checks) in source.tests.items():
        if calls & {name for name, _ in checks}:
            return grade_id
    return None


def build_plan(source: SourceNotebook, nb: dict) -> Plan:
    notes, steps = [], []
    seen_tests: dict = {}
    retyped: set = set()
    placed_after: dict = {}  # answer grade_id -> index in steps after which tests go
    visible_tests = {visible_part(src): gid for gid, (src, _, _) in source.tests.items()}
    kernel = (
        nb.get("metadata", {}).get("kernelspec", {}) if isinstance(nb.get("metadata"), dict) else {}
    )
    if isinstance(kernel, dict) and kernel.get("language", "python") != "python":
        notes.append(
            (
                "malformed",
                f"kernelspec changed to {kernel.get('name')!r}: graded with Python anyway",
                "",
            )
        )
    for cell in nb["cells"]:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        meta, text = nbcell.grading(cell), nbcell.source(cell)
        grade_id = meta.get("grade_id") if isinstance(meta.get("grade_id"), str) else ""
        if grade_id in source.tests:
            seen_tests[grade_id] = seen_tests.get(grade_id, 0) + 1
            if seen_tests[grade_id] == 2:
                notes.append(("tamper", f"test cell {grade_id} is duplicated", grade_id))
            if visible_part(text) != visible_part(source.tests[grade_id][0]):
                notes.append(("tamper", f"test cell {grade_id} was edited", grade_id))
            continue
        copied = visible_tests.get(visible_part(text)) or _retyped(source, text)
        if copied:
            notes.append(("tamper", f"test cell {copied} was retyped without its metadata", copied))
            retyped.add(copied)
        if FAKE_OUTPUT in text:
            notes.append(("tamper", "prints text that imitates a passing check", ""))
        kind = (
            "answer"
            if grade_id in source.answers
            else ("book" if text.strip() in source.book_sources else "student")
        )
        steps.append(Step(kind, text, grade_id))
        if kind == "answer":
            placed_after[grade_id] = len(steps)
    for grade_id in source.tests:
        if grade_id not in seen_tests and grade_id not in retyped:
            notes.append(("tamper", f"test cell {grade_id} was deleted", grade_id))
    missing = [a for a in source.answers if a not in placed_after]
    if missing:
        notes.append(("malformed", "answer cell(s) missing: " + ", ".join(missing), ""))
    # Insert each test after its answer (or where its answer would be), last first.
    order = list(source.tests)
    positions = []
    for grade_id in order:
        anchor = source.anchors.get(grade_id)
        at = placed_after.get(anchor, len(steps)) if anchor else 0
        positions.append((at, order.index(grade_id), grade_id))
    for at, _, grade_id in sorted(positions, reverse=True):
        src, _, checks = source.tests[grade_id]
        steps.insert(at, Step("test", src, grade_id, checks))
    return Plan(steps, notes, nb)
