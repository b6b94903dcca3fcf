"""nbgrader's gradebook: only the coordinator opens it, from the course root, which no
kernel's filesystem contains."""
from __future__ import annotations

from pathlib import Path

from . import course, nbcell


def db_url(root: Path) -> str:
    return f"sqlite:///{root}/gradebook.db"


def open_gradebook(root: Path):
    """One Gradebook for the whole run: opening one costs an `alembic` subprocess."""
    import warnings

    course._venv_on_path()
    from nbgrader.api import Gradebook

    # nbgrader's own session handling warns on every new submission; nothing is wrong.
    warnings.filterwarnings("ignore", message=".*not in session.*")
    return Gradebook(db_url(root), "layers-from-scratch")


def prepare(gb, sources: dict) -> None:
    """Each assignment's notebooks and grade cells into the gradebook.

    ``sources``: assignment -> {notebook name: SourceNotebook}."""
    from nbformat import from_dict
    from nbgrader.utils import compute_checksum

    for assignment, notebooks in sources.items():
        gb.update_or_create_assignment(assignment)
        for name, source in notebooks.items():
            gb.update_or_create_notebook(name, assignment)
            for cell in source.cells:
                meta = nbcell.grading(cell)
                if not meta.get("grade_id") or cell.get("cell_type") != "code":
                    continue
                if meta.get("grade") and not meta.get("solution"):
                    gb.update_or_create_grade_cell(meta["grade_id"], name, assignment,
                                                   max_score=float(meta.get("points", 0)),
                                                   cell_type="code")
                if meta.get("solution"):
                    gb.update_or_create_solution_cell(meta["grade_id"], name, assignment)
                gb.update_or_create_source_cell(
                    meta["grade_id"], name, assignment, cell_type="code",
                    locked=bool(meta.get("locked")), source=nbcell.source(cell),
                    checksum=compute_checksum(from_dict(cell)))


def record(gb, verdict) -> None:
    gb.update_or_create_student(verdict.student)
    gb.update_or_create_submission(verdict.assignment, verdict.student)
    for grade_id, points in verdict.scores.items():
        grade = gb.find_grade(grade_id, verdict.notebook, verdict.assignment, verdict.student)
        grade.auto_score = float(points)
    gb.db.commit()


def generate_feedback(root: Path, assignments) -> list:
    api = course.nbgrader_api(root=str(root), db_url=db_url(root))
    problems = []
    for assignment in assignments:
        result = api.generate_feedback(assignment, force=True)
        if not result.get("success"):
            problems.append(f"feedback for {assignment}: "
                            f"{result.get('error') or result.get('log', '')[-500:]}")
    return problems
