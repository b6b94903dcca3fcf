"""Grades for Canvas's gradebook import, as an nbgrader export plugin.

    nbgrader export --exporter=autograder.canvas.CanvasExportPlugin \\
        --CanvasExportPlugin.roster=roster.csv --to canvas_grades.csv

The roster is Canvas's own export of the course gradebook (Grades > Export), or any CSV
whose first columns are Canvas's ``Student, ID, SIS User ID, SIS Login ID, Section``.
Each roster row is matched to an nbgrader student id through one column, ``SIS Login ID``
by default (the login a student also uses on the course's JupyterHub); set
``--CanvasExportPlugin.match_column`` to ``SIS User ID`` or ``ID`` where the hub's user
names are those instead.

The output is what Canvas's "Import" button reads: the five identifying columns copied
from the roster, then one column per nbgrader assignment, a "Points Possible" row, and
one row per roster student. An assignment column reuses the roster's header when the
roster already has that assignment (``01_convolution (4242)``: Canvas updates assignment
4242); otherwise it is named after the nbgrader assignment and Canvas creates a new one.
Scores are nbgrader's (late penalty subtracted, never below zero, as nbgrader's own CSV
export). A student without a submission gets ``missing`` — blank by default, which
Canvas reads as "leave this grade as it is"; ``--CanvasExportPlugin.missing=0`` gives
zeros. Gradebook students the roster does not have are listed in the log, not exported.
"""
from __future__ import annotations

import csv
import re

from nbgrader.api import MissingEntry
from nbgrader.plugins import ExportPlugin
from traitlets import Dict, Enum, Unicode

IDENTITY = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
POINTS_POSSIBLE = "Points Possible"


def read_roster(path: str, match_column: str) -> tuple[list[str], list[dict]]:
    """The roster's header and its student rows (Canvas's own extra rows left out)."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = list(reader.fieldnames or [])
        missing = [c for c in IDENTITY if c not in header]
        if missing:
            raise ValueError(f"{path}: not a Canvas roster, no column {', '.join(missing)} "
                             f"(its header: {', '.join(header)})")
        rows = []
        for row in reader:
            # Canvas's export adds rows without a student: "Points Possible", and in newer
            # versions a posting-policy row. They have no user ID.
            if (row.get("Student") or "").strip() == POINTS_POSSIBLE:
                continue
            if not (row.get("ID") or "").strip() and not (row.get(match_column) or "").strip():
                continue
            rows.append(row)
    return header, rows


def assignment_header(assignment: str, roster_header: list[str], overrides: dict) -> str:
    """The roster's column for this assignment ("name (canvas id)") if it has one."""
    if assignment in overrides:
        return overrides[assignment]
    pattern = re.compile(rf"^{re.escape(assignment)} \(\d+\)$")
    found = [h for h in roster_header if pattern.match(h.strip())]
    return found[0].strip() if len(found) == 1 else assignment


def _points(value: float) -> str:
    return f"{value:g}"


class CanvasExportPlugin(ExportPlugin):
    """Export grades as a CSV for Canvas's gradebook import (see the module's docstring)."""

    roster = Unicode("roster.csv", help="Canvas's gradebook export (or a CSV with its first "
                     "five columns) listing the course's students").tag(config=True)
    match_column = Enum(["SIS Login ID", "SIS User ID", "ID"], default_value="SIS Login ID",
                        help="the roster column that holds nbgrader's student id").tag(config=True)
    missing = Unicode("", help="what a student without a submission gets: blank leaves "
                      "Canvas's grade unchanged").tag(config=True)
    assignment_columns = Dict(help="nbgrader assignment -> Canvas column header, where the "
                              "roster's own header cannot be found").tag(config=True)

    def export(self, gradebook) -> None:
        dest = self.to or "canvas_grades.csv"
        header, rows = read_roster(self.roster, self.match_column)
        wanted = {str(a) for a in self.assignment}
        only = {str(s) for s in self.student}
        assignments = [a for a in gradebook.assignments if not wanted or a.name in wanted]
        columns = [assignment_header(a.name, header, self.assignment_columns) for a in assignments]
        self.log.info("Exporting %d assignment(s) for %d roster student(s) to %s, matching "
                      "nbgrader's student id to the roster's %r", len(assignments), len(rows),
                      dest, self.match_column)
        known = {s.id for s in gradebook.students}
        blanks = 0
        with open(dest, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(IDENTITY + columns)
            writer.writerow([POINTS_POSSIBLE, "", "", "", ""]
                            + [_points(a.max_score) for a in assignments])
            for row in rows:
                student = (row.get(self.match_column) or "").strip()
                if only and student not in only:
                    continue
                scores = []
                for assignment in assignments:
                    try:
                        if student not in known:
                            raise MissingEntry()
                        submission = gradebook.find_submission(assignment.name, student)
                    except MissingEntry:
                        scores.append(self.missing)
                        blanks += 1
                        continue
                    penalty = submission.late_submission_penalty or 0.0
                    scores.append(_points(max(0.0, submission.score - penalty)))
                writer.writerow([row.get(c, "") for c in IDENTITY] + scores)
        unmatched = sorted(known - {(r.get(self.match_column) or "").strip() for r in rows})
        if unmatched:
            self.log.warning("%d gradebook student(s) not in the roster's %r column, not "
                             "exported: %s", len(unmatched), self.match_column,
                             ", ".join(unmatched))
        self.log.info("%d score(s) without a submission written as %r", blanks, self.missing)
