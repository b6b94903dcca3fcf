"""A busy machine fails no correct answer: every chapter's solution, graded while two
CPU-bound processes compete for the cores. Cells are timed in CPU seconds of their own
kernel, so the competition slows grading without costing a point.

Marked ``serial``: `make test` runs it alone, after the parallel part, so the load it
makes disturbs no other test.
"""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from test_grading import SEED, _points, read_csv

from autograder import course

pytestmark = pytest.mark.serial


def test_every_chapter_solution_scores_full_marks_on_a_busy_machine(tmp_path):
    chapters = [c for c in course.chapters() if _points(c) > 0]
    for chapter in chapters:
        target = tmp_path / "submitted" / "solution" / chapter
        target.mkdir(parents=True)
        for path in (course.SOLUTIONS / chapter).glob("*.ipynb"):
            shutil.copy(path, target)
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        cmd = [sys.executable, "-m", "autograder", "grade", "--root", str(tmp_path), "--seed",
               str(SEED), "--jobs", "2", "--no-feedback"]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=2400)
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {r["assignment"]: r for r in read_csv(tmp_path / "grades.csv")}
    assert sorted(rows) == sorted(chapters)
    for row in rows.values():
        assert row["score"] == row["max_score"] and row["flags"] == "", row
