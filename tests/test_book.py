"""Whole-book invariants: generated files match their source, notebooks are clean, every
test cell names a registered exercise, and the grading kernel can import the checks
without torch."""
from __future__ import annotations

import ast
import json
import re
import subprocess
import sys

import pytest
from booktools import cells, nbgrader, source

from autograder import course, exercise
from autograder.submission import check_calls

CHAPTERS = course.chapters()
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def test_the_book_has_chapters():
    assert "01_convolution" in CHAPTERS


def test_notebooks_are_a_fresh_release_of_solutions():
    assert course.release_drift() == []


@pytest.mark.parametrize("chapter", CHAPTERS)
@pytest.mark.parametrize("folder", ["solutions", "notebooks"])
def test_committed_notebooks_hold_no_outputs(chapter, folder):
    for cell in cells(chapter, folder):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None, source(cell)[
                :80
            ]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_student_notebooks_hold_no_answers_or_hidden_tests(chapter):
    text = json.dumps(cells(chapter, "notebooks"))
    for marker in MARKERS:
        assert marker not in text
    answers = [c for c in cells(chapter, "notebooks") if nbgrader(c).get("solution")]
    for cell in answers:
        if cell["cell_type"] == "code":
            assert "raise NotImplementedError()" in source(cell)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_grade_ids_are_unique_and_test_cells_follow_the_pattern(chapter):
    ids = [nbgrader(c).get("grade_id") for c in cells(chapter) if nbgrader(c)]
    assert len(ids) == len(set(ids)), ids
    for cell in cells(chapter):
        meta = nbgrader(cell)
        if not (meta.get("grade") and not meta.get("solution")):
            continue
        text = source(cell)
        tree = ast.parse(text)
        assert isinstance(tree.body[0], ast.Expr) and isinstance(
            tree.body[0].value, ast.Constant
        ), f"{meta['grade_id']}: a test cell opens with a one-line docstring"
        calls = check_calls(text)
        assert calls and any(hidden for _, hidden in calls) and any(not h for _, h in calls), \
            f"{meta['grade_id']}: a visible and a hidden check"
        assert meta["points"] > 0
        for name, _ in calls:
            exercise.get(name)


def test_every_exercise_is_graded_somewhere():
    used = {name for chapter in CHAPTERS for cell in cells(chapter)
            if nbgrader(cell).get("grade") for name, _ in check_calls(source(cell))}
    assert set(exercise.all_exercises()) <= used, sorted(set(exercise.all_exercises()) - used)


def test_the_checks_import_without_torch():
    code = ("import sys; from autograder import exercise; exercise.load_families(); "
            "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if 'torch' in m)")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("name", sorted(exercise.all_exercises()))
def test_every_exercise_has_variants_and_hidden_cases(name):
    ex = exercise.get(name)
    hidden = ex.cases(True, 1)
    assert len(hidden) >= len(ex.cases(False, 1)) >= 1
    assert len(ex.bugs) >= 1 or ex.diagnose is not None, f"{name}: no known wrong answer"


def test_release_ships_the_exercise_stubs_with_their_docstrings():
    for chapter in CHAPTERS:
        for cell in cells(chapter, "notebooks"):
            if nbgrader(cell).get("solution") and cell["cell_type"] == "code":
                assert '"""' in source(cell), f"{chapter}: a stub keeps its shape docstring"


def _definitions(chapter, folder="notebooks"):
    """(name, docstring) of every top-level function and class of a chapter's code cells."""
    for cell in cells(chapter, folder):
        if cell["cell_type"] != "code":
            continue
        try:
            tree = ast.parse(source(cell))
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                yield node.name, ast.get_docstring(node) or ""


def test_every_graded_function_states_its_refusals():
    """The contract of chapter 00: a graded function's docstring says what it must refuse."""
    missing = []
    for chapter in CHAPTERS:
        graded = {exercise.get(name).function for cell in cells(chapter)
                  if nbgrader(cell).get("grade") for name, _ in check_calls(source(cell))}
        missing += [f"{chapter}: {name}" for name, doc in _definitions(chapter)
                    if name in graded and "Raises" not in doc]
    assert not missing, missing


@pytest.mark.parametrize("name", sorted(exercise.all_exercises()))
def test_visible_cases_show_a_refusal_where_hidden_ones_grade_one(name):
    ex = exercise.get(name)
    refused = [case.note for case in ex.cases(True, 1) if "refuse" in case.note]
    visible = [case.note for case in ex.cases(False, 1) if "refuse" in case.note]
    assert bool(visible) == bool(refused), (name, refused[:3])


NOTEBOOKS = [(chapter, name) for chapter in CHAPTERS for name in course.notebooks(chapter)]


@pytest.mark.parametrize("chapter, notebook", NOTEBOOKS, ids=[n for _, n in NOTEBOOKS])
def test_a_notebook_is_one_sitting(chapter, notebook):
    """At most six graded functions per notebook (a longer chapter comes in parts), and the
    first cell says how long it takes."""
    graded = {
        name.split("/")[0]
        for cell in cells(chapter, "notebooks", notebook)
        if nbgrader(cell).get("grade")
        for name, _ in check_calls(source(cell))
    }
    # Chapter 00 (conventions) and the appendix 14 (speed) grade nothing.
    assert 0 < len(graded) <= 6 or chapter.startswith(("00", "14")), (notebook, sorted(graded))
    first = source(cells(chapter, "notebooks", notebook)[0])
    assert re.search(r"\*\*Time:\*\* about \d", first), (
        f"{notebook}: the first cell states a time estimate"
    )


def test_parts_are_named_after_their_assignment():
    for chapter, notebook in NOTEBOOKS:
        parts = course.notebooks(chapter)
        if len(parts) == 1:
            assert notebook == chapter
        else:
            assert re.fullmatch(chapter[:2] + "[a-h]_" + r"\w+", notebook), notebook
            assert [p[2] for p in parts] == list("abcdefgh"[:len(parts)]), parts


def _all_cases(ex):
    for hidden, seed in ((False, 0), (True, 1), (True, 2)):
        yield from ex.cases(hidden, seed)


@pytest.mark.parametrize("name", sorted(exercise.all_exercises()))
def test_declared_refusals_are_exactly_what_torch_refuses(name):
    """A case says torch refuses it (``refused(case, why)``) exactly when torch raises."""
    from autograder.api import expected_for
    from autograder.exercise import _says_refused

    ex = exercise.get(name)
    for case in _all_cases(ex):
        refusal = expected_for(ex, case).refusal
        assert _says_refused(case) == (refusal is not None), (
            f"{name}: case {case.note!r}: declared refused {_says_refused(case)}, torch: {refusal}")
