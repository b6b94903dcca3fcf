"""The README's "Adding an exercise" example is real: registered as written, the stub
scores nothing, a correct answer passes every case, and the declared bug is named."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from autograder import CheckFailed, check, exercise

README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.fixture(scope="module")
def channel_shuffle_exercise():
    text = README.read_text(encoding="utf-8")
    section = text.split("## Adding an exercise", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    code = code.replace("from .. import", "from autograder import")
    code = code.replace("from ..", "from autograder.")
    exercise.load_families()
    namespace = {"__name__": "autograder.checks.readme_example"}
    exec(compile(code, str(README), "exec"), namespace)  # noqa: S102 - the README's own code
    yield exercise.get("channel_shuffle")
    del exercise._REGISTRY["channel_shuffle"]


def _shuffle(input, groups, split):
    if input.ndim < 3 or input.shape[1] % groups:
        raise ValueError("channel_shuffle needs (N, C, *) with C divisible by groups")
    n, c = input.shape[:2]
    parts = (groups, c // groups) if split == "groups first" else (c // groups, groups)
    return input.reshape(n, *parts, *input.shape[2:]).swapaxes(1, 2).reshape(input.shape)


def channel_shuffle(input, groups):
    return _shuffle(input, groups, "groups first")


def swapped(input, groups):  # the one bug: (C // groups, groups) instead of (groups, C // groups)
    return _shuffle(input, groups, "channels first")


def stub(input, groups):
    raise NotImplementedError()


def test_the_stub_scores_nothing(channel_shuffle_exercise):
    with pytest.raises(CheckFailed, match="not implemented yet"):
        check("channel_shuffle", stub)


def test_a_correct_answer_passes_every_case(channel_shuffle_exercise, capsys):
    check("channel_shuffle", channel_shuffle)
    check("channel_shuffle", channel_shuffle, hidden=True)
    assert "all" in capsys.readouterr().out
    hidden = channel_shuffle_exercise.cases(True, 1)
    assert any(case.refused for case in hidden)
    assert any(np.asarray(case.args[0]).dtype == np.float32 for case in hidden)


def test_the_declared_bug_is_named(channel_shuffle_exercise):
    with pytest.raises(CheckFailed) as failure:
        check("channel_shuffle", swapped)
        check("channel_shuffle", swapped, hidden=True)
    assert failure.value.bug_id == "groups-and-channels-swapped", str(failure.value)
