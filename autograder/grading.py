"""``make grade``: grade submitted/ into nbgrader's gradebook, feedback and grades.csv.

This process is the coordinator. It plans the work (which notebooks of which students),
reads each submitted file once, and hands its bytes to grading nodes (``node``): each
runs the notebook in fresh bubblewrap sandboxes (``sandbox``) and judges the answers
against torch (``judge``). Only this process writes: the gradebook (``gradebook``), the
autograded notebooks and the records (``records``). A run that is killed and started
again skips what is already recorded and grades the rest.
"""
from __future__ import annotations

import hashlib
import os
import secrets
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from . import course, fingerprint, gradebook, node, records, sandbox, submission
from .execution import Settings
from .judge import Judge
from .paths import COURSE_ROOT

THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def add_arguments(parser) -> None:
    parser.add_argument("--jobs", type=int, default=2,
                        help="submissions graded at once (ignored with --scheduler)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="grade on the Dask cluster of this scheduler (tcp://HOST:PORT) "
                             "instead of local processes")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of the hidden cases (default: the course's recorded seed, "
                             "chosen at random on the first run)")
    parser.add_argument("--force", action="store_true", help="grade again what is already graded")
    parser.add_argument("--student", action="append", help="only these students")
    parser.add_argument("--assignment", action="append", help="only these assignments")
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        help="CPU seconds per cell (a wall-clock backstop of 3x + 30 s catches sleeps)",
    )
    parser.add_argument("--memory", type=int, default=4096, help="MiB of address space per kernel")
    parser.add_argument("--root", default=str(COURSE_ROOT), help="course root (holds submitted/)")
    parser.add_argument("--source", default=None,
                        help="folder of the source notebooks (default: solutions/ of the course)")
    parser.add_argument("--no-feedback", action="store_true", help="skip the feedback HTML")
    parser.add_argument("--unsandboxed", action="store_true",
                        help="grade without the sandbox where none can be made (NOT protected)")


# The plan -------------------------------------------------------------------------------

def load_sources(solutions: Path, assignments=None) -> dict:
    """assignment -> {notebook name: SourceNotebook}, from the source folder."""
    released_root = solutions.parent / "notebooks"
    out = {}
    for assignment in course.chapters(solutions):
        if assignments and assignment not in assignments:
            continue
        out[assignment] = {
            name: submission.SourceNotebook.load(
                solutions / assignment / f"{name}.ipynb",
                assignment,
                released_root / assignment / f"{name}.ipynb",
            )
            for name in course.notebooks(assignment, solutions)
        }
    return out


def discover(root: Path, sources: dict, students=None, assignments=None):
    """(student, assignment, notebook name, path or None) for each notebook to grade, and
    notes on what was found but is not part of the course."""
    found, notes = [], []
    submitted = root / "submitted"
    if not submitted.is_dir():
        return found, [f"no submitted/ folder in {root}"]
    for student_dir in sorted(submitted.iterdir()):
        if not student_dir.is_dir() or (students and student_dir.name not in students):
            continue
        for folder in sorted(student_dir.iterdir()):
            if assignments and folder.name not in assignments:
                continue
            if folder.name not in sources:
                notes.append(f"{student_dir.name}/{folder.name}: not an assignment of this course")
                continue
            names = list(sources[folder.name])
            for name in names:
                path = folder / f"{name}.ipynb"
                if folder.is_dir() and not path.exists() and len(names) == 1:
                    others = sorted(p for p in folder.glob("*.ipynb") if p.is_file())
                    if len(others) == 1:
                        notes.append(f"{student_dir.name}/{folder.name}: graded {others[0].name} "
                                     f"(expected {path.name})")
                        path = others[0]
                found.append((student_dir.name, folder.name, name, path))
    return found, notes


def read_task(student, assignment, name, path: Path) -> node.Task:
    try:
        data = submission.read_notebook(path)
    except submission.Malformed as err:
        return node.Task(student, assignment, name, None, str(err), "unreadable")
    except OSError as err:
        why = (
            "not submitted"
            if isinstance(err, FileNotFoundError)
            else f"cannot read it: {err.strerror}"
        )
        return node.Task(student, assignment, name, None, f"{path.name}: {why}", "missing")
    return node.Task(student, assignment, name, data, "", hashlib.sha256(data).hexdigest())


def digest_of(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"
    except OSError:
        return "unreadable"


def seed_for(root: Path, requested) -> int:
    path = root / "grading-runs" / "seed"
    if requested is not None:
        seed = int(requested)
    else:
        try:
            seed = int(path.read_text().strip())
        except (OSError, ValueError):
            seed = secrets.randbelow(2**31)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{seed}\n")
    return seed


def _progress(done, total, began, line):
    elapsed = time.monotonic() - began
    eta = elapsed / done * (total - done) if done else 0
    bar = "#" * int(24 * done / max(total, 1))
    print(f"[{bar:<24}] {done}/{total} eta {eta:4.0f}s  {line}", file=sys.stderr, flush=True)


# Local grading: threads over one kernel pool --------------------------------------------

class LocalNodes:
    """The embedded default: ``jobs`` threads, each grading with a warm sandboxed kernel."""

    def __init__(self, jobs: int, seed: int, settings: Settings, pool: sandbox.KernelPool):
        self.jobs, self.judge, self.settings, self.pool = jobs, Judge(seed), settings, pool

    def grade(self, tasks, specs):
        with ThreadPoolExecutor(max_workers=max(1, self.jobs)) as executor:
            futures = [executor.submit(node.grade, self.pool, self.judge,
                                       specs[(t.assignment, t.notebook)], t, self.settings)
                       for t in tasks]
            for future in as_completed(futures):
                yield future.result()


def _similarity(root: Path, assignments: list, released: Path) -> None:
    """similarity.csv / .html beside grades.csv; a report never breaks grading."""
    from . import similarity

    try:
        pairs = similarity.write_similarity(root, assignments, released_root=released)
        print(f"similarity: {pairs} pair(s) at or above {similarity.THRESHOLD:g} "
              "(similarity.csv, similarity.html)", file=sys.stderr)
    except Exception as error:  # noqa: BLE001
        print(f"warning: similarity report: {error}", file=sys.stderr)


def main(args) -> int:
    if any(os.environ.get(var) != "1" for var in THREAD_VARS):
        # One BLAS thread per judge call: parallelism comes from --jobs. numpy reads these
        # only at import, hence the re-exec.
        os.environ.update({var: "1" for var in THREAD_VARS})
        os.execv(sys.executable, [sys.executable, "-m", "autograder", *sys.argv[1:]])
    root = Path(args.root).resolve()
    solutions = Path(args.source).resolve() if args.source else course.SOLUTIONS
    pool = None  # on a cluster, each worker makes its own (distributed_grading.GradingNode)
    broke = ()  # what stops a cluster run (dask is imported only for one)
    if args.scheduler:
        from .distributed_grading import DaskNodes, GradingBroke

        broke = (GradingBroke,)
    else:
        try:
            pool = sandbox.KernelPool(sandboxed=not args.unsandboxed,
                                      limits=sandbox.Limits(memory_bytes=args.memory * 2**20))
        except sandbox.SandboxUnavailable as err:
            print(f"cannot grade: no sandbox for the kernels: {err}.\n"
                  "`--unsandboxed` grades anyway, without protection.", file=sys.stderr)
            return 2
    sources = load_sources(solutions, args.assignment)
    specs = {
        (a, n): s.for_grading() for a, notebooks in sources.items() for n, s in notebooks.items()
    }
    seed = seed_for(root, args.seed)
    mode = "-unsandboxed" if args.unsandboxed else ""
    fingerprints = {key: fingerprint.notebook(spec) + mode for key, spec in specs.items()}
    settings = Settings(timeout=args.timeout, total_timeout=max(600.0, args.timeout * 20))
    began = time.monotonic()
    print(
        f"kernels: {pool.describe()}"
        if pool
        else f"kernels: on the workers of the Dask cluster at {args.scheduler}",
        file=sys.stderr,
        flush=True,
    )
    gb, nodes = gradebook.open_gradebook(root), None
    try:
        gradebook.prepare(gb, sources)
        work, notes = discover(root, sources, args.student, args.assignment)
        for line in notes:
            print(f"note: {line}", file=sys.stderr)
        todo = [(s, a, n, p) for s, a, n, p in work
                if args.force or not records.already_graded(root, s, a, n, digest_of(p), seed,
                                                              fingerprints.get((a, n)))]
        print(
            f"grading {len(todo)} notebook(s) ({len(work) - len(todo)} already graded), "
            f"seed {seed}, {f'on {args.scheduler}' if args.scheduler else f'{args.jobs} at once'}",
            file=sys.stderr,
            flush=True,
        )
        tasks = [read_task(*item) for item in todo]
        if args.scheduler:
            nodes = DaskNodes(args.scheduler, seed, settings, sandboxed=not args.unsandboxed,
                              memory_bytes=args.memory * 2**20,
                              log=lambda line: print(line, file=sys.stderr, flush=True))
        else:
            nodes = LocalNodes(args.jobs, seed, settings, pool)
        done, grading_began, writing = 0, time.monotonic(), 0.0
        for verdict in nodes.grade(tasks, specs):
            verdict.extra["unprotected"] = bool(args.unsandboxed)
            wrote = time.perf_counter()
            records.write_autograded(root, verdict)
            gradebook.record(gb, verdict)
            records.write_record(
                root, verdict, fingerprints[(verdict.assignment, verdict.notebook)]
            )
            writing += time.perf_counter() - wrote
            done += 1
            flags = " ".join(sorted({f for f, _ in verdict.flags}))
            _progress(
                done,
                len(tasks),
                grading_began,
                f"{verdict.student}/{verdict.assignment}/{verdict.notebook}: "
                f"{sum(verdict.scores.values())}/{sum(verdict.max_scores.values())} "
                f"{flags}".rstrip(),
            )
        # The one writer's share: on a large cluster it must keep up (make bench-grade).
        print(f"graded {done} notebook(s) in {time.monotonic() - grading_began:.1f} s; "
              f"recording them took {writing:.1f} s", file=sys.stderr, flush=True)
        stage = time.monotonic()
        if not args.no_feedback:
            for problem in gradebook.generate_feedback(root, sorted({a for _, a, _, _ in work})):
                print(f"warning: {problem}", file=sys.stderr)
            print(f"feedback written in {time.monotonic() - stage:.1f} s", file=sys.stderr)
        rows, flagged, failed = records.write_reports(root, gb, sources)
        _similarity(root, sorted({a for _, a, _, _ in work}), solutions.parent / "notebooks")
    except broke as err:
        print(f"grading stopped: {err}\nwhat was graded is recorded; run again to resume.",
              file=sys.stderr)
        return 1
    finally:
        gb.close()
        if pool is not None:
            pool.close()
        if nodes is not None and hasattr(nodes, "close"):
            nodes.close()
    print(f"graded {rows} submission(s): {flagged} flagged, {failed} could not be graded "
          f"(zero, reason in grades.csv); seed {seed}; {time.monotonic() - began:.1f} s")
    return 0
