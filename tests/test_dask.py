"""Grading on a real Dask cluster: a scheduler and two workers, each its own process on
127.0.0.1, started as a course starts them (``dask scheduler``, ``dask worker ADDRESS
--nthreads 1``). Nothing is simulated: kills are ``kill -9``.

- a synthetic class (10 students x 3 chapters, correct, wrong, stub and hostile
  notebooks) graded on the cluster gives the grades.csv of a local run, byte for byte;
- the same with one worker killed mid-run: its notebook is graded elsewhere, nothing is
  lost and nothing recorded twice;
- a notebook during whose grading a worker dies twice gets a zero and the reason, and the
  rest of its class is graded.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_grading import read_csv

from autograder import bench_grade, course
from autograder.bench_cluster import ProcessCluster

SEED = 2027
CHAPTERS = bench_grade.CHAPTERS
SLOW_STUDENTS = ("student03", "student04", "student05", "student06")
PAUSE = 0.5  # seconds


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = ProcessCluster(tmp_path_factory.mktemp("cluster"))
    try:
        cluster.start_worker("w1")
        cluster.start_worker("w2")
        yield cluster
    finally:
        cluster.close()


def make_class(root: Path, students: int = 10, slow=None) -> dict:
    """The synthetic class. A notebook grades in a fraction of a second, too fast to be
    caught mid-grading: the submissions of students 03-06 (``slow``: these keys) start
    with a cell that sleeps, so a test can kill the worker holding one."""
    kinds = bench_grade.plan_class(students, SEED, loops=0)
    bench_grade.write_class(kinds, SEED, [root])
    slow = {k: PAUSE for k in kinds if k[0] in SLOW_STUDENTS} if slow is None else slow
    for (student, chapter), seconds in slow.items():
        for path in (root / "submitted" / student / chapter).glob("*.ipynb"):
            nb = json.loads(path.read_text(encoding="utf-8"))
            nb["cells"].insert(0, {"cell_type": "code", "execution_count": None, "metadata": {},
                                   "outputs": [], "source": f"import time\ntime.sleep({seconds})"})
            path.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    return kinds


def grade(root: Path, *extra) -> list[str]:
    return [sys.executable, "-m", "autograder", "grade", "--root", str(root), "--seed", str(SEED),
            "--no-feedback", *[a for c in CHAPTERS for a in ("--assignment", c)], *extra]


def run(cmd, timeout=900) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def recorded(stderr: str) -> list[str]:
    """The notebooks the coordinator recorded, one progress line each."""
    return re.findall(r"\] \d+/\d+ eta +\d+s  (\S+):", stderr)


def notebooks_of(kinds) -> list[str]:
    """Every notebook the class hands in: each part of a chapter in parts."""
    return sorted(f"{s}/{c}/{n}" for s, c in kinds for n in course.notebooks(c))


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("local")
    kinds = make_class(root)
    run(grade(root, "--jobs", "2"))
    return kinds, (root / "grades.csv").read_text(), (root / "grades_by_exercise.csv").read_text()


def test_the_cluster_grades_as_the_local_run(cluster, local_run, tmp_path):
    kinds, grades, by_exercise = local_run
    assert len(kinds) == 30
    make_class(tmp_path)
    result = run(grade(tmp_path, "--scheduler", cluster.address))
    assert "2 worker(s)" in result.stderr and "allowed-failures 1" in result.stderr, result.stderr[
        -2000:
    ]
    assert sorted(recorded(result.stderr)) == notebooks_of(kinds)
    assert (tmp_path / "grades.csv").read_text() == grades
    assert (tmp_path / "grades_by_exercise.csv").read_text() == by_exercise
    rows = read_csv(tmp_path / "grades.csv")
    assert len(rows) == 30
    # The class is not trivial: full marks, zeros and flags all occur.
    assert {r["score"] == r["max_score"] for r in rows} == {True, False}
    assert any(r["flags"] for r in rows) and any(float(r["score"]) == 0 for r in rows)


def test_a_worker_killed_mid_run_loses_nothing(cluster, local_run, tmp_path):
    kinds, grades, by_exercise = local_run
    make_class(tmp_path)
    process = subprocess.Popen(grade(tmp_path, "--scheduler", cluster.address),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    records = tmp_path / "grading-runs" / "records"
    victim = None
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and victim is None and process.poll() is None:
        if len(list(records.rglob("*.json"))) >= 3:
            address = cluster.address_of("w1")
            if address and cluster.client.processing(workers=[address])[address]:
                victim = address  # it is grading a notebook right now
                cluster.kill_worker("w1")
        time.sleep(0.05)
    try:
        stdout, stderr = process.communicate(timeout=900)
    finally:
        cluster.start_worker("w1")  # the next test has two workers again
    assert victim is not None, "the run ended before a worker could be killed"
    assert process.returncode == 0, stderr[-4000:]
    done = recorded(stderr)
    assert sorted(done) == notebooks_of(kinds)  # each once, none lost
    assert (tmp_path / "grades.csv").read_text() == grades
    assert (tmp_path / "grades_by_exercise.csv").read_text() == by_exercise


def test_a_notebook_that_stops_two_workers_gets_zero_and_the_reason(cluster, tmp_path):
    """Whatever worker takes the poisoned notebook dies (kill -9, its nanny starts it
    again): after the second death the notebook is not tried a third time."""
    kinds = bench_grade.plan_class(1, SEED, loops=0)
    poison = sorted(kinds)[0]
    make_class(tmp_path, students=1, slow={poison: 10})
    key_part = f"{poison[0]}/{poison[1]}/{poison[1]}"
    process = subprocess.Popen(grade(tmp_path, "--scheduler", cluster.address),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    def grading_it(dask_worker, part=key_part):
        """The worker's pid while it is executing the poisoned notebook: the scheduler's
        list of what a worker processes can be a moment old, and a kill that lands after
        the notebook finished is no death of its grading."""
        running = any(isinstance(ts.key, tuple) and ts.key[1] == part
                      for ts in dask_worker.state.executing)
        return os.getpid() if running else None

    kills, deadline = [], time.monotonic() + 600
    while len(kills) < 2 and time.monotonic() < deadline and process.poll() is None:
        processing = cluster.client.processing()
        # A worker holds only the notebook it grades: its death blames no other one.
        assert all(len(keys) <= 1 for keys in processing.values()), processing
        for address, keys in processing.items():
            if any(isinstance(k, tuple) and k[1] == key_part for k in keys):
                with contextlib.suppress(OSError, KeyError):  # it may have just died
                    pid = cluster.client.run(grading_it, workers=[address])[address]
                    if pid is not None and pid not in kills:
                        os.kill(pid, signal.SIGKILL)
                        kills.append(pid)
        time.sleep(0.02)
    stdout, stderr = process.communicate(timeout=900)
    assert len(kills) == 2, f"the poisoned notebook was not caught twice: {stderr[-2000:]}"
    assert process.returncode == 0, stderr[-4000:]
    rows = {(r["student"], r["assignment"]): r for r in read_csv(tmp_path / "grades.csv")}
    assert len(rows) == len(kinds)
    row = rows[poison]
    assert float(row["score"]) == 0 and "crashed" in row["flags"].split(), row
    assert "stopped 2 grading workers" in row["note"], row
    others = [r for k, r in rows.items() if k != poison]
    assert not any("grading workers" in r["note"] for r in others), others
    assert any(r["score"] == r["max_score"] and float(r["max_score"]) > 0 for r in others) or \
        all(kinds[k] != "correct" for k in rows if k != poison)
    # The nannies started the killed workers again: the cluster still has two.
    deadline = time.monotonic() + 120
    while len(cluster.client.scheduler_info()["workers"]) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(cluster.client.scheduler_info()["workers"]) == 2


DEPLOY = Path(__file__).resolve().parent.parent / "deploy" / "dask"


def test_deploy_configurations_parse_and_keep_one_thread_per_worker():
    """Parsed only: no Kubernetes or Slurm here. They must say what the grader relies on."""
    import yaml

    from autograder import distributed_grading

    cluster = yaml.safe_load((DEPLOY / "kubernetes" / "daskcluster.yaml").read_text())
    assert cluster["apiVersion"] == "kubernetes.dask.org/v1" and cluster["kind"] == "DaskCluster"
    worker = cluster["spec"]["worker"]["spec"]["containers"][0]
    assert worker["args"][:2] == ["dask", "worker"]
    assert worker["args"][worker["args"].index("--nthreads") + 1] == "1"
    assert (
        worker["securityContext"]["seccompProfile"]["type"] == "Unconfined"
    )  # bubblewrap needs it
    scheduler_env = {e["name"]: e["value"] for e in
                     cluster["spec"]["scheduler"]["spec"]["containers"][0]["env"]}
    assert scheduler_env["DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES"] == \
        str(distributed_grading.ALLOWED_FAILURES)
    slurm = yaml.safe_load((DEPLOY / "slurm" / "jobqueue.yaml").read_text())
    job = slurm["jobqueue"]["slurm"]
    assert job["cores"] == job["processes"]  # one thread per worker process
    assert (
        slurm["distributed"]["scheduler"]["allowed-failures"]
        == distributed_grading.ALLOWED_FAILURES
    )
    compile((DEPLOY / "slurm" / "start_cluster.py").read_text(), "start_cluster.py", "exec")
    assert "bubblewrap" in (DEPLOY / "Dockerfile").read_text()
