"""What a grading run leaves on disk: the autograded notebooks, one record per graded
notebook (``grading-runs/records``), and grades.csv / grades_by_exercise.csv."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from . import nbcell

MAX_OUTPUT_CHARS = 20_000
UNPROTECTED = "UNSANDBOXED: graded without the sandbox, not protected"


def autograded_notebook(source, plan, messages, scores) -> dict:
    """The student's notebook with the course's test cells, and the judge's verdicts in them."""
    test_cells = {}
    for cell in source.cells:
        meta = nbcell.grading(cell)
        if meta.get("grade") and not meta.get("solution"):
            test_cells[meta["grade_id"]] = cell

    def verdict_cell(grade_id):
        cell = json.loads(json.dumps(test_cells[grade_id]))
        text = messages.get(grade_id, "")
        cell["execution_count"] = None
        cell["outputs"] = ([{"output_type": "stream", "name": "stdout", "text": text + "\n"}]
                           if scores.get(grade_id, 0) > 0 else
                           [{"output_type": "error", "ename": "CheckFailed", "evalue": text,
                             "traceback": text.splitlines()}])
        return cell

    # Code cells map one to one, in order, onto the plan's non-test steps; the tests are
    # emitted just before the step they precede in the plan.
    out, position, steps = [], 0, plan.steps
    for cell in plan.notebook.get("cells", []):
        if not isinstance(cell, dict):
            continue
        if cell.get("cell_type") == "code":
            if nbcell.grading(cell).get("grade_id") in test_cells:
                continue
            while position < len(steps) and steps[position].kind == "test":
                out.append(verdict_cell(steps[position].grade_id))
                position += 1
            position += 1
        out.append(_trim(cell))
    out += [verdict_cell(step.grade_id) for step in steps[position:] if step.kind == "test"]
    return {"cells": out, "nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)",
                                        "language": "python", "name": "python3"},
                         "language_info": {"name": "python"}}}


def _trim(cell) -> dict:
    cell = dict(cell)
    if cell.get("cell_type") == "code":
        outputs, total = [], 0
        for output in cell.get("outputs") or []:
            size = len(json.dumps(output))
            if total + size > MAX_OUTPUT_CHARS:
                outputs.append({"output_type": "stream", "name": "stdout",
                                "text": "[output trimmed by the grader]\n"})
                break
            outputs.append(output)
            total += size
        cell["outputs"] = outputs
    return cell

def record_path(root: Path, student: str, assignment: str, notebook: str) -> Path:
    return root / "grading-runs" / "records" / student / assignment / f"{notebook}.json"


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_autograded(root: Path, verdict) -> None:
    if verdict.autograded is None:
        return
    folder = root / "autograded" / verdict.student / verdict.assignment
    atomic_write(folder / f"{verdict.notebook}.ipynb",
                 json.dumps(verdict.autograded, indent=1, ensure_ascii=False))


def write_record(root: Path, verdict, fingerprint: str) -> None:
    """Written last for a notebook: its presence means the notebook is fully recorded."""
    record = {"digest": verdict.digest, "seed": verdict.seed, "checks": fingerprint,
              "flags": verdict.flags, "note": verdict.note, "scores": verdict.scores,
              "max_scores": verdict.max_scores, "messages": verdict.messages,
              "seconds": round(verdict.seconds, 2), "feedback": verdict.autograded is not None,
              "unprotected": bool(verdict.extra.get("unprotected"))}
    if verdict.extra.get("cpu_seconds") is not None:  # measured on a cluster's worker
        record["cpu_seconds"] = round(verdict.extra["cpu_seconds"], 3)
    atomic_write(record_path(root, verdict.student, verdict.assignment, verdict.notebook),
                 json.dumps(record, indent=1, ensure_ascii=False))


def read_record(root: Path, student, assignment, notebook) -> dict | None:
    try:
        record = json.loads(
            record_path(root, student, assignment, notebook).read_text(encoding="utf-8")
        )
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def already_graded(root: Path, student, assignment, notebook, digest, seed, fingerprint) -> bool:
    record = read_record(root, student, assignment, notebook)
    return (record is not None and record.get("digest") == digest and record.get("seed") == seed
            and record.get("checks") == fingerprint)


def write_reports(root: Path, gb, sources: dict) -> tuple[int, int, int]:
    """grades.csv and grades_by_exercise.csv, rebuilt from the gradebook and the records.

    ``sources``: assignment -> {notebook name: SourceNotebook}. One row per student and
    assignment in grades.csv, whatever the number of notebooks."""
    rows, by_exercise, flagged, failed = [], [], 0, 0
    for student in sorted(s.id for s in gb.students):
        for assignment, notebooks in sources.items():
            try:
                sub = gb.find_submission(assignment, student)
            except Exception:  # noqa: BLE001 - nbgrader raises MissingEntry
                continue
            flags, notes, seed, exercises, unprotected = [], [], None, [], False
            for name in notebooks:
                record = read_record(root, student, assignment, name)
                if record is None:
                    record = {"flags": [["malformed", f"{name}.ipynb: not submitted"]], "note": "",
                              "scores": {}, "max_scores": {}}
                seed = record.get("seed", seed)
                unprotected |= bool(record.get("unprotected"))
                prefix = f"{name}.ipynb: " if len(notebooks) > 1 else ""
                flags += [
                    (str(label), prefix + str(detail)) for label, detail in record.get("flags", [])
                ]
                if record.get("note"):
                    notes.append(prefix + str(record["note"]))
                for grade_id, points in record.get("scores", {}).items():
                    exercises.append([student, assignment, grade_id, points,
                                      record["max_scores"].get(grade_id)])
            labels = sorted({label for label, _ in flags})
            by_exercise += [row + [" ".join(labels)] for row in exercises]
            note = "; ".join(notes) or "; ".join(detail for _, detail in flags)
            if unprotected:
                note = f"{UNPROTECTED}; {note}".rstrip("; ")
            flagged += bool(labels)
            failed += bool(notes)
            rows.append([student, assignment, f"{sub.score:g}", f"{sub.max_score:g}",
                         " ".join(labels), f"{note[:500]} [seed {seed}]".strip()])
    with open(root / "grades.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student", "assignment", "score", "max_score", "flags", "note"])
        writer.writerows(rows)
    with open(root / "grades_by_exercise.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student", "assignment", "exercise", "points", "max_points", "flags"])
        writer.writerows(by_exercise)
    return len(rows), flagged, failed
