"""`nbgrader autograde` on a fresh clone grades through the trusted grader, as `make grade` does.

The instructor's natural route on a hub (the command line, Formgrader's button) must give
the scores `make grade` gives for the same seed: a correct answer full marks; conv2d
handing its work to torch through `exec` of a base64 string 0 for that exercise, flagged
(plain nbgrader would give it full marks); a notebook that is not JSON 0, with the reason.
No `make release` first: the gradebook learns the assignment by itself.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hub_submissions import BROKEN, CHAPTER, GOOD, NOT_JSON, SMUGGLED, SMUGGLER, answered

from autograder import course

STUDENTS = (GOOD, SMUGGLER, BROKEN)

SEED = 2024


def _submit(root: Path) -> None:
    contents = {
        GOOD: json.dumps(answered()),
        SMUGGLER: json.dumps(answered(SMUGGLED)),
        BROKEN: NOT_JSON,
    }
    for student, text in contents.items():
        path = root / "submitted" / student / CHAPTER / f"{CHAPTER}.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text(text, encoding="utf-8")
    (root / "grading-runs").mkdir()
    (root / "grading-runs" / "seed").write_text(f"{SEED}\n")


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """Per-exercise points from nbgrader autograde (fresh clone) and from `make grade`."""
    clone = tmp_path_factory.mktemp("clone") / "course"
    subprocess.run(["git", "clone", "--quiet", str(course.COURSE_ROOT), str(clone)], check=True)
    assert not (clone / "gradebook.db").exists()
    _submit(clone)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    run = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", CHAPTER, "--force"],
                         cwd=clone, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{clone}/gradebook.db") as gb:
        rows = [(student, grade.name, grade.score) for student in STUDENTS
                for notebook in gb.find_submission(CHAPTER, student).notebooks
                for grade in notebook.grades]
    nbgrader = {(s, cell): float(points) for s, cell, points in rows}

    batch = tmp_path_factory.mktemp("batch")
    _submit(batch)
    run = subprocess.run([sys.executable, "-m", "autograder", "grade", "--root", str(batch),
                          "--no-feedback", "--jobs", "1"], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    with open(batch / "grades_by_exercise.csv", newline="") as fh:
        make_grade = {(r["student"], r["exercise"]): float(r["points"]) for r in csv.DictReader(fh)}
    return clone, nbgrader, make_grade


def test_nbgrader_autograde_gives_make_grades_scores(both):
    _, nbgrader, make_grade = both
    assert nbgrader == make_grade
    assert nbgrader[(GOOD, "test_conv2d")] == 3
    assert nbgrader[(SMUGGLER, "test_conv2d")] == 0, "torch through a side door must earn nothing"
    assert nbgrader[(SMUGGLER, "test_pad")] == 2, "the honest exercises keep their points"
    assert sum(v for (s, _), v in nbgrader.items() if s == GOOD) == 11
    assert sum(v for (s, _), v in nbgrader.items() if s == BROKEN) == 0


def test_verdicts_and_flags_are_the_test_cells_outputs(both):
    clone = both[0]

    def cells(student):
        path = clone / "autograded" / student / CHAPTER / f"{CHAPTER}.ipynb"
        return json.loads(path.read_text(encoding="utf-8"))["cells"]

    def test_cell(student, grade_id):
        return next(
            c
            for c in cells(student)
            if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id
        )

    smuggled = test_cell(SMUGGLER, "test_conv2d")["outputs"][0]
    assert smuggled["output_type"] == "error" and "torch-used" in smuggled["evalue"]
    passed = test_cell(GOOD, "test_conv2d")["outputs"][0]
    assert passed["output_type"] == "stream" and "cases match torch" in "".join(passed["text"])
    report = "".join(cells(BROKEN)[0]["outputs"][0]["text"])
    assert "not valid JSON" in report and f"seed {SEED}" in report
