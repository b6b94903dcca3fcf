"""`make grade` end to end on a synthetic class of chapter 01 submissions.

One grading run serves every test here (a run forks one kernel per notebook): the stub,
the solution, broken notebooks, and a red team — one submission per attack, each attack
hidden in an otherwise correct notebook, so the proof is twofold: the attacked exercise
earns nothing and is flagged, and the honest exercises beside it keep their points.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder import course, nbcell

CHAPTER = "01_convolution"
SOURCE = course.source_notebook(CHAPTER)
RELEASED = course.NOTEBOOKS / CHAPTER / f"{CHAPTER}.ipynb"
SEED = 4242
ATTACKED = "test_conv2d"
HONEST = "test_pad"  # an exercise no attack touches: must keep its points

CONV2D_SIG = "def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):\n"


def _nb(path=SOURCE) -> dict:
    return nbcell.read(path)


def with_conv2d(body: str, prelude: str = "") -> dict:
    """The solution notebook with conv2d replaced by an attack (the rest stays correct)."""
    nb = _nb()
    cell = nbcell.find(nb, "conv2d")
    helpers = nbcell.source(cell).split("def conv2d(")[0]
    cell["source"] = (
        prelude + helpers + CONV2D_SIG + "".join(f"    {line}\n" for line in body.splitlines())
    )
    return nb


def add_cell(nb: dict, source: str, after: str = "conv2d") -> dict:
    index = nb["cells"].index(nbcell.find(nb, after)) + 1
    nb["cells"].insert(index, {"cell_type": "code", "id": f"extra-{index}", "metadata": {},
                               "execution_count": None, "outputs": [], "source": source})
    return nb


TORCH_CALL = (
    "return torch.nn.functional.conv2d(torch.from_numpy(input), torch.from_numpy(weight)).numpy()"
)


def _edited_test():
    nb = _nb()
    nbcell.find(nb, ATTACKED)["source"] = '"""conv2d"""\npass\n'
    return nb


def _deleted_test():
    nb = _nb()
    nb["cells"].remove(nbcell.find(nb, ATTACKED))
    return nb


def _duplicated_test():
    nb = _nb()
    cell = nbcell.find(nb, ATTACKED)
    nb["cells"].insert(nb["cells"].index(cell), json.loads(json.dumps(cell)))
    return nb


def _retyped_test():
    nb = _nb()
    cell = nbcell.find(nb, ATTACKED)
    cell["metadata"] = {}
    cell["source"] = 'check("conv2d", conv2d)\n'
    return nb


# name -> (notebook, flag the report must show)
ATTACKS = {
    "torch-direct": (with_conv2d(TORCH_CALL, "import torch\n"), "torch-used"),
    "torch-importlib": (
        with_conv2d("torch = __import__('importlib').import_module('torch')\n" + TORCH_CALL),
        "torch-used",
    ),
    "torch-dunder-import": (
        with_conv2d("torch = __import__('torch')\n" + TORCH_CALL),
        "torch-used",
    ),
    "torch-sys-modules": (
        with_conv2d("import sys\ntorch = sys.modules['torch']\n" + TORCH_CALL),
        "torch-used",
    ),
    "torch-getattr": (
        with_conv2d(
            "torch = __import__('torch')\nF = getattr(getattr(torch, 'nn'), 'functional')\n"
            "return getattr(F, 'conv2d')(input, weight).numpy()"
        ),
        "torch-used",
    ),
    "torch-exec": (
        with_conv2d(
            "scope = {}\nexec('import torch.nn.functional as F', scope)\n"
            "return scope['F'].conv2d(input, weight).numpy()"
        ),
        "torch-used",
    ),
    "torch-reload": (
        with_conv2d(
            "import sys, importlib\nsys.modules.pop('torch', None)\n"
            "torch = importlib.import_module('torch')\n" + TORCH_CALL
        ),
        "torch-used",
    ),
    "subprocess": (
        with_conv2d(
            "import subprocess, sys\n"
            "subprocess.run([sys.executable, '-c', 'import torch'])\nreturn input"
        ),
        "tamper",
    ),
    "os-system": (with_conv2d("import os\nos.system('true')\nreturn input"), "tamper"),
    "fork-bomb": (with_conv2d("import os\nwhile True:\n    os.fork()"), "tamper"),
    "precomputed-arrays": (
        with_conv2d("import numpy as np\nreturn np.load('/tmp/answers.npy')"),
        "torch-used",
    ),
    "patch-allclose": (
        with_conv2d(
            "import numpy as np\nreturn np.zeros(1)",
            "import numpy as np\nnp.allclose = lambda *a, **k: True\n"
            "np.testing.assert_allclose = lambda *a, **k: None\n",
        ),
        "tamper",
    ),
    "patch-check": (
        with_conv2d(
            "return None",
            "import autograder, autograder.api\n"
            "autograder.api.check = autograder.check = lambda *a, **k: None\n",
        ),
        "other-library",
    ),
    "patch-assertionerror": (
        with_conv2d(
            "return None",
            "import builtins\nbuiltins.AssertionError = type('Quiet', (Exception,), {})\n",
        ),
        "tamper",
    ),
    "patch-compare": (
        with_conv2d(
            "return None", "import autograder.compare as c\nc.compare = lambda *a, **k: None\n"
        ),
        "other-library",
    ),
    "fake-passed-output": (
        with_conv2d("print('conv2d: all 4 visible cases match torch')\nreturn None"),
        "tamper",
    ),
    "sys-exit": (with_conv2d("import sys\nsys.exit(0)"), "tamper"),
    "os-exit": (with_conv2d("import os\nos._exit(0)"), "crashed"),
    "swallow-interrupt": (
        with_conv2d(
            "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"
        ),
        "tamper",
    ),
    "infinite-loop": (with_conv2d("while True:\n    pass"), "timeout"),
    "huge-allocation": (
        with_conv2d("import numpy as np\nreturn np.zeros((10**6, 10**6))"),
        "memory",
    ),
    "write-package": (
        with_conv2d(
            f"open({str(course.COURSE_ROOT / 'autograder' / 'api.py')!r}, 'a').write('#')\n"
            "return None"
        ),
        "tamper",
    ),
    "write-gradebook": (
        with_conv2d(
            "import os\nopen(os.path.join(os.environ.get('COURSE', '/'), "
            "'gradebook.db'), 'w')\nreturn None"
        ),
        "tamper",
    ),
    "read-solutions": (with_conv2d(f"src = open({str(SOURCE)!r}).read()\nreturn None"), "tamper"),
    "kill-grader": (
        with_conv2d("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nreturn None"),
        "tamper",
    ),
    "ctypes": (with_conv2d("import ctypes\nctypes.CDLL(None)\nreturn None"), "tamper"),
    "network": (
        with_conv2d("import socket\nsocket.create_connection(('127.0.0.1', 9))\nreturn None"),
        "tamper",
    ),
    "edited-test": (_edited_test(), "tamper"),
    "deleted-test": (_deleted_test(), "tamper"),
    "duplicated-test": (_duplicated_test(), "tamper"),
    "retyped-test": (_retyped_test(), "tamper"),
    "torch-in-answer-cell": (
        with_conv2d("return input", "import torch\nF = torch.nn.functional.conv2d\n"),
        "torch-used",
    ),
}

# name -> bytes or a callable that builds the submission folder
MALFORMED = {
    "invalid-json": b'{"cells": [',
    "empty-file": b"",
    "not-utf8": b'{"cells": [], "x": "\xff\xfe"}',
    "not-a-notebook": b'["just", "a", "list"]',
}


def _write(folder: Path, name: str, content) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{CHAPTER}.ipynb"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(json.dumps(content), encoding="utf-8")


def build_class(root: Path) -> None:
    sub = root / "submitted"
    _write(sub / "stub" / CHAPTER, "stub", _nb(RELEASED))
    _write(sub / "solution" / CHAPTER, "solution", _nb())
    loop = _nb()
    nbcell.find(loop, "conv2d_loop")["source"] = (
        CONV2D_SIG.replace("conv2d", "conv2d_loop") + "    while True:\n        pass\n"
    )
    _write(sub / "loop" / CHAPTER, "loop", loop)
    for name, content in MALFORMED.items():
        _write(sub / name / CHAPTER, name, content)
    (sub / "directory" / CHAPTER / f"{CHAPTER}.ipynb").mkdir(parents=True)
    renamed = sub / "renamed" / CHAPTER
    renamed.mkdir(parents=True)
    (renamed / "my copy.ipynb").write_text(json.dumps(_nb()), encoding="utf-8")
    kernel = _nb()
    kernel["metadata"]["kernelspec"] = {"name": "ir", "language": "R", "display_name": "R"}
    _write(sub / "kernelspec" / CHAPTER, "kernelspec", kernel)
    huge = _nb()
    nbcell.find(huge, "pad")["outputs"] = [
        {"output_type": "stream", "name": "stdout", "text": "x" * 3_000_000}
    ]
    nbcell.find(huge, "pad")["execution_count"] = 1
    _write(sub / "huge-outputs" / CHAPTER, "huge-outputs", huge)
    reordered = _nb()
    test = nbcell.find(reordered, "test_pad")
    reordered["cells"].remove(test)
    reordered["cells"].insert(1, test)
    _write(sub / "reordered" / CHAPTER, "reordered", reordered)
    for name, (nb, _) in ATTACKS.items():
        _write(sub / f"attack-{name}" / CHAPTER, name, nb)


def run_grade(root: Path, *extra, timeout=1500) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "autograder", "grade", "--root", str(root), "--seed", str(SEED),
           "--assignment", CHAPTER, "--jobs", "2", "--timeout", "12", *extra]
    env = dict(os.environ, COURSE=str(root))
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def read_grades(root: Path) -> tuple[dict, dict]:
    """grades.csv by student, and each student's points by exercise."""
    grades = {r["student"]: r for r in read_csv(root / "grades.csv")}
    exercises = {}
    for row in read_csv(root / "grades_by_exercise.csv"):
        exercises.setdefault(row["student"], {})[row["exercise"]] = float(row["points"])
    return grades, exercises


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    build_class(root)
    result = run_grade(root)
    assert result.returncode == 0, result.stderr[-3000:]
    return (root, *read_grades(root), result)


def test_stub_scores_zero_and_solution_full_marks(graded):
    _, grades, _, _ = graded
    assert float(grades["stub"]["score"]) == 0
    assert grades["solution"]["score"] == grades["solution"]["max_score"]
    assert grades["solution"]["flags"] == ""


def test_every_submission_gets_a_row(graded):
    _, grades, _, result = graded
    expected = {"stub", "solution", "loop", "directory", "renamed", "kernelspec", "huge-outputs",
                "reordered", *MALFORMED, *(f"attack-{a}" for a in ATTACKS)}
    assert expected <= set(grades), sorted(expected - set(grades))
    assert "could not be graded" in result.stdout


@pytest.mark.parametrize("name", sorted(MALFORMED) + ["directory"])
def test_malformed_submission_gets_zero_and_a_reason(graded, name):
    _, grades, _, _ = graded
    row = grades[name]
    assert float(row["score"]) == 0 and "malformed" in row["flags"], row
    assert row["note"].strip(), row


def test_infinite_loop_costs_only_its_exercise(graded):
    _, grades, exercises, _ = graded
    assert "timeout" in grades["loop"]["flags"]
    assert exercises["loop"]["test_conv2d_loop"] == 0
    assert exercises["loop"]["test_conv2d"] > 0 and exercises["loop"][HONEST] > 0


@pytest.mark.parametrize("name", ["renamed", "kernelspec", "huge-outputs", "reordered"])
def test_odd_but_honest_submissions_are_graded(graded, name):
    _, grades, _, _ = graded
    assert grades[name]["score"] == grades[name]["max_score"], grades[name]


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attack_earns_nothing_and_is_named(graded, attack):
    _, grades, exercises, _ = graded
    student = f"attack-{attack}"
    flag = ATTACKS[attack][1]
    assert exercises[student][ATTACKED] == 0, grades[student]
    assert flag in grades[student]["flags"].split(), grades[student]
    assert exercises[student][HONEST] > 0, f"honest work lost its points: {grades[student]}"


def test_nothing_outside_the_submission_was_written(graded):
    assert not (course.COURSE_ROOT / "autograder" / "api.py").read_text().endswith("#")


def test_feedback_shows_failures_without_hidden_test_source(graded):
    root, _, _, _ = graded
    html = (root / "feedback" / "attack-infinite-loop" / CHAPTER / f"{CHAPTER}.html").read_text()
    assert "hidden=True" not in html and "BEGIN HIDDEN TESTS" not in html
    assert "timeout" in html
    solution = (root / "feedback" / "solution" / CHAPTER / f"{CHAPTER}.html").read_text()
    assert "hidden" in solution and "cases match torch" in solution
    assert "All tests passed" not in solution


def test_grading_again_with_the_same_seed_changes_nothing(graded):
    root, grades, _, _ = graded
    result = run_grade(
        root, "--student", "solution", "--student", "stub", "--force", "--no-feedback"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    again = {r["student"]: r for r in read_csv(root / "grades.csv")}
    assert again["solution"] == grades["solution"] and again["stub"] == grades["stub"]


def test_a_killed_run_resumes_without_losing_or_duplicating(tmp_path):
    sub = tmp_path / "submitted"
    for i in range(4):
        _write(sub / f"s{i}" / CHAPTER, f"s{i}", _nb() if i % 2 else _nb(RELEASED))
    cmd = [sys.executable, "-m", "autograder", "grade", "--root", str(tmp_path), "--seed",
           str(SEED), "--assignment", CHAPTER, "--jobs", "1", "--no-feedback"]
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    records = tmp_path / "grading-runs" / "records"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and len(list(records.rglob("*.json"))) < 1:
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    done_before = len(list(records.rglob("*.json")))
    assert 1 <= done_before < 4
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"({done_before} already graded)" in result.stderr
    rows = read_csv(tmp_path / "grades.csv")
    assert sorted(r["student"] for r in rows) == ["s0", "s1", "s2", "s3"]
    for row in rows:
        full = int(row["student"][1:]) % 2 == 1
        assert (row["score"] == row["max_score"]) == full, row


def _points(chapter) -> int:
    cells = [c for name in course.notebooks(chapter)
             for c in _nb(course.source_notebook(chapter, name))["cells"]]
    return sum(c.get("metadata", {}).get("nbgrader", {}).get("points", 0) for c in cells
               if c.get("metadata", {}).get("nbgrader", {}).get("grade"))


@pytest.fixture(scope="module")
def every_chapter(tmp_path_factory):
    """The stub and the solution of every graded chapter, graded in one run."""
    root = tmp_path_factory.mktemp("every")
    chapters = [c for c in course.chapters() if _points(c) > 0]
    for chapter in chapters:
        for student, folder in (("stub", course.NOTEBOOKS), ("solution", course.SOLUTIONS)):
            target = root / "submitted" / student / chapter
            target.mkdir(parents=True)
            for name in course.notebooks(chapter):
                shutil.copy(folder / chapter / f"{name}.ipynb", target)
    cmd = [sys.executable, "-m", "autograder", "grade", "--root", str(root), "--seed", str(SEED),
           "--jobs", "2", "--no-feedback"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=1500)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {(r["student"], r["assignment"]): r for r in read_csv(root / "grades.csv")}
    return chapters, rows


def test_every_chapter_stub_scores_zero_and_solution_full_marks(every_chapter):
    chapters, rows = every_chapter
    assert len(chapters) >= 13
    for chapter in chapters:
        stub, solution = rows[("stub", chapter)], rows[("solution", chapter)]
        assert float(stub["score"]) == 0, stub
        assert solution["score"] == solution["max_score"] and float(solution["max_score"]) > 0, (
            solution
        )
        assert solution["flags"] == "", solution
