"""What a grade depends on, as a digest: a record made with other checks is graded again.

A notebook's grade depends on the grading machinery (every module of this package that
grades, not the benchmarks or the reports), on the family modules that define the
exercises its test cells check (and the families those import), and on its own test
cells. A change to ``checks/pool_max.py`` regrades 05a, not chapter 01.
"""
from __future__ import annotations

import hashlib
import json
import sys
import types
from pathlib import Path

from . import exercise

PACKAGE = Path(__file__).resolve().parent
# Modules that never take part in a grade: changing them regrades nothing.
NOT_GRADING = frozenset({"bench.py", "bench_cluster.py", "bench_grade.py", "canvas.py",
                         "similarity.py", "display.py"})


def _digest(paths, extra: bytes = b"") -> str:
    digest = hashlib.sha256(extra)
    for path in sorted(paths):
        digest.update(str(path.relative_to(PACKAGE)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def package() -> str:
    """Every module of the package: workers of one cluster must grade with the same code."""
    return _digest(PACKAGE.rglob("*.py"))


def machinery_files() -> list[Path]:
    """The grading machinery: the package less the families, the book and what never grades."""
    return [p for p in PACKAGE.rglob("*.py")
            if p.parent == PACKAGE and p.name not in NOT_GRADING
            or p.parent == PACKAGE / "checks" and p.name == "__init__.py"]


def _family_of(value) -> str | None:
    name = (
        value.__name__
        if isinstance(value, types.ModuleType)
        else getattr(value, "__module__", None)
    )
    return name if isinstance(name, str) and name.startswith("autograder.checks.") else None


def family_files(check_names) -> set[Path]:
    """The family modules behind these exercises, with the families they draw on."""
    todo = set()
    for name in check_names:
        try:
            ex = exercise.get(name)
        except KeyError:
            continue
        parts = [ex.visible, ex.hidden, ex.reference, ex.run, ex.diagnose]
        parts += [part for bug in ex.bugs for part in (bug.answer, bug.when) if part]
        todo |= {family for family in map(_family_of, parts) if family}
    seen = set()
    while todo:
        module_name = todo.pop()
        seen.add(module_name)
        module = sys.modules.get(module_name)
        for value in vars(module).values() if module else ():
            family = _family_of(value)
            if family and family not in seen:
                todo.add(family)
    return {Path(sys.modules[m].__file__).resolve() for m in seen}


def notebook(spec) -> str:
    """The digest a notebook's grade depends on (``spec``: its ``SourceNotebook``)."""
    names = {name for _, _, checks in spec.tests.values() for name, _ in checks}
    tests = json.dumps(
        sorted((gid, source, points) for gid, (source, points, _) in spec.tests.items())
    )
    return _digest(set(machinery_files()) | family_files(names), tests.encode())
