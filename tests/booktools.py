"""Shared by the tests: load a chapter's reference answers, list its cells."""
from __future__ import annotations

import functools
import types

import matplotlib

matplotlib.use("Agg")

from autograder import course, nbcell  # noqa: E402


def cells(chapter: str, folder: str = "solutions", notebook: str | None = None) -> list[dict]:
    """The cells of one notebook of an assignment, or of all its notebooks (parts) in order."""
    names = [notebook] if notebook else course.notebooks(chapter)
    folder = course.COURSE_ROOT / folder / chapter
    return [cell for name in names for cell in nbcell.read(folder / f"{name}.ipynb")["cells"]]


# The project's one reader of cells, under the names the tests use.
source = nbcell.source
nbgrader = nbcell.grading


@functools.cache
def solution(chapter: str) -> types.SimpleNamespace:
    """The chapter's reference answers: every code cell but the tests, run in one namespace
    (a chapter in parts runs them in order; a part's brought-in functions are the same code)."""
    import matplotlib.pyplot as plt

    namespace: dict = {"__name__": f"solution_{chapter}"}
    for cell in cells(chapter):
        if cell["cell_type"] != "code" or nbgrader(cell).get("grade"):
            continue
        code = "\n".join(line for line in source(cell).splitlines()
                         if not line.lstrip().startswith(("%", "!")))
        exec(compile(code, f"<{chapter}>", "exec"), namespace)  # noqa: S102 - our own notebooks
        plt.close("all")
    return types.SimpleNamespace(**namespace)
