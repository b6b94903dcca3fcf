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

from .sandbox import Step

MAX_NOTEBOOK_BYTES = 50 * 2**20
# What ``check`` prints on success; student code has no reason to print it.
FAKE_OUTPUT = "cases match torch"


class Malformed(Exception):
    """Nothing can be graded: the message says why, for the report."""


def _text(source) -> str:
    if isinstance(source, list):
        return "".join(s for s in source if isinstance(s, str))
    return source if isinstance(source, str) else ""


def _meta(cell) -> dict:
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    nbg = meta.get("nbgrader") if isinstance(meta, dict) else None
    return nbg if isinstance(nbg, dict) else {}


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
    """What solutions/ says a chapter's notebook holds."""

    chapter: str
    cells: list
    tests: dict = field(default_factory=dict)  # grade_id -> (source, points, checks)
    answers: list = field(default_factory=list)  # solution grade_ids, in order
    anchors: dict = field(default_factory=dict)  # test grade_id -> preceding answer grade_id
    book_sources: set = field(default_factory=set)  # ordinary code cells of the text

    @classmethod
    def load(cls, path: Path, chapter: str) -> "SourceNotebook":
        nb = json.loads(path.read_text(encoding="utf-8"))
        self = cls(chapter, nb["cells"])
        last_answer = None
        for cell in nb["cells"]:
            meta, source = _meta(cell), _text(cell.get("source"))
            if cell.get("cell_type") != "code":
                continue
            if meta.get("grade") and not meta.get("solution"):
                self.tests[meta["grade_id"]] = (source, int(meta.get("points", 0)), check_calls(source))
                self.anchors[meta["grade_id"]] = last_answer
            elif meta.get("solution"):
                self.answers.append(meta["grade_id"])
                last_answer = meta["grade_id"]
            else:
                self.book_sources.add(source.strip())
        return self

    def max_score(self) -> int:
        return sum(points for _, points, _ in self.tests.values())


@dataclass
class Plan:
    steps: list
    notes: list  # (flag, message, test grade_id or "") for the report
    notebook: dict  # the student's notebook (for the autograded copy)


def read_notebook(path: Path) -> dict:
    if path.is_dir():
        raise Malformed(f"{path.name} is a directory, not a notebook")
    size = path.stat().st_size
    if size == 0:
        raise Malformed(f"{path.name} is empty")
    if size > MAX_NOTEBOOK_BYTES:
        raise Malformed(f"{path.name} is {size / 2**20:.0f} MB; the limit is {MAX_NOTEBOOK_BYTES >> 20} MB")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise Malformed(f"{path.name} is not UTF-8 text (byte {err.start})") from None
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as err:
        raise Malformed(f"{path.name} is not valid JSON (line {err.lineno}: {err.msg})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise Malformed(f"{path.name} is JSON but not a notebook (no list of cells)")
    return nb


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
    kernel = nb.get("metadata", {}).get("kernelspec", {}) if isinstance(nb.get("metadata"), dict) else {}
    if isinstance(kernel, dict) and kernel.get("language", "python") != "python":
        notes.append(("malformed", f"kernelspec changed to {kernel.get('name')!r}: graded with Python anyway", ""))
    for cell in nb["cells"]:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        meta, text = _meta(cell), _text(cell.get("source"))
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
        kind = "answer" if grade_id in source.answers else ("book" if text.strip() in source.book_sources else "student")
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
