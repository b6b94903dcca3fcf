"""Attacks by someone who has read the grader, and files built to stop a batch.

Each attack hides in an otherwise correct chapter 01 notebook and aims at test_conv2d.
The proof is threefold: the attacked exercise earns nothing and the attack is named;
honest exercises beside it keep their points; an honest student graded in the same run
(``bystander``) keeps full marks. Each batch-stopper is graded with its reason while the
rest of the batch is graded. One grading run serves every test here.
"""

from __future__ import annotations

import json

import pytest
from test_grading import (
    ATTACKED,
    CHAPTER,
    HONEST,
    SOURCE,
    _nb,
    _write,
    read_grades,
    run_grade,
    with_conv2d,
)

from autograder import course, nbcell

HOST_ROOT = str(course.COURSE_ROOT)
ZEROS = "import numpy as np\nreturn np.zeros(1)"
KERNEL = "import sys\nk = sys.modules['autograder.kernel']\n"


def _search(where: str) -> str:
    """A conv2d that looks for the reference answer ``where`` and falls back to zeros."""
    return (
        f"{where}\n"
        "for text in found:\n"
        "    if 'def conv2d(' in text and 'BEGIN SOLUTION' in text:\n"
        "        scope = {}\n"
        "        exec(text.split('### BEGIN SOLUTION')[1].split('### END SOLUTION')[0], scope)\n"
        "        return scope['conv2d'](input, weight, bias, stride, padding, dilation, groups)\n"
        + ZEROS
    )


# name -> (notebook, flag the row must show, or None where nothing is visible to name)
ATTACKS = {
    "memory-gc": (
        with_conv2d(
            _search("import gc\nfound = [o for o in gc.get_objects() if isinstance(o, str)]")
        ),
        "tamper",
    ),
    "memory-stack": (
        with_conv2d(
            _search(
                "import sys\nfound, f = [], sys._getframe()\nwhile f is not None:\n"
                "    found += [v for v in f.f_globals.values() if isinstance(v, str)]\n"
                "    f = f.f_back"
            )
        ),
        "tamper",
    ),
    "solutions-dir-fd": (
        with_conv2d(
            _search(
                "import os\nfound = []\nroot = os.open('/', os.O_RDONLY)\n"
                f"fd = os.open({str(SOURCE.relative_to('/'))!r}, os.O_RDONLY, dir_fd=root)\n"
                "found.append(os.read(fd, 10**8).decode())"
            )
        ),
        "tamper",
    ),
    "solutions-hard-link": (
        with_conv2d(
            _search(
                f"import os\nos.link({str(SOURCE)!r}, 'copy.ipynb')\n"
                "found = [open('copy.ipynb').read()]"
            )
        ),
        "tamper",
    ),
    "solutions-swapped-root": (
        with_conv2d(
            _search(
                "import autograder.paths as p\nfrom pathlib import Path\nkeep = p.COURSE_ROOT\n"
                f"p.COURSE_ROOT = Path({HOST_ROOT!r})\n"
                "found = [(p.COURSE_ROOT / 'solutions' / '01_convolution' / "
                "'01_convolution.ipynb').read_text()]\n"
                "p.COURSE_ROOT = keep"
            )
        ),
        "other-library",
    ),
    "gradebook-sqlite": (
        with_conv2d(
            _search(
                f"import sqlite3\ndb = sqlite3.connect({HOST_ROOT + '/gradebook.db'!r})\n"
                "found = [r[0] for r in db.execute('select source from source_cell')]"
            )
        ),
        "tamper",
    ),
    "gradebook-lock": (
        with_conv2d(
            f"import fcntl\nheld = open({HOST_ROOT + '/gradebook.db'!r}, 'rb')\n"
            "fcntl.lockf(held, fcntl.LOCK_SH)\n" + ZEROS
        ),
        "tamper",
    ),
    "hook-code-swap": (
        with_conv2d(
            KERNEL + "k._audit.__code__ = (lambda event, args: None).__code__\n"
            "import torch\nreturn torch.nn.functional.conv2d(input, weight).numpy()"
        ),
        "tamper",
    ),
    "spawnv-passfds": (
        with_conv2d(
            "import sys, os\nfrom multiprocessing.util import spawnv_passfds\n"
            "spawnv_passfds(sys.executable, [sys.executable, '-c', "
            "'import torch, numpy; numpy.save(\"/tmp/work/out.npy\", numpy.zeros(1))'], [])\n"
            "import time\ntime.sleep(1)\nimport numpy as np\nreturn np.load('/tmp/work/out.npy')"
        ),
        "tamper",
    ),
    "outlive-kernel": (
        with_conv2d(
            "import os, sys\nfrom multiprocessing.util import spawnv_passfds\n"
            "spawnv_passfds('/bin/sh', ['/bin/sh', '-c', 'sleep 3; "
            f"echo x > {HOST_ROOT}/gradebook.db'], [])\n" + ZEROS
        ),
        "tamper",
    ),
    "kill-siblings-pidfd": (
        with_conv2d(
            "import os, signal\nfor pid in range(1, 64):\n"
            "    try:\n        signal.pidfd_send_signal(os.pidfd_open(pid), signal.SIGKILL)\n"
            "    except Exception:\n        pass\n" + ZEROS
        ),
        "tamper",
    ),
    "forge-sibling-channel": (
        with_conv2d(
            "import os\nfor pid in range(1, 64):\n"
            "    try:\n        os.write(os.open(f'/proc/{pid}/fd/1', os.O_WRONLY), b'\\0' * 8)\n"
            "    except OSError:\n        pass\n" + ZEROS
        ),
        "tamper",
    ),
    "rename-over-submission": (
        with_conv2d(
            "open('evil.ipynb', 'w').write('{}')\nimport os\n"
            "os.rename('evil.ipynb', os.environ.get('COURSE', '/x') + "
            f"'/submitted/bystander/{CHAPTER}/{CHAPTER}.ipynb')\n" + ZEROS
        ),
        "tamper",
    ),
    "channel-bad-step": (
        with_conv2d(
            KERNEL + "k.wire.send(k._Kernel.fd, {'event': 'start', 'step': 'x'})\n" + ZEROS
        ),
        "tamper",
    ),
    "channel-deep-json": (
        with_conv2d(
            KERNEL + "import os, struct\nbody = b'[' * 200000 + b']' * 200000\n"
            "os.write(k._Kernel.fd, struct.pack('!Q', len(body)) + body)\n" + ZEROS
        ),
        "tamper",
    ),
    "channel-forged-report": (
        with_conv2d(
            KERNEL
            + "k.wire.send(k._Kernel.fd, {'event': 'report', 'name': 'conv2d', 'hidden': True,"
            " 'step': k._Kernel.step, 'outcomes': 'all passed'})\n" + ZEROS
        ),
        "tamper",
    ),
    "scipy": (
        with_conv2d("import scipy.signal\nreturn scipy.signal.correlate(input, weight)"),
        "other-library",
    ),
    "autograder-import": (
        with_conv2d("import autograder.checks.conv as c\n" + ZEROS),
        "other-library",
    ),
}


def _grade_id_list():
    nb = _nb()
    nbcell.find(nb, "conv2d")["metadata"]["nbgrader"]["grade_id"] = ["conv2d"]
    return nb


def _outputs_not_list():
    nb = _nb()
    nbcell.find(nb, "pad")["outputs"] = {"not": "a list"}
    return nb


def _surrogate_text() -> bytes:
    text = json.dumps(_nb())
    return text.replace('"cells": [', '"cells": [{"cell_type": "markdown", "metadata": {}, '
                        '"source": "lone \\ud800 surrogate"}, ', 1).encode()


# name -> (file bytes, whether full marks are expected: None where either is fair)
STOPPERS = {
    "grade-id-list": (json.dumps(_grade_id_list()).encode(), None),
    "outputs-not-list": (json.dumps(_outputs_not_list()).encode(), True),
    "huge-int": (
        json.dumps(_nb()).replace('"nbformat": 4', '"nbformat": 4, "x": ' + "9" * 5000, 1).encode(),
        True,
    ),
    "deep-json": (b'{"cells": [], "metadata": ' + b"[" * 100000 + b"]" * 100000 + b"}", False),
    "lone-surrogate": (_surrogate_text(), True),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("redteam")
    sub = root / "submitted"
    _write(sub / "bystander" / CHAPTER, "bystander", _nb())
    for name, (nb, _) in ATTACKS.items():
        _write(sub / f"attack-{name}" / CHAPTER, name, nb)
    for name, (data, _) in STOPPERS.items():
        _write(sub / f"stopper-{name}" / CHAPTER, name, data)
    result = run_grade(root, "--no-feedback")
    assert result.returncode == 0, result.stderr[-3000:]
    return (root, *read_grades(root), result)


def test_the_first_line_says_how_kernels_are_isolated(graded):
    assert graded[3].stderr.splitlines()[0].startswith("kernels: bubblewrap sandbox")


def test_the_bystander_keeps_full_marks(graded):
    root, grades, _, _ = graded
    row = grades["bystander"]
    assert row["score"] == row["max_score"] and row["flags"] == "", row
    assert json.loads((root / "submitted" / "bystander" / CHAPTER / f"{CHAPTER}.ipynb").read_text())


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attack_earns_nothing_and_is_named(graded, attack):
    _, grades, exercises, _ = graded
    student = f"attack-{attack}"
    assert exercises[student][ATTACKED] == 0, grades[student]
    assert exercises[student][HONEST] > 0, f"honest work lost its points: {grades[student]}"
    flag = ATTACKS[attack][1]
    if flag:
        assert flag in grades[student]["flags"].split(), grades[student]


@pytest.mark.parametrize("name", sorted(STOPPERS))
def test_a_batch_stopper_is_graded_with_its_reason(graded, name):
    _, grades, _, _ = graded
    row = grades[f"stopper-{name}"]
    assert "malformed" in row["flags"].split() and row["note"].strip(), row
    full = STOPPERS[name][1]
    if full is not None:
        assert (row["score"] == row["max_score"]) == full, row


def test_no_file_of_the_course_was_touched(graded):
    root, _, _, _ = graded
    assert not (course.COURSE_ROOT / "gradebook.db").exists() or \
        b"x\n" != (course.COURSE_ROOT / "gradebook.db").read_bytes()[:2]
    assert (root / "gradebook.db").read_bytes()[:15] == b"SQLite format 3"
