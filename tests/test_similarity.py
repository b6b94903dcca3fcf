"""The similarity report pairs copied answers and leaves honest ones apart.

A small class on chapter 09, whose answers are short — the hard case, where honest
answers share the most: alice hands in the course's answer, bob the same with every
variable renamed, comments rewritten and lines rewrapped, carol and dave answers written
independently (tests/similarity_answers.py), erin the untouched stub, and one notebook is
broken. Only alice and bob may be paired.
"""
import copy
import csv
import json
import re
import shutil

import booktools
import pytest
import similarity_answers

from autograder import similarity
from autograder.paths import COURSE_ROOT

CHAPTER = "09_layer_rms_norm"


def _notebook(answers: dict | None) -> dict:
    """The released notebook with the given answer cells (grade_id -> source) put in."""
    path = COURSE_ROOT / "notebooks" / CHAPTER / f"{CHAPTER}.ipynb"
    notebook = json.loads(path.read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        grade_id = booktools.nbgrader(cell).get("grade_id")
        if answers and booktools.nbgrader(cell).get("solution") and grade_id in answers:
            cell["source"] = answers[grade_id]
    return notebook


def _stubs() -> dict:
    return {booktools.nbgrader(c)["grade_id"]: booktools.source(c)
            for c in booktools.cells(CHAPTER, "notebooks") if booktools.nbgrader(c).get("solution")}


def _course_answers() -> dict:
    return {booktools.nbgrader(c)["grade_id"]: booktools.source(c)
            for c in booktools.cells(CHAPTER) if booktools.nbgrader(c).get("solution")}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    shutil.copytree(COURSE_ROOT / "notebooks" / CHAPTER, root / "notebooks" / CHAPTER)
    reference = _course_answers()
    class_ = {
        "alice": reference,
        "bob": similarity_answers.disguised(reference),
        "carol": similarity_answers.answers(_stubs(), similarity_answers.CAROL_BODIES),
        "dave": similarity_answers.answers(_stubs(), similarity_answers.DAVE_BODIES),
        "erin": None,
    }
    for student, answers in class_.items():
        folder = root / "submitted" / student / CHAPTER
        folder.mkdir(parents=True)
        (folder / f"{CHAPTER}.ipynb").write_text(json.dumps(_notebook(answers)), encoding="utf-8")
    broken = root / "submitted" / "frank" / CHAPTER
    broken.mkdir(parents=True)
    (broken / f"{CHAPTER}.ipynb").write_text('{"cells": [', encoding="utf-8")
    return root


def test_the_disguise_really_changed_the_text():
    reference = _course_answers()
    bob = similarity_answers.disguised(reference)
    for grade_id in ("layer_norm", "rms_norm"):
        assert bob[grade_id] != reference[grade_id]
        assigned = [name for name in similarity_answers.RENAMES
                    if re.search(rf"^\s*{name} = ", reference[grade_id], re.M)]
        assert assigned, grade_id  # the disguise has names of the answer's own to rename
        for name in assigned:
            assert not re.search(rf"^\s*{name} = ", bob[grade_id], re.M)
            assert f"{similarity_answers.RENAMES[name]} =" in bob[grade_id]
    for source in bob.values():
        compile(source, "<bob>", "exec")  # still code a student could hand in


@pytest.mark.parametrize("bodies", ["CAROL_BODIES", "DAVE_BODIES"])
def test_the_independent_answers_are_correct(bodies):
    """Honest answers means correct ones: both pass chapter 09's visible and hidden checks."""
    import numpy as np

    from autograder import check

    namespace = {"np": np}
    answers = similarity_answers.answers(_stubs(), getattr(similarity_answers, bodies))
    for source in answers.values():
        exec(compile(source, bodies, "exec"), namespace)  # noqa: S102 - the tests' own code
    for name in ("layer_norm", "LayerNorm", "rms_norm", "RMSNorm"):
        check(name, namespace[name])
        check(name, namespace[name], hidden=True)


def test_copied_answers_are_paired_and_independent_ones_are_not(course, capsys):
    rows = similarity.write_similarity(course)
    with open(course / "similarity.csv", newline="", encoding="utf-8") as fh:
        table = list(csv.reader(fh))
    assert table[0] == similarity.HEADER
    assert rows == len(table) - 1 == 1, table
    assignment, a, b, score = table[1]
    assert (assignment, a, b) == (CHAPTER, "alice", "bob")
    assert float(score) >= similarity.THRESHOLD
    page = (course / "similarity.html").read_text(encoding="utf-8")
    assert "alice" in page and "bob" in page and "<mark>" in page
    assert "frank" in page and "skipped" in capsys.readouterr().err


def test_the_command_line_writes_the_report(course, capsys):
    assert similarity.main([str(course), CHAPTER]) == 0
    assert capsys.readouterr().out.startswith("1 pair(s)")
    with pytest.raises(SystemExit):
        similarity.main([str(course / "missing")])


def test_scores_leave_a_margin_on_both_sides_of_the_threshold(course):
    notes = []
    documents, stubs = similarity.collect(course, CHAPTER, notes)
    scores = {(p.a.student, p.b.student): p.score for p in similarity.compare(documents, stubs)}
    assert scores[("alice", "bob")] > similarity.THRESHOLD + 0.2
    honest = [scores[p] for p in (("alice", "carol"), ("alice", "dave"), ("carol", "dave"),
                                  ("bob", "carol"), ("bob", "dave"))]
    assert max(honest) < similarity.THRESHOLD - 0.1, honest
    # The stub has nothing of the student's own once the given code is removed.
    assert not any("erin" in pair for pair in scores)
    assert any("frank" in note for note in notes)


def test_scores_are_copydetects_own(course):
    """The fast pair loop gives the score copydetect's compare_files gives, pair by pair."""
    from copydetect import compare_files

    documents, stubs = similarity.collect(course, CHAPTER, [])
    pairs = similarity.compare(documents, stubs)
    assert len(pairs) >= 6
    for pair in pairs:
        shared_a = shared_b = 0.0
        for key in set(pair.a.fingerprints) & set(pair.b.fingerprints):
            fa, fb = pair.a.fingerprints[key], pair.b.fingerprints[key]
            _, (sim_a, sim_b), _ = compare_files(fa, fb)
            shared_a += sim_a * fa.token_coverage
            shared_b += sim_b * fb.token_coverage
        expected = max(shared_a / pair.a.coverage, shared_b / pair.b.coverage)
        assert pair.score == pytest.approx(expected, abs=1e-12), (pair.a.student, pair.b.student)


def test_copying_one_function_of_two_is_enough_to_be_paired():
    reference, stubs = _course_answers(), _stubs()
    carol = similarity_answers.answers(stubs, similarity_answers.CAROL_BODIES)
    bob = similarity_answers.disguised(reference)
    given = {("nb", g): text for g, text in stubs.items()}
    for copied in ("layer_norm", "rms_norm"):
        mallory = {**carol, copied: bob[copied]}
        documents = [similarity.Document("alice", {("nb", g): t for g, t in reference.items()}),
                     similarity.Document("mallory", {("nb", g): t for g, t in mallory.items()})]
        [pair] = similarity.compare(documents, given)
        assert pair.score >= similarity.THRESHOLD, (copied, pair.score)
        assert ("nb", copied) in pair.cells


def test_without_excluding_the_given_code_the_stub_would_match(course):
    """The exclusion is what keeps the stub (and honest answers) apart: prove it matters."""
    documents, _ = similarity.collect(course, CHAPTER, [])
    scores = {(p.a.student, p.b.student): p.score for p in similarity.compare(documents, {})}
    assert scores[("alice", "erin")] > 0.3


def test_malformed_notebooks_never_crash_the_report(tmp_path):
    notebook = _notebook(None)
    bad_cells = copy.deepcopy(notebook)
    first_answer = next(c for c in bad_cells["cells"] if booktools.nbgrader(c).get("solution"))
    first_answer["source"] = {"not": "text"}
    bad_meta = copy.deepcopy(notebook)
    for cell in bad_meta["cells"]:
        cell["metadata"] = ["nbgrader"]
    contents = {"empty": b"", "latin1": "é".encode("latin-1"), "list": b"[]",
                "cells": json.dumps(bad_cells).encode(), "meta": json.dumps(bad_meta).encode()}
    for student, data in contents.items():
        folder = tmp_path / "submitted" / student / CHAPTER
        folder.mkdir(parents=True)
        (folder / f"{CHAPTER}.ipynb").write_bytes(data)
    (tmp_path / "submitted" / "dir" / CHAPTER / f"{CHAPTER}.ipynb").mkdir(parents=True)
    assert similarity.write_similarity(tmp_path) == 0
    page = (tmp_path / "similarity.html").read_text(encoding="utf-8")
    for student in ("empty", "latin1", "list", "cells", "dir"):
        assert f"submitted/{student}/" in page, student
    assert (tmp_path / "similarity.csv").read_text().strip() == ",".join(similarity.HEADER)


def test_report_escapes_what_students_wrote(tmp_path):
    answer = {"layer_norm": "def layer_norm(input, normalized_shape, weight=None, bias=None, "
                            "eps=1e-5):\n    s = '</pre><script>alert(1)</script>'\n"
                            + "    x = input.mean(axis=-1, keepdims=True) - input * 2 + 1\n" * 4}
    for student in ("<i>x&y", "z"):
        folder = tmp_path / "submitted" / student / CHAPTER
        folder.mkdir(parents=True)
        (folder / f"{CHAPTER}.ipynb").write_text(json.dumps(_notebook(answer)), encoding="utf-8")
    assert similarity.write_similarity(tmp_path, [CHAPTER]) == 1
    page = (tmp_path / "similarity.html").read_text(encoding="utf-8")
    assert "<script>" not in page and "<i>x" not in page
    assert "&lt;script&gt;" in page and "&lt;i&gt;x&amp;y" in page
