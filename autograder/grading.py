"""``make grade``: grade submitted/ into nbgrader's gradebook, feedback and grades.csv.

One coordinator (this process) and, forked from it before torch is imported, a warm
"zygote" that has numpy, matplotlib and the checks loaded. For each submission the zygote
forks a grading kernel (``sandbox``), so a notebook starts in milliseconds instead of a
fresh kernel and a 2-second ``import torch``. The kernel sends the student's answers; the
coordinator judges them against torch (each case's expected value is computed once per
run), writes the gradebook (one writer: SQLite), the autograded notebook for nbgrader's
feedback, and a sidecar with the flags. A run that is killed and started again skips
what is already recorded and grades the rest.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import pickle
import pwd
import secrets
import shutil
import signal
import socket
import struct
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from . import course, exercise, sandbox, submission, wire
from .paths import COURSE_ROOT

GRADER_USER = "lfs-grader"
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def add_arguments(parser) -> None:
    parser.add_argument("--jobs", type=int, default=2, help="submissions graded at once")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of the hidden cases (default: the course's recorded seed, "
                             "chosen at random on the first run)")
    parser.add_argument("--force", action="store_true", help="grade again what is already graded")
    parser.add_argument("--student", action="append", help="only these students")
    parser.add_argument("--assignment", action="append", help="only these assignments")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per cell")
    parser.add_argument("--memory", type=int, default=4096, help="MiB of address space per kernel")
    parser.add_argument("--root", default=str(COURSE_ROOT), help="course root (holds submitted/)")
    parser.add_argument("--no-feedback", action="store_true", help="skip the feedback HTML")


# The zygote ---------------------------------------------------------------------------

class Zygote:
    """A torch-free process that forks grading kernels on request."""

    def __init__(self):
        parent, child = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            parent.close()
            self._serve(child)
        child.close()
        self.sock, self.pid, self.lock = parent, pid, threading.Lock()

    @staticmethod
    def _serve(sock):
        try:
            exercise.load_families()
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot  # noqa: F401 - warm: the chapters all plot

            assert "torch" not in sys.modules, "a family module imported torch"
            signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # kernels are reaped by the system
            while True:
                msg, fds, _, _ = socket.recv_fds(sock, 8, 1)
                if not msg:
                    break
                (size,) = struct.unpack("!Q", msg)
                payload = bytearray()
                while len(payload) < size:
                    chunk = sock.recv(min(size - len(payload), 1 << 20))
                    if not chunk:
                        raise EOFError
                    payload += chunk
                request = pickle.loads(bytes(payload))  # from the coordinator: trusted
                pid = os.fork()
                if pid == 0:
                    sock.close()
                    sandbox.child_main(request, fds[0])
                os.close(fds[0])
                sock.sendall(struct.pack("!q", pid))
        finally:
            os._exit(0)

    def spawn(self, request) -> tuple[int, int]:
        read_fd, write_fd = os.pipe()
        payload = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
        with self.lock:
            socket.send_fds(self.sock, [struct.pack("!Q", len(payload))], [write_fd])
            self.sock.sendall(payload)
            (pid,) = struct.unpack("!q", _recv_exact(self.sock, 8))
        os.close(write_fd)
        return pid, read_fd

    def close(self):
        try:
            self.sock.close()
            os.waitpid(self.pid, 0)
        except OSError:
            pass


def _recv_exact(sock, size):
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise EOFError("the zygote stopped")
        data += chunk
    return data


# Running one notebook -----------------------------------------------------------------

@dataclass
class Execution:
    reports: dict = field(default_factory=dict)  # step -> {(name, hidden): (outcomes, blobs)}
    status: dict = field(default_factory=dict)  # step -> "ok" | error text | "timeout" | ...
    flags: list = field(default_factory=list)  # (kind, detail, step)


def _remove_cgroup(cgroup: Path) -> None:
    for _ in range(50):  # the killed kernel leaves the group a moment later
        try:
            cgroup.rmdir()
            return
        except OSError:
            time.sleep(0.02)


def _kill(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def execute(zygote, plan, cases, settings) -> Execution:
    """Run the plan in kernels; a cell that hangs or kills its kernel is skipped on a restart."""
    import select

    result, start, skip = Execution(), 0, set()
    deadline = time.monotonic() + settings["total_timeout"]
    while start < len(plan):
        workdir = tempfile.mkdtemp(prefix="lfs-kernel-")
        if settings["uid"] is not None:
            os.chown(workdir, settings["uid"], settings["gid"])
        cgroup = None
        if settings.get("cgroup"):
            cgroup = Path(settings["cgroup"]) / f"k{os.getpid()}-{threading.get_ident()}-{start}"
            try:
                cgroup.mkdir(exist_ok=True)
                (cgroup / "pids.max").write_text("64")
            except OSError:
                cgroup = None
        request = sandbox.Request(plan, cases, start, set(skip), workdir, settings["uid"],
                                  settings["gid"], settings["memory"], 256, 900,
                                  str(cgroup) if cgroup else None)
        pid, fd = zygote.spawn(request)
        current, began, finished = None, time.monotonic(), False
        try:
            while True:
                limit = min(settings["timeout"] - (time.monotonic() - began),
                            deadline - time.monotonic())
                ready, _, _ = select.select([fd], [], [], max(limit, 0))
                if not ready:
                    _kill(pid)
                    step = current if current is not None else start
                    result.status[step] = "timeout"
                    result.flags.append(("timeout", f"cell ran over {settings['timeout']:.0f} s", step))
                    current = step
                    break
                try:
                    header, blobs = wire.receive(fd)
                except EOFError:
                    if current is not None:
                        result.status[current] = "kernel died"
                        result.flags.append(("crashed", "the kernel stopped in this cell", current))
                    else:
                        finished = True  # nothing left running; what ran is recorded
                    break
                except wire.WireError as err:
                    _kill(pid)
                    step = current if current is not None else start
                    result.flags.append(("tamper", f"garbage on the grader's channel ({err})", step))
                    result.status[step] = "channel corrupted"
                    current = step
                    break
                event = header.get("event")
                if event == "start":
                    current, began = int(header["step"]), time.monotonic()
                elif event == "end":
                    result.status.setdefault(int(header["step"]), str(header.get("status"))[:300])
                    current, began = None, time.monotonic()
                elif event == "report" and current is not None and plan[current].kind == "test":
                    key = (str(header.get("name")), bool(header.get("hidden")))
                    result.reports.setdefault(current, {}).setdefault(key, (header.get("outcomes"), blobs))
                elif event == "flag":
                    step = header.get("step")
                    step = int(step) if isinstance(step, int) else current
                    result.flags.append((str(header.get("kind")), str(header.get("detail")), step))
                elif event == "done":
                    finished = True
                    break
        finally:
            os.close(fd)
            _kill(pid)
            shutil.rmtree(workdir, ignore_errors=True)
            if cgroup is not None:
                _remove_cgroup(cgroup)
        if finished or current is None or time.monotonic() >= deadline:
            if time.monotonic() >= deadline and not finished:
                result.flags.append(("timeout", "the notebook ran over its total time", current))
            break
        skip.add(current)
        start = max(start, current + 1) if current >= start else start
    return result


# Judging ------------------------------------------------------------------------------

class Judge:
    """Torch's answers for this run's cases, computed once, and the verdicts."""

    def __init__(self, seed):
        self.seed, self.lock, self.cases, self.expected = seed, threading.Lock(), {}, {}

    def cases_for(self, checks) -> dict:
        out = {}
        for name, hidden in checks:
            key = f"{name}|{int(hidden)}"
            with self.lock:
                if key not in self.cases:
                    try:
                        ex = exercise.get(name)
                    except KeyError:
                        continue
                    seed = self.seed if hidden else _visible_seed()
                    self.cases[key] = ex.cases(hidden, seed)
            out[key] = self.cases[key]
        return out

    def expected_for(self, key):
        with self.lock:
            if key not in self.expected:
                from .api import expected_for

                name = key.rsplit("|", 1)[0]
                ex = exercise.get(name)
                self.expected[key] = [expected_for(ex, case) for case in self.cases[key]]
            return self.expected[key]

    def verdict(self, name, hidden, report) -> str | None:
        from .api import Outcome, first_failure

        key = f"{name}|{int(hidden)}"
        ex, cases = exercise.get(name), self.cases[key]
        outcomes_raw, blobs = report
        if not isinstance(outcomes_raw, list) or len(outcomes_raw) != len(cases):
            return f"{name}: the grader received an incomplete answer"
        outcomes = []
        for raw in outcomes_raw:
            try:
                value = wire.decode_value(raw.get("value") or {"kind": "none"}, blobs)
            except Exception:  # noqa: BLE001 - unreadable answer is a wrong answer
                value = wire.Foreign("unreadable value")
            outcomes.append(Outcome(value=value, error=raw.get("error"),
                                    message=str(raw.get("message") or ""), where=str(raw.get("where") or "")))
        return first_failure(ex, cases, outcomes, self.expected_for(key), hidden)


def _visible_seed():
    from .runtime import VISIBLE_SEED

    return VISIBLE_SEED


FLAG_LABELS = {"torch-used": "torch-used", "tamper": "tamper", "timeout": "timeout",
               "memory": "memory", "crashed": "crashed", "process": "tamper", "network": "tamper",
               "exit": "tamper", "loads-arrays": "torch-used", "malformed": "malformed"}


@dataclass
class Graded:
    student: str
    assignment: str
    scores: dict  # test grade_id -> points
    max_scores: dict
    messages: dict  # test grade_id -> feedback text
    flags: list  # (label, detail)
    seed: int
    digest: str
    notebook: dict | None = None
    note: str = ""
    seconds: float = 0.0


def grade_one(zygote, judge, source, path, student, settings) -> Graded:
    began = time.monotonic()
    max_scores = {gid: pts for gid, (_, pts, _) in source.tests.items()}
    zero = {gid: 0 for gid in max_scores}
    digest = _digest(path)

    def failed(note, label="malformed"):
        messages = {gid: f"not graded: {note}" for gid in max_scores}
        # Feedback still shows the chapter: the released (answer-free) notebook, verdicts in.
        released = course.NOTEBOOKS / source.chapter / f"{source.chapter}.ipynb"
        blank = submission.build_plan(source, json.loads(released.read_text(encoding="utf-8")))
        notebook = autograded_notebook(source, blank, messages, zero)
        return Graded(student, source.chapter, dict(zero), max_scores, messages, [(label, note)],
                      judge.seed, digest, notebook, note, time.monotonic() - began)

    try:
        nb = submission.read_notebook(path)
    except submission.Malformed as err:
        return failed(str(err))
    except OSError as err:
        return failed(f"cannot read {path.name}: {err.strerror}")
    plan = submission.build_plan(source, nb)
    checks = [c for step in plan.steps if step.kind == "test" for c in step.checks]
    run = execute(zygote, plan.steps, judge.cases_for(checks), settings)

    flags = [(label, detail) for label, detail, _ in plan.notes]
    # Tampering with a test cell costs that exercise its points, whatever the answer.
    affected = {gid: f"{label}: {detail}" for label, detail, gid in plan.notes if gid}
    defined_by_step = {i: submission.defined_names(s.source) for i, s in enumerate(plan.steps)
                       if s.kind in ("answer", "student")}
    for kind, detail, step in run.flags:
        label = FLAG_LABELS.get(kind, "tamper")
        if step is None or not 0 <= step < len(plan.steps):
            flags.append((label, detail))
            continue
        cell = plan.steps[step]
        if cell.kind == "book":
            continue  # the text's own cells may touch torch; they are not the student's
        where = cell.grade_id or f"cell {step}"
        flags.append((label, f"{detail} ({where})"))
        if cell.kind == "test":
            affected[cell.grade_id] = f"{label}: {detail}"
        else:
            names = defined_by_step.get(step, set())
            for index, test in enumerate(plan.steps):
                if test.kind == "test" and any(exercise_function(n) in names for n, _ in test.checks):
                    affected.setdefault(test.grade_id, f"{label} in {where}: {detail}")

    scores, messages = {}, {}
    for index, step in enumerate(plan.steps):
        if step.kind != "test":
            continue
        problems = []
        reports = run.reports.get(index, {})
        status = run.status.get(index)
        for name, hidden in step.checks:
            report = reports.get((name, hidden))
            if report is None:
                why = status if status not in (None, "ok") else "it was not reached"
                scope = "hidden" if hidden else "visible"
                problems.append(f"{name} ({scope} cases): the check did not run ({why})")
                continue
            message = judge.verdict(name, hidden, report)
            if message:
                problems.append(message)
        if step.grade_id in affected:
            problems.insert(0, f"no credit: {affected[step.grade_id]}")
        if problems:
            scores[step.grade_id] = 0
            messages[step.grade_id] = "\n\n".join(problems)
        else:
            scores[step.grade_id] = max_scores[step.grade_id]
            counts = [f"{len(judge.cases[f'{n}|{int(h)}'])} {'hidden' if h else 'visible'}"
                      for n, h in step.checks]
            messages[step.grade_id] = f"passed: {', '.join(counts)} cases match torch"
    notebook = autograded_notebook(source, plan, messages, scores)
    return Graded(student, source.chapter, scores, max_scores, messages, _dedup(flags), judge.seed,
                  digest, notebook, "", time.monotonic() - began)


def exercise_function(name):
    try:
        return exercise.get(name).function
    except KeyError:
        return name


def _dedup(items):
    seen, out = set(), []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"
    except OSError:
        return "unreadable"


MAX_OUTPUT_CHARS = 20_000


def autograded_notebook(source, plan, messages, scores) -> dict:
    """The student's notebook with the course's test cells, and the judge's verdicts in them."""
    test_cells = {}
    for cell in source.cells:
        meta = submission._meta(cell)
        if meta.get("grade") and not meta.get("solution"):
            test_cells[meta["grade_id"]] = cell

    def verdict_cell(grade_id):
        cell = json.loads(json.dumps(test_cells[grade_id]))
        text = messages.get(grade_id, "")
        cell["execution_count"] = None
        cell["outputs"] = ([{"output_type": "stream", "name": "stdout", "text": text + "\n"}]
                           if scores.get(grade_id, 0) > 0 else
                           [{"output_type": "error", "ename": "CheckFailed", "evalue": text,
                             "traceback": text.splitlines()}])
        return cell

    # Code cells map one to one, in order, onto the plan's non-test steps; the tests are
    # emitted just before the step they precede in the plan.
    out, position, steps = [], 0, plan.steps
    for cell in plan.notebook.get("cells", []):
        if not isinstance(cell, dict):
            continue
        if cell.get("cell_type") == "code":
            if submission._meta(cell).get("grade_id") in test_cells:
                continue
            while position < len(steps) and steps[position].kind == "test":
                out.append(verdict_cell(steps[position].grade_id))
                position += 1
            position += 1
        out.append(_trim(cell))
    out += [verdict_cell(step.grade_id) for step in steps[position:] if step.kind == "test"]
    return {"cells": out, "nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)",
                                        "language": "python", "name": "python3"},
                         "language_info": {"name": "python"}}}


def _trim(cell) -> dict:
    cell = dict(cell)
    if cell.get("cell_type") == "code":
        outputs, total = [], 0
        for output in cell.get("outputs") or []:
            size = len(json.dumps(output))
            if total + size > MAX_OUTPUT_CHARS:
                outputs.append({"output_type": "stream", "name": "stdout",
                                "text": "[output trimmed by the grader]\n"})
                break
            outputs.append(output)
            total += size
        cell["outputs"] = outputs
    return cell
# The gradebook, sidecars and reports --------------------------------------------------

def _db_url(root: Path) -> str:
    return f"sqlite:///{root}/gradebook.db"


def prepare_gradebook(gb, sources: dict) -> None:
    """Put each chapter's notebook and grade cells into nbgrader's gradebook."""
    from nbgrader.utils import compute_checksum
    from nbformat import from_dict

    for chapter, source in sources.items():
        gb.update_or_create_assignment(chapter)
        gb.update_or_create_notebook(chapter, chapter)
        for cell in source.cells:
            meta = submission._meta(cell)
            if not meta.get("grade_id") or cell.get("cell_type") != "code":
                continue
            if meta.get("grade") and not meta.get("solution"):
                gb.update_or_create_grade_cell(meta["grade_id"], chapter, chapter,
                                               max_score=float(meta.get("points", 0)),
                                               cell_type="code")
            if meta.get("solution"):
                gb.update_or_create_solution_cell(meta["grade_id"], chapter, chapter)
            gb.update_or_create_source_cell(
                meta["grade_id"], chapter, chapter, cell_type="code",
                locked=bool(meta.get("locked")), source=submission._text(cell["source"]),
                checksum=compute_checksum(from_dict(cell)))


def open_gradebook(root: Path):
    """One Gradebook for the whole run: opening one costs an `alembic` subprocess."""
    import warnings

    course._venv_on_path()
    from nbgrader.api import Gradebook

    # nbgrader's own session handling warns on every new submission; nothing is wrong.
    warnings.filterwarnings("ignore", message=".*not in session.*")
    return Gradebook(_db_url(root), "layers-from-scratch")


def _sidecar_path(root: Path, student, assignment) -> Path:
    return root / "grading-runs" / "records" / student / f"{assignment}.json"


def record(root: Path, gb, graded: Graded) -> None:
    """Write one submission: autograded notebook, gradebook rows, then the sidecar last."""
    folder = root / "autograded" / graded.student / graded.assignment
    folder.mkdir(parents=True, exist_ok=True)
    if graded.notebook is not None:
        _atomic_write(folder / f"{graded.assignment}.ipynb",
                      json.dumps(graded.notebook, indent=1, ensure_ascii=False))
    gb.update_or_create_student(graded.student)
    gb.update_or_create_submission(graded.assignment, graded.student)
    for grade_id, points in graded.scores.items():
        grade = gb.find_grade(grade_id, graded.assignment, graded.assignment, graded.student)
        grade.auto_score = float(points)
    gb.db.commit()
    sidecar = {"digest": graded.digest, "seed": graded.seed, "flags": graded.flags,
               "note": graded.note, "scores": graded.scores, "max_scores": graded.max_scores,
               "messages": graded.messages, "seconds": round(graded.seconds, 2),
               "feedback": graded.notebook is not None}
    path = _sidecar_path(root, graded.student, graded.assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, json.dumps(sidecar, indent=1, ensure_ascii=False))


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def already_graded(root: Path, student, assignment, digest, seed) -> bool:
    path = _sidecar_path(root, student, assignment)
    try:
        sidecar = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return sidecar.get("digest") == digest and sidecar.get("seed") == seed


def write_reports(root: Path, gb, sources: dict) -> tuple[int, int, int]:
    """grades.csv and grades_by_exercise.csv, rebuilt from the gradebook and the sidecars."""
    rows, by_exercise, flagged, failed = [], [], 0, 0
    for student in sorted(s.id for s in gb.students):
        for chapter in sources:
            try:
                sub = gb.find_submission(chapter, student)
            except Exception:  # noqa: BLE001 - nbgrader raises MissingEntry
                continue
            path = _sidecar_path(root, student, chapter)
            try:
                sidecar = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                sidecar = {"flags": [["malformed", "no grading record"]], "note": ""}
            labels = sorted({label for label, _ in sidecar.get("flags", [])})
            note = sidecar.get("note") or "; ".join(d for _, d in sidecar.get("flags", []))[:500]
            flagged += bool(labels)
            failed += bool(sidecar.get("note"))
            rows.append([student, chapter, f"{sub.score:g}", f"{sub.max_score:g}",
                         " ".join(labels), f"{note} [seed {sidecar.get('seed')}]".strip()])
            for grade_id, points in sidecar.get("scores", {}).items():
                by_exercise.append([student, chapter, grade_id, points,
                                    sidecar["max_scores"].get(grade_id), " ".join(labels)])
    with open(root / "grades.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student", "assignment", "score", "max_score", "flags", "note"])
        writer.writerows(rows)
    with open(root / "grades_by_exercise.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student", "assignment", "exercise", "points", "max_points", "flags"])
        writer.writerows(by_exercise)
    return len(rows), flagged, failed


def generate_feedback(root: Path, chapters) -> list:
    api = course.nbgrader_api(root=str(root), db_url=_db_url(root))
    problems = []
    for chapter in chapters:
        result = api.generate_feedback(chapter, force=True)
        if not result.get("success"):
            problems.append(f"feedback for {chapter}: {result.get('error') or result.get('log', '')[-500:]}")
    return problems


# Discovery and the run ----------------------------------------------------------------

def discover(root: Path, sources: dict, students=None, assignments=None):
    """(student, chapter, notebook path) for each submission; unknown folders are reported."""
    found, notes = [], []
    submitted = root / "submitted"
    if not submitted.is_dir():
        return found, [f"no submitted/ folder in {root}"]
    for student_dir in sorted(submitted.iterdir()):
        if not student_dir.is_dir() or (students and student_dir.name not in students):
            continue
        for chapter_dir in sorted(student_dir.iterdir()):
            if assignments and chapter_dir.name not in assignments:
                continue
            if chapter_dir.name not in sources:
                notes.append(f"{student_dir.name}/{chapter_dir.name}: not an assignment of this course")
                continue
            path = chapter_dir / f"{chapter_dir.name}.ipynb"
            if chapter_dir.is_dir() and not path.exists():
                others = sorted(p for p in chapter_dir.glob("*.ipynb") if p.is_file())
                if len(others) == 1:
                    notes.append(f"{student_dir.name}/{chapter_dir.name}: graded {others[0].name} "
                                 f"(expected {path.name})")
                    path = others[0]
            found.append((student_dir.name, chapter_dir.name, path))
    return found, notes


def _readable_by_others(path: str) -> bool:
    """Can a user who is neither owner nor group reach and read ``path``?"""
    import stat

    current = Path(path).resolve()
    for folder in [current, *current.parents]:
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH or (folder == current and not mode & stat.S_IROTH):
            return False
    return True


def _isolation():
    """How kernels are kept apart: (uid, gid, cgroup folder or None, description).

    As root: an unprivileged user (created when missing) whose process count is limited —
    when that user can read the Python installation; otherwise the kernels stay root and
    a pids cgroup (cgroup v1 or v2) limits their processes. Not root: the current user,
    with processes refused by the audit hook.
    """
    import sysconfig

    if os.geteuid() != 0:
        return None, None, None, "the current user (processes refused by the audit hook)"
    try:
        entry = pwd.getpwnam(GRADER_USER)
    except KeyError:
        import subprocess

        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        GRADER_USER], check=False, capture_output=True)
        try:
            entry = pwd.getpwnam(GRADER_USER)
        except KeyError:
            entry = None
    stdlib = sysconfig.get_paths()["stdlib"]
    if entry is not None and _readable_by_others(stdlib) and _readable_by_others(sys.prefix):
        return entry.pw_uid, entry.pw_gid, None, f"user {GRADER_USER} (process limit)"
    for base in ("/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
        group = Path(base) / "lfs-grader"
        try:
            if base != "/sys/fs/cgroup/pids" and "pids" not in (Path(base) / "cgroup.controllers").read_text():
                continue
            group.mkdir(exist_ok=True)
            if base != "/sys/fs/cgroup/pids":
                (group / "cgroup.subtree_control").write_text("+pids")
            probe = group / "probe"
            probe.mkdir(exist_ok=True)
            (probe / "pids.max").write_text("64")
            probe.rmdir()
            reason = f"{stdlib} is not readable by {GRADER_USER}" if entry else "no user could be created"
            return None, None, str(group), f"root in pids cgroup {group} ({reason})"
        except OSError:
            continue
    return None, None, None, "root (no unprivileged user or pids cgroup available: processes refused by the audit hook)"


def _seed(root: Path, requested):
    path = root / "grading-runs" / "seed"
    if requested is not None:
        seed = int(requested)
    else:
        try:
            seed = int(path.read_text().strip())
        except (OSError, ValueError):
            seed = secrets.randbelow(2**31)
    path.parent.mkdir(exist_ok=True)
    path.write_text(f"{seed}\n")
    return seed


def _progress(done, total, began, line):
    elapsed = time.monotonic() - began
    eta = elapsed / done * (total - done) if done else 0
    width = 24
    bar = "#" * int(width * done / max(total, 1))
    print(f"[{bar:<{width}}] {done}/{total} eta {eta:4.0f}s  {line}", file=sys.stderr, flush=True)


def main(args) -> int:
    if any(os.environ.get(var) != "1" for var in THREAD_VARS):
        # One BLAS thread per kernel: parallelism comes from --jobs, and a forked process
        # must not inherit a thread pool. numpy reads these only at import, hence the re-exec.
        os.environ.update({var: "1" for var in THREAD_VARS})
        os.execv(sys.executable, [sys.executable, "-m", "autograder", *sys.argv[1:]])
    root = Path(args.root).resolve()
    chapters = [c for c in course.chapters() if not args.assignment or c in args.assignment]
    sources = {c: submission.SourceNotebook.load(course.source_notebook(c), c) for c in chapters}
    uid, gid, cgroup, isolation = _isolation()
    zygote = Zygote()  # before torch is imported: its kernels must never have torch
    seed = _seed(root, args.seed)
    settings = {"uid": uid, "gid": gid, "cgroup": cgroup, "timeout": args.timeout, "memory": args.memory * 2**20,
                "total_timeout": max(600.0, args.timeout * 20)}
    judge = Judge(seed)
    began = time.monotonic()
    gb = open_gradebook(root)
    try:
        stage = time.monotonic()
        prepare_gradebook(gb, sources)
        work, notes = discover(root, sources, args.student, args.assignment)
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
        todo = [(s, c, p) for s, c, p in work
                if args.force or not already_graded(root, s, c, _digest(p), seed)]
        print(f"grading {len(todo)} submission(s) ({len(work) - len(todo)} already graded), "
              f"seed {seed}, {args.jobs} at once, kernels as {isolation}",
              file=sys.stderr)
        done, grading_began = 0, time.monotonic()
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = {pool.submit(grade_one, zygote, judge, sources[c], p, s, settings): (s, c)
                       for s, c, p in todo}
            for future in as_completed(futures):
                student, chapter = futures[future]
                graded = future.result()
                record(root, gb, graded)
                done += 1
                total = sum(graded.scores.values())
                flags = " ".join(sorted({f for f, _ in graded.flags}))
                _progress(done, len(todo), grading_began, f"{student}/{chapter}: {total}/"
                          f"{sum(graded.max_scores.values())} {flags}".rstrip())
        stage = time.monotonic()
        problems = [] if args.no_feedback else generate_feedback(
            root, sorted({c for _, c, _ in work}))
        for problem in problems:
            print(f"warning: {problem}", file=sys.stderr)
        if not args.no_feedback:
            print(f"feedback written in {time.monotonic() - stage:.1f} s", file=sys.stderr)
        rows, flagged, failed = write_reports(root, gb, sources)
    finally:
        gb.close()
        zygote.close()
    print(f"graded {rows} submission(s): {flagged} flagged, {failed} could not be graded "
          f"(zero, reason in grades.csv); seed {seed}; {time.monotonic() - began:.1f} s")
    return 0
