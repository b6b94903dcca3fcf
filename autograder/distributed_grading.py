"""Grading on a Dask cluster: the same node on every worker, one writer at the coordinator.

Workers are plain ``dask worker ADDRESS --nthreads 1`` processes started from the
course's environment. The coordinator installs a worker plugin (``GradingNode``,
registered idempotently by name) that makes each worker a grading node: a sandboxed
kernel pool and one judge per seed, created on first use. One submission is one task;
the task carries the notebook's bytes, the seed and the test cells (``for_grading()``),
so a worker reads no file of the course. Verdicts come back to the coordinator, which
alone writes the gradebook, the feedback and the CSVs (``grading.main``).

Faults. A worker that dies (``kill -9``, out of memory) takes its task with it; the
scheduler gives the task to another worker. The coordinator asks the scheduler to stop
after the second death (``allowed-failures`` 1) and to hand each worker only the task
it runs (``worker-saturation`` 1.0, with tasks queued on the scheduler): a worker's death
then counts against the one notebook it was grading, and a notebook that stopped two
workers gets a zero and the reason instead of endless retries. Each verdict is yielded
once (the coordinator records it once); a coordinator killed and started again resumes
from its records.
"""
from __future__ import annotations

import functools
import hashlib
import os
import resource
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from . import node, sandbox
from .execution import Settings
from .judge import Judge

PLUGIN = "lfs-grading-node"
KEY_PREFIX = "lfs-grade"  # one task group on the scheduler's dashboard
ALLOWED_FAILURES = 1  # a task whose worker dies twice is not tried a third time
WORKER_SATURATION = 1.0  # a worker holds only the task it runs
POLL_SECONDS = 10.0  # how often a coordinator waiting on the cluster checks it has workers


class GradingBroke(RuntimeError):
    """The cluster cannot grade (no worker, no sandbox on a worker, other checks): the
    run stops; what was recorded stays recorded."""


@functools.lru_cache(maxsize=1)
def fingerprint() -> str:
    """The checks this process loaded (hashed once: the code in memory is what grades)."""
    from . import fingerprint as digest

    return digest.package()


# On the worker ---------------------------------------------------------------------------

try:
    from distributed import WorkerPlugin
except ImportError:  # the package imports without distributed; only --scheduler needs it
    WorkerPlugin = object


class GradingNode(WorkerPlugin):
    """Makes a Dask worker a grading node: one kernel pool, one judge per seed.

    Kernels are started with ``--die-with-parent``: they die with the *thread* that
    spawned them. Grading therefore runs on this plugin's own threads, which live as long
    as the worker, never on a thread Dask may retire."""

    idempotent = True  # registering again (every run) keeps the running node
    name = PLUGIN

    def __init__(self, sandboxed: bool = True, memory_bytes: int = 4 * 2**30):
        self.sandboxed, self.memory_bytes = sandboxed, memory_bytes

    def setup(self, worker):
        self.worker = worker
        self.lock = threading.Lock()
        self.pools: dict = {}
        self.judges: dict = {}
        self.threads = ThreadPoolExecutor(max_workers=max(1, worker.state.nthreads),
                                          thread_name_prefix="lfs-grading-node")

    def teardown(self, worker):
        self.threads.shutdown(wait=False, cancel_futures=True)
        for pool in self.pools.values():
            pool.close()

    def pool(self, sandboxed: bool, memory_bytes: int) -> sandbox.KernelPool:
        with self.lock:
            key = (sandboxed, memory_bytes)
            if key not in self.pools:
                self.pools[key] = sandbox.KernelPool(
                    sandboxed=sandboxed, limits=sandbox.Limits(memory_bytes=memory_bytes))
            return self.pools[key]

    def judge(self, seed: int) -> Judge:
        with self.lock:
            if seed not in self.judges:
                import torch

                torch.set_num_threads(1)  # one task per thread: parallelism is the cluster's
                self.judges[seed] = Judge(seed)
            return self.judges[seed]


def grade_task(spec, task: node.Task, seed: int, settings: Settings, sandboxed: bool,
               memory_bytes: int, checks: str) -> node.Verdict:
    """The Dask task: one notebook's verdict, graded by this worker's node."""
    from distributed import get_worker

    worker = get_worker()
    if fingerprint() != checks:
        raise GradingBroke(f"worker {worker.address} has other checks ({fingerprint()}, the "
                           f"coordinator {checks}): start it from the course's environment")
    plugin = worker.plugins[PLUGIN]
    try:
        pool = plugin.pool(sandboxed, memory_bytes)
    except sandbox.SandboxUnavailable as err:
        raise GradingBroke(f"worker {worker.address}: no sandbox for the kernels: {err}") from None
    judge = plugin.judge(seed)
    cpu = _cpu_seconds()
    verdict = plugin.threads.submit(node.grade, pool, judge, spec, task, settings).result()
    verdict.extra.update(worker=worker.address, cpu_seconds=_cpu_seconds() - cpu)
    return verdict


def _cpu_seconds() -> float:
    """CPU of this worker process and of the kernels it has ended (with --nthreads 1, the
    difference over a task is that task's, give or take the warm start of one kernel)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime + sandbox.Kernel.spent


# At the coordinator ---------------------------------------------------------------------

def task_key(task: node.Task, seed: int, settings: Settings, checks: str) -> tuple:
    """Same submission, seed, limits and checks -> same key: a result still held by the
    scheduler (a coordinator restarted at once) is reused, never a different one."""
    token = hashlib.sha256(repr((task.digest, task.read_error, seed, settings.timeout,
                                 settings.total_timeout, checks)).encode()).hexdigest()[:16]
    return (KEY_PREFIX, f"{task.student}/{task.assignment}/{task.notebook}", token)


class DaskNodes:
    """``grade(tasks, specs)`` like ``grading.LocalNodes``, on the cluster at ``address``."""

    def __init__(self, address: str, seed: int, settings: Settings, sandboxed: bool = True,
                 memory_bytes: int = 4 * 2**30, worker_timeout: float = 300.0, log=None):
        self.address, self.seed, self.settings = address, seed, settings
        self.sandboxed, self.memory_bytes = sandboxed, memory_bytes
        self.worker_timeout = worker_timeout
        self.log = log or (lambda line: None)
        self.client = None

    def connect(self):
        from distributed import Client

        try:
            self.client = Client(self.address, timeout=60, set_as_default=False)
        except OSError as err:
            raise GradingBroke(f"no Dask scheduler at {self.address}: {err}") from None
        def configure(dask_scheduler, failures=ALLOWED_FAILURES, saturation=WORKER_SATURATION):
            # Sent by value: the scheduler needs no copy of this package. Idempotent.
            dask_scheduler.allowed_failures = failures
            dask_scheduler.WORKER_SATURATION = saturation
            return dask_scheduler.allowed_failures, dask_scheduler.WORKER_SATURATION

        failures, saturation = self.client.run_on_scheduler(configure)
        self.client.register_plugin(GradingNode(self.sandboxed, self.memory_bytes), name=PLUGIN)
        try:
            self.client.wait_for_workers(1, timeout=self.worker_timeout)
        except (TimeoutError, OSError):
            raise GradingBroke(
                f"no worker joined {self.address} in {self.worker_timeout:.0f} s"
            ) from None
        threads = sum(self.client.nthreads().values())
        self.log(
            f"cluster {self.address}: {len(self.client.nthreads())} worker(s), "
            f"{threads} thread(s); "
            f"allowed-failures {failures}, worker-saturation {saturation}"
        )
        return self.client

    def close(self):
        if self.client is not None:
            self.client.close()
            self.client = None

    def _window(self) -> int:
        """Tasks handed to the scheduler at once: enough to keep every thread busy, few
        enough that the scheduler never holds a whole course's notebooks."""
        threads = sum(self.client.nthreads().values()) or 1
        return max(8, 3 * threads + 2)

    def grade(self, tasks, specs):
        from dask._task_spec import Task
        from distributed import wait
        from distributed.client import FutureCancelledError
        from distributed.scheduler import KilledWorker

        if self.client is None:
            self.connect()
        checks = fingerprint()
        todo, by_key, running = list(reversed(tasks)), {}, set()
        window, checked, alone_since = self._window(), time.monotonic(), None

        def submit():
            task = todo.pop()
            key = task_key(task, self.seed, self.settings, checks)
            by_key[key] = (task, time.monotonic())
            # A "data producer" is always a root task: the scheduler queues it itself and
            # hands a worker only what it can run now, however few tasks remain, so a
            # worker's death counts against the one notebook it was grading.
            graph = {
                key: Task(
                    key,
                    grade_task,
                    specs[(task.assignment, task.notebook)],
                    task,
                    self.seed,
                    self.settings,
                    self.sandboxed,
                    self.memory_bytes,
                    checks,
                    _data_producer=True,
                )
            }
            running.add(self.client.get(graph, key, sync=False))

        try:
            while todo or running:
                while todo and len(running) < window:
                    submit()
                try:
                    with self.client.as_current():  # wait() uses the current client
                        done, _ = wait(
                            list(running), timeout=POLL_SECONDS, return_when="FIRST_COMPLETED"
                        )
                except TimeoutError:
                    # Nothing finished: the scheduler holds the tasks while workers come and
                    # go; only a cluster left without any worker for long stops the run.
                    if self.client.nthreads():
                        alone_since = None
                    elif alone_since is None:
                        alone_since = time.monotonic()
                    elif time.monotonic() - alone_since > self.worker_timeout:
                        raise GradingBroke(
                            f"no worker at {self.address} for {self.worker_timeout:.0f} s"
                        ) from None
                    continue
                for future in done:
                    running.discard(future)
                    task, began = by_key.pop(future.key)
                    try:
                        verdict = future.result()
                    except KilledWorker as err:
                        verdict = self._killed(task, specs, err, began)
                    except GradingBroke:
                        raise
                    except FutureCancelledError as err:
                        raise GradingBroke(
                            f"the scheduler dropped {task.student}/{task.assignment}: {err}"
                        ) from None
                    except Exception as err:  # noqa: BLE001 - a worker-side failure outside node.grade
                        raise GradingBroke(f"{task.student}/{task.assignment}/{task.notebook}: "
                                           f"{type(err).__name__}: {err}") from None
                    future.release()
                    yield verdict  # once per task: the coordinator records it once
                if time.monotonic() - checked > 5:
                    window, checked = self._window(), time.monotonic()
        finally:
            for future in running:
                future.release()

    def _killed(self, task, specs, err, began) -> node.Verdict:
        deaths = getattr(err, "allowed_failures", ALLOWED_FAILURES) + 1
        last = getattr(getattr(err, "last_worker", None), "address", None) or "a worker"
        note = (f"grading this notebook stopped {deaths} grading workers (the last: {last}); "
                "it was not tried again")
        verdict = node._failed(
            Judge(self.seed),
            specs[(task.assignment, task.notebook)],
            task,
            note,
            began,
            label="crashed",
        )
        verdict.seconds = time.monotonic() - began
        return verdict


def describe_worker_environment() -> dict:
    """What a worker reports about itself (tests and ``bench-grade``)."""
    return {"pid": os.getpid(), "checks": fingerprint()}
