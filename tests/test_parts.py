"""An assignment of several notebooks (one per sitting): the plan, the grader and the
reports treat it as one assignment. The fixture splits chapter 01 in two parts, each
standing alone: part b brings the helpers it needs into its own cells."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from test_grading import SEED, _nb, read_grades

from autograder import course

ASSIGNMENT = "90_two_parts"
PART_A, PART_B = "90a_loops_and_padding", "90b_vectorized"


def _grade_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _parts() -> dict:
    cells = _nb()["cells"]
    index = {_grade_id(c): i for i, c in enumerate(cells) if _grade_id(c)}
    ntuple = next(
        c for c in cells if c["source"].startswith("def _ntuple(")
    )  # found, not indexed: text cells move
    given = cells[:3] + [ntuple]  # imports, torch for the text, _ntuple
    pad_as_given = dict(cells[index["pad"]], metadata={})  # part b's copy of an earlier answer
    part_a = cells[:index["test_pad"] + 1]
    part_b = given + [pad_as_given] + cells[index["conv2d"]:index["test_conv3d"] + 1]
    make = lambda body: {"cells": json.loads(json.dumps(body)), "metadata": _nb()["metadata"],  # noqa: E731
                         "nbformat": 4, "nbformat_minor": 5}
    return {PART_A: make(part_a), PART_B: make(part_b)}


def _stubbed(nb: dict) -> dict:
    for cell in nb["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            cell["source"] = "raise NotImplementedError()\n"
    return nb


def _points(nb) -> int:
    return sum(c["metadata"]["nbgrader"].get("points", 0) for c in nb["cells"]
               if c.get("metadata", {}).get("nbgrader", {}).get("grade"))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("parts")
    parts = _parts()
    source = root / "course" / "solutions" / ASSIGNMENT
    source.mkdir(parents=True)
    for name, nb in parts.items():
        (source / f"{name}.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    students = {
        "both": {PART_A: parts[PART_A], PART_B: parts[PART_B]},
        "only-a": {PART_A: parts[PART_A]},
        "stub-b": {PART_A: parts[PART_A], PART_B: _stubbed(json.loads(json.dumps(parts[PART_B])))},
    }
    for student, notebooks in students.items():
        folder = root / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        for name, nb in notebooks.items():
            (folder / f"{name}.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    cmd = [sys.executable, "-m", "autograder", "grade", "--root", str(root), "--source",
           str(root / "course" / "solutions"), "--seed", str(SEED), "--jobs", "2", "--no-feedback"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return (root, parts, *read_grades(root))


def test_the_course_finds_both_notebooks(graded):
    root = graded[0]
    assert course.chapters(root / "course" / "solutions") == [ASSIGNMENT]
    assert course.notebooks(ASSIGNMENT, root / "course" / "solutions") == [PART_A, PART_B]


def test_one_row_per_student_and_assignment_with_both_parts_counted(graded):
    _, parts, grades, exercises = graded
    total = _points(parts[PART_A]) + _points(parts[PART_B])
    assert set(grades) == {"both", "only-a", "stub-b"}
    assert float(grades["both"]["max_score"]) == total
    assert float(grades["both"]["score"]) == total and grades["both"]["flags"] == ""
    assert {"test_conv2d_loop", "test_pad", "test_conv2d", "test_conv3d"} <= set(exercises["both"])


def test_a_missing_part_costs_that_part_only_and_says_why(graded):
    _, parts, grades, exercises = graded
    assert float(grades["only-a"]["score"]) == _points(parts[PART_A])
    assert "not submitted" in grades["only-a"]["note"] and PART_B in grades["only-a"]["note"]
    assert exercises["only-a"]["test_conv2d"] == 0 and exercises["only-a"]["test_pad"] > 0


def test_a_stub_part_scores_zero_beside_a_full_part(graded):
    _, parts, grades, exercises = graded
    assert float(grades["stub-b"]["score"]) == _points(parts[PART_A])
    assert exercises["stub-b"]["test_conv2d"] == 0 and exercises["stub-b"]["test_conv2d_loop"] > 0


def test_each_part_has_its_own_record(graded):
    root = graded[0]
    records = root / "grading-runs" / "records" / "both" / ASSIGNMENT
    assert sorted(p.stem for p in records.glob("*.json")) == [PART_A, PART_B]


def test_bench_grade_class_submits_every_part_with_the_bug_in_the_part_it_edits():
    """make bench-grade's synthetic students hand in each part of a chapter in parts; a
    planted bug sits in the one part holding the edited cell, the others stay correct."""
    import random

    from autograder import bench_grade

    chapter = "05_pooling"
    parts = course.notebooks(chapter)
    assert len(parts) > 1
    nbs, what = bench_grade.make_notebook(chapter, "wrong", random.Random(0))
    assert sorted(nbs) == parts and what.startswith("wrong")
    edited = [n for n in parts if nbs[n] != _nb(course.source_notebook(chapter, n))]
    assert len(edited) == 1, edited
    stubs, _ = bench_grade.make_notebook(chapter, "stub", random.Random(0))
    assert all(stubs[n] == _nb(course.NOTEBOOKS / chapter / f"{n}.ipynb") for n in parts)
