"""Running one notebook's plan in sandboxed kernels, with a CPU-time limit per cell.

A cell's time is the CPU its kernel used (every process in the sandbox), so a busy
machine never fails a correct answer; a generous wall-clock backstop catches a cell that
sleeps. A cell that hangs, kills its kernel or garbles the channel is named, and the plan
goes on in a new kernel from the next cell.
"""
from __future__ import annotations

import pickle
import time
from dataclasses import dataclass, field

from . import kernel as kernel_module
from .channel import Channel, ChannelError, Closed

POLL_SECONDS = 0.25
MAX_FLAGS = 200


@dataclass
class Settings:
    timeout: float = 30.0  # CPU seconds per cell
    total_timeout: float = 600.0  # wall seconds per notebook

    @property
    def wall_backstop(self) -> float:
        """Wall seconds a cell may take however little CPU it uses."""
        return max(3 * self.timeout + 30, 60.0)


@dataclass
class Execution:
    reports: dict = field(default_factory=dict)  # step -> {(name, hidden): (outcomes, blobs)}
    status: dict = field(default_factory=dict)  # step -> "ok" | error text | "timeout" | ...
    flags: list = field(default_factory=list)  # (kind, detail, step)


def execute(pool, plan: list, cases: dict, settings: Settings) -> Execution:
    """Run the plan; a cell that hangs or kills its kernel is skipped on a restart."""
    result, start, skip = Execution(), 0, set()
    deadline = time.monotonic() + settings.total_timeout
    while start < len(plan):
        kernel = pool.take()
        request = kernel_module.Request(plan, cases, start, set(skip))
        kernel.send(pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL))
        current, finished = None, False
        try:
            current, finished = _follow(kernel, plan, result, settings, deadline, start)
        finally:
            kernel.kill()
        if finished or current is None or time.monotonic() >= deadline:
            if time.monotonic() >= deadline and not finished:
                result.flags.append(("timeout", "the notebook ran over its total time", current))
            break
        skip.add(current)
        start = max(start, current + 1)
    return result


def _follow(kernel, plan, result, settings, deadline, start):
    """Read one kernel's messages until it is done, dies or overruns: (current step, done)."""
    channel = Channel(kernel.fd, len(plan))
    current, cpu_at_start, wall_at_start = None, kernel.cpu_seconds(), time.monotonic()

    def stop(kind, detail, status):
        step = current if current is not None else start
        result.status[step] = status
        result.flags.append((kind, detail, step))
        return step, False

    while True:
        now = time.monotonic()
        if now >= deadline:
            return stop("timeout", "the notebook ran over its total time", "timeout")
        if kernel.cpu_seconds() - cpu_at_start > settings.timeout:
            return stop("timeout", f"cell used over {settings.timeout:.0f} s of CPU", "timeout")
        if now - wall_at_start > settings.wall_backstop:
            return stop("timeout", f"cell ran over {settings.wall_backstop:.0f} s", "timeout")
        try:
            message = channel.receive(POLL_SECONDS)
        except Closed:
            if current is not None:
                result.status[current] = "kernel died"
                result.flags.append(("crashed", "the kernel stopped in this cell", current))
                return current, False
            return None, True  # nothing left running; what ran is recorded
        except ChannelError as err:
            return stop("tamper", f"garbage on the grader's channel ({err})", "channel corrupted")
        if message is None:
            continue
        header, blobs = message
        event = header["event"]
        if event == "start":
            current = header["step"]
            cpu_at_start, wall_at_start = kernel.cpu_seconds(), time.monotonic()
        elif event == "end":
            result.status.setdefault(header["step"], header["status"][:300])
            current = None
            cpu_at_start, wall_at_start = kernel.cpu_seconds(), time.monotonic()
        elif event == "report" and current is not None and plan[current].kind == "test":
            key = (header["name"], header["hidden"])
            if key in plan[current].checks:  # only what the course's cell asks for
                result.reports.setdefault(current, {}).setdefault(key, (header["outcomes"], blobs))
        elif event == "flag" and len(result.flags) < MAX_FLAGS:
            step = header.get("step")
            step = step if step is not None else current
            result.flags.append((header["kind"][:40], header["detail"][:300], step))
        elif event == "done":
            return current, True
