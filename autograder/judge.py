"""The judge: torch's answers to this run's cases, computed once, and the verdicts.

It runs outside every sandbox, in the process that holds torch; what it reads from a
kernel has already passed the channel's schema (``channel.validate``).
"""
from __future__ import annotations

import threading

from . import exercise
from .channel import decode_value
from .runtime import VISIBLE_SEED


class Judge:
    def __init__(self, seed: int):
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
                    self.cases[key] = ex.cases(hidden, self.seed if hidden else VISIBLE_SEED)
            out[key] = self.cases[key]
        return out

    def case_count(self, name: str, hidden: bool) -> int:
        return len(self.cases[f"{name}|{int(hidden)}"])

    def expected_for(self, key):
        with self.lock:
            if key not in self.expected:
                from .api import expected_for

                ex = exercise.get(key.rsplit("|", 1)[0])
                self.expected[key] = [expected_for(ex, case) for case in self.cases[key]]
            return self.expected[key]

    def verdict(self, name, hidden, report) -> str | None:
        """None when every case matches torch, else the feedback message."""
        from .api import Outcome, first_failure

        key = f"{name}|{int(hidden)}"
        ex, cases = exercise.get(name), self.cases[key]
        outcomes_raw, blobs = report
        if len(outcomes_raw) != len(cases):
            return f"{name}: the grader received an incomplete answer"
        outcomes = [Outcome(value=decode_value(raw.get("value") or {"kind": "none"}, blobs),
                            error=raw.get("error"), message=str(raw.get("message") or ""),
                            where=str(raw.get("where") or ""))
                    for raw in outcomes_raw]
        failure = first_failure(ex, cases, outcomes, self.expected_for(key), hidden)
        return failure.message() if failure else None
