"""The course on disk: chapters, nbgrader's configuration, and the release of notebooks/.

``python -m autograder release`` regenerates notebooks/ from solutions/ with nbgrader;
``python -m autograder release --check`` regenerates into a temporary folder and fails
on any difference from what is committed (generated files are checked, not trusted).
"""
from __future__ import annotations

import filecmp
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from .paths import COURSE_ROOT

SOLUTIONS = COURSE_ROOT / "solutions"
NOTEBOOKS = COURSE_ROOT / "notebooks"


def chapters(solutions: Path = SOLUTIONS) -> list[str]:
    """Assignment ids, in order: every solutions/NN_topic folder holding notebooks."""
    return sorted(
        p.name for p in solutions.iterdir() if p.is_dir() and notebooks(p.name, solutions)
    )


def notebooks(assignment: str, solutions: Path = SOLUTIONS) -> list[str]:
    """The notebooks of an assignment (names without .ipynb), in order: one per sitting
    (``05a_max_avg``, ``05b_lp_fractional``), or the assignment's own name when alone."""
    return sorted(p.stem for p in (solutions / assignment).glob("*.ipynb") if p.is_file())


def notebook_paths(folder: Path = SOLUTIONS) -> list[Path]:
    """Every notebook of every assignment under ``folder`` (solutions/ or notebooks/)."""
    return [folder / a / f"{n}.ipynb" for a in chapters() for n in notebooks(a)]


def source_notebook(chapter: str, notebook: str | None = None) -> Path:
    return SOLUTIONS / chapter / f"{notebook or notebooks(chapter)[0]}.ipynb"


def nbgrader_config(**overrides):
    """nbgrader_config.py as a traitlets Config, with CourseDirectory settings replaced."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(COURSE_ROOT)).load_config()
    for key, value in overrides.items():
        config.CourseDirectory[key] = value
    return config


def _venv_on_path() -> None:
    """nbgrader runs `alembic` from PATH: make it the one beside this interpreter."""
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


def nbgrader_api(**overrides):
    _venv_on_path()
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    config = nbgrader_config(**overrides)
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


def release(target: Path = NOTEBOOKS, db_url: str | None = None) -> None:
    """Generate the student notebooks of every chapter into ``target``."""
    overrides = {"release_directory": str(target)}
    if db_url:
        overrides["db_url"] = db_url
    api = nbgrader_api(**overrides)
    for chapter in chapters():
        result = api.generate_assignment(chapter, force=True)
        if not result["success"]:
            raise SystemExit(
                f"release of {chapter} failed:\n{result['log']}\n{result.get('error', '')}"
            )
        for name in notebooks(chapter):
            _normalize(target / chapter / f"{name}.ipynb")
        # A chapter split into parts leaves its former single notebook behind: it has no source now.
        for old in sorted((target / chapter).glob("*.ipynb")):
            if old.stem not in notebooks(chapter):
                old.unlink()
    stale = sorted({p.name for p in target.iterdir() if p.is_dir()} - set(chapters()))
    for name in stale:
        shutil.rmtree(target / name)


def _normalize(path: Path) -> None:
    """One JSON layout for generated notebooks, so a diff shows content, not formatting."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n",
                    encoding="utf-8")


def release_drift() -> list[str]:
    """Differences between a fresh release and the committed notebooks/ (empty: none)."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "notebooks"
        fresh.mkdir()
        release(fresh, db_url=f"sqlite:///{tmp}/gradebook.db")
        problems = []
        for chapter in chapters():
            for notebook in notebooks(chapter):
                name = f"{chapter}/{notebook}.ipynb"
                committed = NOTEBOOKS / name
                if not committed.exists():
                    problems.append(f"notebooks/{name} is missing: run `make release`")
                elif not filecmp.cmp(fresh / name, committed, shallow=False):
                    problems.append(
                        f"notebooks/{name} differs from a fresh release: run `make release`"
                    )
            stale = sorted(
                {p.stem for p in (NOTEBOOKS / chapter).glob("*.ipynb")} - set(notebooks(chapter))
            )
            problems += [
                f"notebooks/{chapter}/{n}.ipynb has no source in solutions/" for n in stale
            ]
        extra = sorted({p.name for p in NOTEBOOKS.iterdir() if p.is_dir()} - set(chapters()))
        problems += [f"notebooks/{name} has no source in solutions/" for name in extra]
        return problems
