"""The web edition's build code without a browser: how it finds and lays out the notebooks,
and that its answer scan finds an answer line wherever Sphinx could put one."""
from __future__ import annotations

import json
import pickle

import nbformat
import pytest
from booktools import cells, nbgrader, source

from autograder import book, course


def _notebook(*sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(s) for s in sources]
    return nb


def test_every_notebook_of_an_assignment_is_a_page(tmp_path):
    for name in ("05a_max_avg", "05b_lp_fractional"):
        (tmp_path / "05_pooling").mkdir(exist_ok=True)
        nbformat.write(_notebook(f"# {name}"), tmp_path / "05_pooling" / f"{name}.ipynb")
    (tmp_path / "01_convolution").mkdir()
    nbformat.write(_notebook("# Convolution"), tmp_path / "01_convolution" / "01_convolution.ipynb")
    (tmp_path / "empty").mkdir()
    found = book.assignments(tmp_path)
    assert found == {"01_convolution": ["01_convolution"],
                     "05_pooling": ["05a_max_avg", "05b_lp_fractional"]}

    src = tmp_path / "src"
    pages = {a: [(n, _notebook(f"# {n}")) for n in names] for a, names in found.items()}
    entries = book.write_sources(src, pages)
    # One notebook: its page is the chapter's; several: a chapter page listing the parts.
    assert entries == ["notebooks/01_convolution/01_convolution", "notebooks/05_pooling/index"]
    part_page = (src / "notebooks" / "05_pooling" / "index.md").read_text()
    assert "05a_max_avg\n05b_lp_fractional" in part_page and "{toctree}" in part_page
    for assignment, names in found.items():
        for name in names:
            assert (src / "notebooks" / assignment / f"{name}.ipynb").exists()
    assert "notebooks/05_pooling/index" in (src / "index.md").read_text()


def test_the_real_course_has_a_page_per_assignment():
    assert list(book.assignments()) == course.chapters()


def test_student_view_refuses_an_answer_without_a_stub(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 42", metadata={
        "nbgrader": {"solution": True, "grade_id": "answer", "grade": False}})]
    released = tmp_path / "released.ipynb"
    released.write_text(json.dumps({"cells": []}))
    with pytest.raises(SystemExit, match="no stub"):
        book.student_view(nb, released)


@pytest.fixture(scope="module")
def secret():
    return book.secret_lines()


def _an_answer():
    """A real answer cell of chapter 01, and one of its lines that only the answer has."""
    for cell in cells("01_convolution"):
        if nbgrader(cell).get("solution") and cell["cell_type"] == "code":
            return source(cell)
    raise AssertionError("chapter 01 has no answer cell")


def test_the_scan_knows_the_answers_but_not_the_stubs(secret):
    assert len(secret) > 200
    released = "\n".join(source(c) for chapter in course.chapters()
                         for c in cells(chapter, "notebooks"))
    assert not [line for line in secret if line in released]
    assert any(line in _an_answer() for line in secret)


def test_the_scan_finds_an_answer_wherever_sphinx_puts_text(tmp_path, secret):
    """Highlighted HTML, a notebook's JSON, a search index, a pickled doctree: each is found."""
    from sphinx.highlighting import PygmentsBridge

    answer = _an_answer()
    leaked = {line for line in secret if line in answer}
    assert len(leaked) >= 3
    (tmp_path / "page.html").write_text(PygmentsBridge("html").highlight_block(answer, "ipython3"))
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(answer)]
    nbformat.write(nb, tmp_path / "page.ipynb")
    (tmp_path / "searchindex.js").write_text("Search.setIndex(" + json.dumps({"t": [answer]}) + ")")
    (tmp_path / "page.doctree").write_bytes(pickle.dumps({"rawsource": answer}))
    found = book.leaks(tmp_path, secret)
    for name in ("page.html", "page.ipynb", "searchindex.js", "page.doctree"):
        assert {f"{name}: {line}" for line in leaked} <= set(found), name
    (tmp_path / "clean.html").write_text("<p>nothing here</p>")
    assert not [f for f in found if f.startswith("clean.html")]
