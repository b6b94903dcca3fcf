"""Reading notebook cells, in one place, for every part of the project.

Submitted notebooks are hostile (``submission`` validates them first), so these readers
accept any shape and never raise: a source that is neither a string nor a list of
strings reads as empty, metadata that is not a dict reads as none. nbformat's own
``NotebookNode`` is a dict, so the same functions serve trusted notebooks too.
"""
from __future__ import annotations

import json
from pathlib import Path


def read(path: Path) -> dict:
    """A notebook file as plain JSON (no validation: see ``submission.parse_notebook``)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def source(cell) -> str:
    """A cell's source as one string (nbformat allows a list of lines)."""
    text = cell.get("source") if isinstance(cell, dict) else None
    if isinstance(text, list):
        return "".join(s for s in text if isinstance(s, str))
    return text if isinstance(text, str) else ""


def grading(cell) -> dict:
    """A cell's nbgrader metadata (``grade``, ``solution``, ``grade_id``, ``points``...)."""
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    nbg = meta.get("nbgrader") if isinstance(meta, dict) else None
    return nbg if isinstance(nbg, dict) else {}


def is_test(cell) -> bool:
    """A graded test cell (nbgrader: grade and not solution)."""
    meta = grading(cell)
    return bool(meta.get("grade")) and not meta.get("solution")


def is_answer(cell) -> bool:
    """An answer cell the student writes (nbgrader: solution)."""
    return bool(grading(cell).get("solution"))


def find(nb: dict, grade_id: str) -> dict:
    """The cell with this ``grade_id``."""
    return next(c for c in nb["cells"] if grading(c).get("grade_id") == grade_id)
