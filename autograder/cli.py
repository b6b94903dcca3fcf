"""The course's commands; the Makefile calls these, and so can anyone without make."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path


def cmd_release(args) -> int:
    from . import course

    if args.check:
        problems = course.release_drift()
        for line in problems:
            print(line, file=sys.stderr)
        if not problems:
            print(f"notebooks/ matches a fresh release of {len(course.chapters())} chapters")
        return 1 if problems else 0
    course.release()
    print(f"released {len(course.chapters())} chapters into notebooks/")
    return 0


def cmd_lab_copy(args) -> int:
    """Copy notebooks/ into work/ without ever overwriting a student's file."""
    from .paths import COURSE_ROOT

    source, target = COURSE_ROOT / "notebooks", Path(args.target)
    copied = kept = 0
    for path in sorted(source.rglob("*")):
        if path.is_dir() or ".ipynb_checkpoints" in path.parts:
            continue
        destination = target / path.relative_to(source)
        if destination.exists():
            kept += 1
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)
        copied += 1
    print(f"work/: copied {copied} new file(s), kept {kept} you already have")
    return 0


def cmd_grade(args) -> int:
    from . import grading

    return grading.main(args)


def cmd_bench(args) -> int:
    from . import bench

    return bench.main(args)


def cmd_bench_grade(args) -> int:
    from . import bench_grade

    return bench_grade.main(args)


def cmd_book(args) -> int:
    from . import book

    return book.main(args)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("release", help="regenerate notebooks/ from solutions/")
    p.add_argument("--check", action="store_true", help="fail if notebooks/ would change")
    p.set_defaults(run=cmd_release)
    p = sub.add_parser("lab-copy", help="copy notebooks/ into work/, never overwriting")
    p.add_argument("target", nargs="?", default="work")
    p.set_defaults(run=cmd_lab_copy)
    p = sub.add_parser("grade", help="grade submitted/ into the gradebook and grades.csv")
    from .grading import add_arguments

    add_arguments(p)
    p.set_defaults(run=cmd_grade)
    p = sub.add_parser("book", help="build the web edition into _build/book")
    p.add_argument("--out", help="the build folder (default: _build); the site is its book/")
    p.add_argument("--chapter", action="append", help="only these assignments (default: all)")
    p.add_argument("--jobs", type=int, default=2, help="notebooks executed at once")
    p.add_argument("--jupyterhub-url", help="JupyterHub the launch links open (nbgitpuller)")
    p.add_argument("--binderhub-url", help="BinderHub the launch links open")
    p.add_argument("--repository-url", help="the repository a launch clones")
    p.add_argument("--branch", help="its branch")
    p.set_defaults(run=cmd_book)
    p = sub.add_parser("bench", help="time the reference answers against torch")
    p.add_argument("--blocks", type=int, default=5)
    p.add_argument("--only", action="append", help="only cases whose label contains this")
    p.set_defaults(run=cmd_bench)
    p = sub.add_parser(
        "bench-grade", help="the fast grader against plain nbgrader on a synthetic class"
    )
    from .bench_grade import add_arguments as bench_grade_arguments

    bench_grade_arguments(p)
    p.set_defaults(run=cmd_bench_grade)
    args = parser.parse_args(argv)
    return args.run(args)
