"""``make bench-grade``'s cluster figures: the grader on a real Dask cluster of local
worker processes, and the writer that must keep up with it.

- throughput with 1 and 2 workers (``dask worker --nthreads 1``, each its own process)
  on a class of about 200 notebooks, grading only (the feedback HTML is timed apart);
- CPU seconds per notebook by chapter (the worker's process and its kernels, per task);
- the gradebook's rate: verdicts recorded per second by the one writing process (nbgrader's
  gradebook, the autograded notebook, the record), in the run and on a larger gradebook.
  (The feedback HTML, also written at the coordinator, is timed by bench-grade's own run.)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ProcessCluster:
    """A scheduler and workers on 127.0.0.1, each a ``dask`` process in its own session
    (so that one ``killpg`` ends a worker and its nanny together)."""

    def __init__(self, folder: Path, env: dict | None = None):
        from distributed import Client

        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self.address = folder, f"tcp://127.0.0.1:{free_port()}"
        self.workers: dict[str, subprocess.Popen] = {}
        self.scheduler = self._spawn("scheduler", ["scheduler", "--host", "127.0.0.1", "--port",
                                                   self.address.rsplit(":", 1)[1],
                                                   "--dashboard-address", ":0"], env)
        self.client = Client(self.address, timeout=120, set_as_default=False)

    def _spawn(self, name, args, env=None):
        log = open(self.folder / f"{name}.log", "ab")  # noqa: SIM115 - the process keeps it
        return subprocess.Popen([str(BIN / "dask"), *args], stdout=log, stderr=log, env=env,
                                stdin=subprocess.DEVNULL, start_new_session=True)

    def start_worker(self, name: str, timeout: float = 180) -> None:
        self.workers[name] = self._spawn(name, ["worker", self.address, "--nthreads", "1",
                                                "--name", name, "--dashboard-address", ":0"])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.address_of(name):
                return
            time.sleep(0.2)
        raise RuntimeError(f"worker {name} did not join: "
                           f"{(self.folder / f'{name}.log').read_text()[-2000:]}")

    def address_of(self, name: str) -> str | None:
        for address, info in self.client.scheduler_info(n_workers=-1)["workers"].items():
            if info["name"] == name:
                return address
        return None

    def kill_worker(self, name: str) -> None:
        """``kill -9`` a worker and its nanny: nothing starts it again."""
        process = self.workers.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def close(self) -> None:
        self.client.close()
        for process in [*self.workers.values(), self.scheduler]:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()
        self.workers = {}


def parse_run(stderr: str) -> dict:
    """The grading and writing figures a ``grade`` run prints."""
    out = {}
    found = re.search(
        r"^graded (\d+) notebook\(s\) in ([0-9.]+) s; recording them took ([0-9.]+) s", stderr, re.M
    )
    if found:
        out = {"notebooks": int(found.group(1)), "grading": float(found.group(2)),
               "writing": float(found.group(3))}
    return out


def cpu_by_chapter(root: Path) -> dict:
    """chapter -> CPU seconds per notebook, from the records of a cluster run."""
    seconds = {}
    for path in (root / "grading-runs" / "records").rglob("*.json"):
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("cpu_seconds") is not None:
            seconds.setdefault(path.parent.name, []).append(record["cpu_seconds"])
    return {chapter: sum(v) / len(v) for chapter, v in sorted(seconds.items())}


def run_cluster(root: Path, workers: int, seed: int, chapters, log_folder: Path) -> dict:
    cluster = ProcessCluster(log_folder)
    try:
        for i in range(workers):
            cluster.start_worker(f"w{i + 1}")
        cmd = [sys.executable, "-m", "autograder", "grade", "--root", str(root),
               "--seed", str(seed), "--scheduler", cluster.address, "--no-feedback",
               *[a for c in chapters for a in ("--assignment", c)]]
        began = time.monotonic()
        result = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.monotonic() - began
    finally:
        cluster.close()
    (root / "grade.log").write_text(result.stderr, encoding="utf-8")
    if result.returncode != 0:
        raise SystemExit(
            f"grading on the cluster failed ({result.returncode}):\n{result.stderr[-3000:]}"
        )
    figures = parse_run(result.stderr)
    figures["wall"] = wall
    return figures


def gradebook_rate(root: Path, sources: dict, copies: int) -> tuple[float, float, int]:
    """Verdicts recorded per second into a fresh gradebook by the coordinator's code, for
    ``copies`` notebooks made from ``root``'s records (new student names): (rate over the
    first tenth, rate over the last tenth, notebooks). Shows whether SQLite slows as the
    gradebook grows."""
    from . import gradebook, node, records

    made = []
    for path in sorted((root / "grading-runs" / "records").rglob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        notebook, assignment, student = path.stem, path.parent.name, path.parent.parent.name
        autograded = root / "autograded" / student / assignment / f"{notebook}.ipynb"
        made.append(
            (
                assignment,
                notebook,
                record,
                json.loads(autograded.read_text(encoding="utf-8")) if autograded.exists() else None,
            )
        )
    target = root.parent / (root.name + "-gradebook-rate")
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    gb = gradebook.open_gradebook(target)
    times = []
    try:
        gradebook.prepare(gb, sources)
        for i in range(copies):
            assignment, name, record, autograded = made[i % len(made)]
            verdict = node.Verdict(
                f"copy{i:06d}",
                assignment,
                name,
                record["scores"],
                record["max_scores"],
                record["messages"],
                record["flags"],
                record["seed"],
                record["digest"],
                autograded,
                record["note"],
            )
            began = time.perf_counter()
            records.write_autograded(target, verdict)
            gradebook.record(gb, verdict)
            records.write_record(target, verdict, record["checks"])
            times.append(time.perf_counter() - began)
    finally:
        gb.close()
        shutil.rmtree(target, ignore_errors=True)
    tenth = max(1, len(times) // 10)
    return tenth / sum(times[:tenth]), tenth / sum(times[-tenth:]), len(times)


def main(seed: int, students: int, chapters, workdir: Path, plan_class, write_class) -> list[str]:
    """Run the cluster figures; returns the lines to print (also printed as they come)."""
    from . import course
    from .grading import load_sources

    lines = []

    def say(line=""):
        print(line, flush=True)
        lines.append(line)

    kinds = plan_class(
        students, seed, 0
    )  # no infinite loops: they measure the limit, not the grader
    say(f"cluster: {len(kinds)} notebooks ({students} students x {len(chapters)} chapters, "
        "no infinite loops), grading only (no feedback HTML), workers `dask worker --nthreads 1` "
        "on this machine")
    runs = {}
    for workers in (1, 2):
        root = workdir / f"cluster-{workers}"
        write_class(kinds, seed, [root])
        figures = run_cluster(root, workers, seed, chapters, workdir / f"cluster-{workers}-logs")
        runs[workers] = (root, figures)
        n, grading = figures.get("notebooks", len(kinds)), figures.get("grading", figures["wall"])
        say(
            f"  {workers} worker(s): {n} notebooks in {grading:.1f} s of grading = "
            f"{n / grading:.2f} "
            f"notebooks/s ({figures['wall']:.1f} s wall with start-up and grades.csv)"
        )
    one, two = (runs[w][1] for w in (1, 2))
    if one.get("grading") and two.get("grading"):
        say(f"  scaling 1 -> 2 workers: x{one['grading'] / two['grading']:.2f} "
            f"(this machine has {os.cpu_count()} cores, shared)")
    say("  CPU seconds per notebook (worker process and its kernels), 1-worker run:")
    for chapter, seconds in cpu_by_chapter(runs[1][0]).items():
        say(f"    {chapter}: {seconds:.2f} s")
    writing = [(w, f) for w, (_, f) in runs.items() if f.get("writing")]
    for workers, figures in writing:
        say(
            f"  gradebook (SQLite) during the {workers}-worker run: "
            f"{figures['notebooks']} notebooks recorded in {figures['writing']:.1f} s = "
            f"{figures['notebooks'] / figures['writing']:.0f} notebooks/s"
        )
    sources = load_sources(course.SOLUTIONS, list(chapters))
    first, last, count = gradebook_rate(runs[1][0], sources, 500)
    say(f"  gradebook (SQLite), writer alone, {count} notebooks into a fresh gradebook: "
        f"{first:.0f} notebooks/s over the first tenth, {last:.0f}/s over the last")
    return lines
