"""``make bench-grade``: the fast grader against plain nbgrader on one synthetic class.

A seeded class (``--students`` students x three chapters) of correct notebooks (the
solutions/ notebook), wrong ones (one answer with a plausible bug), stubs (the notebooks/
release) and hostile ones (torch behind ``exec``, a patched comparison or ``np.allclose``
beside a wrong answer, an infinite loop) is written twice, into two fresh course roots:

- the fast grader grades one: ``python -m autograder grade --root A --seed S --jobs J``
  (a fresh bubblewrap-sandboxed kernel per notebook, started one ahead, and a judge with torch);
- plain nbgrader (the course's configuration less the trusted grader) grades the other:
  the assignments are generated into the gradebook (``generate_assignment``), then
  ``autograde`` runs once per notebook, one fresh kernel each, with ``AUTOGRADER_SEED=S`` so
  that the test cells'
  hidden checks draw the same cases.

It prints notebooks graded, wall seconds and notebooks per second for each, the speed
ratio, and whether every (student, assignment) score agrees — nbgrader's scores from its
gradebook, the fast grader's from grades.csv. A disagreement on a submission the fast
grader flagged, where nbgrader gave more, is nbgrader being fooled and is listed apart;
any other disagreement is a real one. Exits 1 on a real disagreement or a grading error.

Before all that, the cluster figures (``bench_cluster``): the same grader on a local Dask
cluster of 1 and then 2 worker processes, CPU seconds per notebook by chapter, and the
rate at which the one writing process records verdicts into the gradebook.
"""
from __future__ import annotations

import csv
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import course, nbcell

CHAPTERS = ("01_convolution", "05_pooling", "09_layer_rms_norm")
FAST_FLAGS = ("torch-used", "tamper", "other-library")  # what the fast grader says when attacked


def _torch_answer(signature: str, call: str, prelude: str = "") -> str:
    """An answer that calls torch through ``exec``: the quick in-kernel guard misses it."""
    return (
        f"\n\n{signature}\n"
        "    scope = {}\n"
        "    exec('import torch', scope)\n"
        "    F = scope['torch'].nn.functional\n"
        "    t = lambda a: None if a is None else "
        "scope['torch'].from_numpy(np.ascontiguousarray(a))\n"
        f"{prelude}"
        "    try:\n"
        f"        out = {call}\n"
        "    except RuntimeError as err:\n"
        "        raise ValueError(str(err)) from None\n"
        "    return tuple(o.numpy() for o in out) if isinstance(out, tuple) else out.numpy()\n"
    )


def _loop_answer(signature: str) -> str:
    return f"\n\n{signature}\n    while True:\n        pass\n"


# chapter -> the plausible bugs (name -> (answer cell, text, replacement)), the answer a
# hostile student writes with torch, and the answer an infinite loop replaces.
SPEC = {
    "01_convolution": {
        "wrong": {
            "flipped-kernel": (
                "conv2d",
                "return _conv_nd(2, input, weight, bias",
                "return _conv_nd(2, input, weight[..., ::-1, ::-1], bias",
            ),
            "loop-drops-bias": ("conv2d_loop", "out[b, o] += bias[o]", "pass"),
        },
        "torch": (
            "conv2d",
            _torch_answer(
                "def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):",
                "F.conv2d(t(input), t(weight), t(bias), stride, padding, dilation, groups)",
            ),
        ),
        "loop": (
            "conv2d_loop",
            _loop_answer(
                "def conv2d_loop(input, weight, bias=None, stride=1, padding=0, dilation=1, "
                "groups=1):"
            ),
        ),
    },
    "05_pooling": {
        "wrong": {
            "count-include-pad-ignored": (
                "avg_pool",
                "count = end - start if count_include_pad else",
                "count = end - start if True else",
            ),
            "lp-pool2d-mean-not-sum": (
                "lp_pool",
                "* (kh * kw)) ** (1.0 / norm_type)",
                ") ** (1.0 / norm_type)",
            ),
        },
        "torch": (
            "avg_pool",
            _torch_answer(
                "def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,\n"
                "               count_include_pad=True, divisor_override=None):",
                "F.avg_pool2d(t(input), kernel_size, stride, padding, ceil_mode, "
                "count_include_pad, "
                "divisor_override)",
            ),
        ),
        "loop": (
            "max_pool2d_loop",
            _loop_answer(
                "def max_pool2d_loop(input, kernel_size, stride=None, padding=0, dilation=1, "
                "ceil_mode=False,\n                    return_indices=False):"
            ),
        ),
    },
    "09_layer_rms_norm": {
        "wrong": {
            "unbiased-variance": (
                "layer_norm",
                'var = np.einsum("ri,ri->r", out, out) / m',
                'var = np.einsum("ri,ri->r", out, out) / (m - 1)',
            ),
            "eps-outside-sqrt": ("layer_norm", "np.sqrt(var + eps)", "(np.sqrt(var) + eps)"),
        },
        "torch": (
            "layer_norm",
            _torch_answer(
                "def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):",
                "F.layer_norm(t(input), shape, t(weight), t(bias), eps)",
                "    shape = [int(normalized_shape)] if np.isscalar(normalized_shape) "
                "else [int(s) for s in normalized_shape]\n",
            ),
        ),
        "loop": (
            "rms_norm",
            _loop_answer("def rms_norm(input, normalized_shape, weight=None, eps=None):"),
        ),
    },
}

ALLCLOSE_PATCH = ("import numpy as np\nnp.allclose = lambda *a, **k: True\n"
                  "np.testing.assert_allclose = lambda *a, **k: None\n\n")
COMPARE_PATCH = "import autograder.compare as _compare\n_compare.compare = lambda *a, **k: None\n\n"
HOSTILE = ("torch-exec", "patch-compare+wrong", "patch-allclose+wrong", "infinite-loop")


# Building the class -------------------------------------------------------------------

def _edit(nb: dict, grade_id: str, old: str, new: str, prelude: str = "") -> None:
    cell = nbcell.find(nb, grade_id)
    text = nbcell.source(cell)
    if text.count(old) != 1:
        raise SystemExit(f"bench-grade: {grade_id!r} no longer contains {old!r} once: update SPEC")
    cell["source"] = prelude + text.replace(old, new)


def _holding(nbs: dict, grade_id: str) -> dict:
    """The notebook (part) of an assignment that holds the cell ``grade_id``."""
    return next(nb for nb in nbs.values()
                if any(c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id
                       for c in nb["cells"]))


def make_notebook(chapter: str, kind: str, rng: random.Random) -> tuple[dict, str]:
    """({notebook name: notebook}, description) of one submission of ``kind``: a student
    submits every part of the assignment; a bug or an attack sits in the part it edits."""
    spec = SPEC[chapter]
    names = course.notebooks(chapter)
    if kind == "stub":
        return {n: nbcell.read(course.NOTEBOOKS / chapter / f"{n}.ipynb") for n in names}, "stub"
    nbs = {n: nbcell.read(course.source_notebook(chapter, n)) for n in names}
    if kind == "correct":
        return nbs, "correct"
    bug = rng.choice(sorted(spec["wrong"]))
    if kind == "wrong":
        _edit(_holding(nbs, spec["wrong"][bug][0]), *spec["wrong"][bug])
        return nbs, f"wrong ({bug})"
    if kind == "patch-allclose+wrong":
        _edit(_holding(nbs, spec["wrong"][bug][0]), *spec["wrong"][bug], prelude=ALLCLOSE_PATCH)
        return nbs, f"hostile (np.allclose patched, {bug})"
    if kind == "patch-compare+wrong":
        _edit(_holding(nbs, spec["wrong"][bug][0]), *spec["wrong"][bug], prelude=COMPARE_PATCH)
        return nbs, f"hostile (autograder.compare patched, {bug})"
    if kind == "torch-exec":
        grade_id, answer = spec["torch"]
        cell = nbcell.find(_holding(nbs, grade_id), grade_id)
        cell["source"] = nbcell.source(cell) + answer
        return nbs, f"hostile (torch through exec in {grade_id})"
    if kind == "infinite-loop":
        grade_id, answer = spec["loop"]
        cell = nbcell.find(_holding(nbs, grade_id), grade_id)
        cell["source"] = nbcell.source(cell) + answer
        return nbs, f"hostile (infinite loop in {grade_id})"
    raise ValueError(kind)


def plan_class(students: int, seed: int, loops: int) -> dict:
    """(student, chapter) -> kind: a seeded mix; every hostile kind at least once."""
    rng = random.Random(seed)
    slots = [(f"student{i:02d}", c) for i in range(1, students + 1) for c in CHAPTERS]
    rng.shuffle(slots)
    kinds = {}
    hostile = max(len(HOSTILE), round(0.15 * len(slots)))
    pool = [h for h in HOSTILE if h != "infinite-loop"]
    for i, slot in enumerate(slots[:hostile]):
        kinds[slot] = "infinite-loop" if i < loops else pool[i % len(pool)]
    for slot in slots[hostile:]:
        kinds[slot] = rng.choices(["correct", "wrong", "stub"], weights=[5, 3, 2])[0]
    return dict(sorted(kinds.items()))


def write_class(kinds: dict, seed: int, roots) -> dict:
    """Write each submission into every root's submitted/; returns (student, chapter) ->
    description."""
    rng = random.Random(seed + 1)
    described = {}
    for (student, chapter), kind in kinds.items():
        nbs, described[(student, chapter)] = make_notebook(chapter, kind, rng)
        for name, nb in nbs.items():
            text = json.dumps(nb, indent=1, ensure_ascii=False)
            for root in roots:
                folder = root / "submitted" / student / chapter
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f"{name}.ipynb").write_text(text, encoding="utf-8")
    return described


# The two graders ----------------------------------------------------------------------

def run_fast(root: Path, seed: int, jobs: int) -> tuple[float, float, str]:
    """(wall seconds, of which the feedback HTML, summary line) of one ``grade`` run."""
    cmd = [sys.executable, "-m", "autograder", "grade", "--root", str(root), "--seed", str(seed),
           "--jobs", str(jobs), *[a for c in CHAPTERS for a in ("--assignment", c)]]
    began = time.monotonic()
    result = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.monotonic() - began
    (root / "grade.log").write_text(result.stderr, encoding="utf-8")
    if result.returncode != 0:
        raise SystemExit(f"the fast grader failed ({result.returncode}):\n{result.stderr[-3000:]}")
    found = re.search(r"^feedback written in ([0-9.]+) s", result.stderr, re.M)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    return seconds, float(found.group(1)) if found else 0.0, summary


def plain_autograde():
    """nbgrader's own Autograde (its Execute step, a plain kernel), which the course's
    nbgrader_config.py replaces with the trusted grader: the side this benchmark measures."""
    from nbconvert.exporters import NotebookExporter
    from nbgrader.converters import Autograde
    from traitlets.config import Config

    config = Config()
    config.Autograde.autograde_preprocessors = list(Autograde().autograde_preprocessors)
    config.Autograde.exporter_class = NotebookExporter
    config.Autograde.pre_convert_hook = None
    return config


def run_nbgrader(
    root: Path, seed: int, kinds: dict, release: Path
) -> tuple[float, float, float, list]:
    """Plain nbgrader: generate the assignments, autograde one notebook at a time, feedback.

    Returns the seconds of the set-up, of autograde, of generate_feedback, and the errors.
    """
    for chapter in CHAPTERS:
        shutil.copytree(course.SOLUTIONS / chapter, root / "solutions" / chapter,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    os.environ["AUTOGRADER_SEED"] = str(seed)  # the kernels inherit it: hidden checks use it
    api = course.nbgrader_api(root=str(root), db_url=f"sqlite:///{root}/gradebook.db",
                              release_directory=str(release))
    api.update_config(plain_autograde())
    began = time.monotonic()
    for chapter in CHAPTERS:
        result = api.generate_assignment(chapter, force=True)
        if not result["success"]:
            raise SystemExit(
                f"generate_assignment {chapter} failed:\n{result.get('log', '')[-2000:]}"
                f"\n{result.get('error', '')}"
            )
    setup = time.monotonic() - began
    errors, began = [], time.monotonic()
    for n, (student, chapter) in enumerate(kinds, 1):
        one = time.monotonic()
        result = api.autograde(chapter, student, force=True)
        if not result["success"]:
            errors.append(
                f"{student}/{chapter}: {(result.get('error') or result.get('log', ''))[-500:]}"
            )
        print(f"nbgrader {n}/{len(kinds)} {student}/{chapter} {time.monotonic() - one:.1f} s"
              f"{'' if result['success'] else ' FAILED'}", file=sys.stderr, flush=True)
    grading, began = time.monotonic() - began, time.monotonic()
    for chapter in CHAPTERS:
        result = api.generate_feedback(chapter, force=True)
        if not result["success"]:
            errors.append(
                f"feedback {chapter}: {(result.get('error') or result.get('log', ''))[-500:]}"
            )
    return setup, grading, time.monotonic() - began, errors


def nbgrader_scores(root: Path, kinds: dict) -> tuple[dict, dict]:
    """(student, chapter) -> score, and -> {grade cell: score}, from nbgrader's gradebook."""
    import warnings

    from nbgrader.api import Gradebook

    warnings.filterwarnings("ignore", message=".*not in session.*")
    totals, cells = {}, {}
    with Gradebook(f"sqlite:///{root}/gradebook.db", "layers-from-scratch") as gb:
        for student, chapter in kinds:
            try:
                sub = gb.find_submission(chapter, student)
            except Exception:  # noqa: BLE001 - MissingEntry: autograde did not record it
                continue
            totals[(student, chapter)] = float(sub.score)
            cells[(student, chapter)] = {
                g.name: float(g.score) for nb in sub.notebooks for g in nb.grades
            }
    return totals, cells


def fast_scores(root: Path) -> tuple[dict, dict, dict]:
    """(student, chapter) -> score, -> {exercise: points}, -> (flags, note), from the CSVs."""
    totals, cells, flags = {}, {}, {}
    with open(root / "grades.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            key = (row["student"], row["assignment"])
            totals[key] = float(row["score"])
            flags[key] = (row["flags"], row["note"])
    with open(root / "grades_by_exercise.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            cells.setdefault((row["student"], row["assignment"]), {})[row["exercise"]] = float(
                row["points"]
            )
    return totals, cells, flags


# The run ------------------------------------------------------------------------------

def main(args) -> int:
    seed = args.seed
    kinds = plan_class(args.students, seed, args.loops)
    tmp = Path(tempfile.mkdtemp(prefix="lfs-bench-grade-", dir=args.workdir))
    fast_root, nb_root, release = tmp / "fast", tmp / "nbgrader", tmp / "release"
    try:
        described = write_class(kinds, seed, [fast_root, nb_root])
        mix = {}
        for kind in kinds.values():
            mix[kind] = mix.get(kind, 0) + 1
        print(
            f"class: {args.students} students x {len(CHAPTERS)} chapters = "
            f"{len(kinds)} submissions, "
            f"{sum(len(course.notebooks(c)) for _, c in kinds)} notebooks "
            f"({', '.join(f'{n} {k}' for k, n in sorted(mix.items()))}); seed {seed}; in {tmp}",
            flush=True,
        )

        if args.cluster_students:
            from . import bench_cluster

            bench_cluster.main(seed, args.cluster_students, CHAPTERS, tmp, plan_class, write_class)
        print(
            f"fast grader: python -m autograder grade --seed {seed} --jobs {args.jobs} ...",
            flush=True,
        )
        fast_seconds, feedback_seconds, fast_summary = run_fast(fast_root, seed, args.jobs)
        print(f"  {fast_summary}", flush=True)
        print("plain nbgrader: generate_assignment, then autograde per notebook "
              f"(AUTOGRADER_SEED={seed}, one fresh kernel each) ...", flush=True)
        setup, nb_seconds, nb_feedback, errors = run_nbgrader(nb_root, seed, kinds, release)

        nb_total, nb_cells = nbgrader_scores(nb_root, kinds)
        fast_total, fast_cells, fast_flags = fast_scores(fast_root)
        fooled, real, agree = [], [], 0
        for key, what in described.items():
            student, chapter = key
            label = f"{student}/{chapter} [{what}]"
            if key not in fast_total or key not in nb_total:
                real.append(f"{label}: no score from "
                            f"{'the fast grader' if key not in fast_total else 'nbgrader'}")
                continue
            a, b = fast_total[key], nb_total[key]
            flags, note = fast_flags[key]
            if a == b:
                agree += 1
                continue
            differ = [f"{ex} fast {fast_cells.get(key, {}).get(ex, '?'):g} / nbgrader {p:g}"
                      for ex, p in sorted(nb_cells.get(key, {}).items())
                      if fast_cells.get(key, {}).get(ex) != p]
            line = f"{label}: fast {a:g}, nbgrader {b:g} — {'; '.join(differ)}"
            if b > a and any(f in flags.split() for f in FAST_FLAGS):
                fooled.append(f"{line}\n      fast grader flags: {flags}: {note[:300]}")
            else:
                real.append(f"{line}\n      fast grader flags: {flags or '-'}: {note[:300]}")

        n = sum(len(course.notebooks(c)) for _, c in kinds)  # a chapter in parts: one notebook each
        print()
        print(f"notebooks graded: {n} ({len(fast_total)} rows in grades.csv, "
              f"{len(nb_total)} submissions in nbgrader's gradebook)")
        # Grading: the fast grader's run without its feedback step, against nbgrader's
        # autograde. Both then write the feedback HTML with nbgrader's generate_feedback.
        fast_grading = fast_seconds - feedback_seconds
        nb_all = nb_seconds + nb_feedback
        print(
            f"fast grader, grading:    {fast_grading:7.1f} s wall  "
            f"{n / fast_grading:6.2f} notebooks/s "
            f"(--jobs {args.jobs}: process start, gradebook, autograded notebooks, grades.csv)"
        )
        print(
            f"plain nbgrader, grading: {nb_seconds:7.1f} s wall  {n / nb_seconds:6.2f} notebooks/s "
            f"(autograde, a fresh kernel per notebook; generate_assignment took {setup:.1f} s "
            "before)"
        )
        ratio = nb_seconds / fast_grading
        print(
            f"speed ratio, grading: {ratio:.1f}x "
            f"(target >= 5x: {'met' if ratio >= 5 else 'NOT met'})"
        )
        print(f"with the feedback HTML too: fast {fast_seconds:.1f} s ({n / fast_seconds:.2f}/s, "
              f"feedback {feedback_seconds:.1f} s), nbgrader {nb_all:.1f} s ({n / nb_all:.2f}/s, "
              f"feedback {nb_feedback:.1f} s): {nb_all / fast_seconds:.1f}x")
        print(
            f"scores agree on {agree} of {len(described)} (student, assignment); "
            f"nbgrader fooled on {len(fooled)}, "
            f"real disagreements {len(real)}"
        )
        if fooled:
            print(
                "nbgrader fooled (an attack the fast grader flagged, where nbgrader gave more; the "
                "fast grader also takes the points of every exercise of the attacking cell):"
            )
            for line in fooled:
                print(f"  {line}")
        if real:
            print("REAL DISAGREEMENTS:")
            for line in real:
                print(f"  {line}")
        flagged = [(k, fast_flags[k]) for k in kinds if k in fast_flags and fast_flags[k][0]]
        print(f"fast grader flags ({len(flagged)} submissions):")
        for (student, chapter), (flags, note) in flagged:
            print(f"  {student}/{chapter} [{described[(student, chapter)]}]: {flags}: {note[:200]}")
        for error in errors:
            print(f"nbgrader autograde error: {error}")
        return 1 if real or errors else 0
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def add_arguments(parser) -> None:
    parser.add_argument(
        "--students", type=int, default=20, help="students in the class (x 3 chapters)"
    )
    parser.add_argument(
        "--seed", type=int, default=2026, help="seed of the class and of the hidden cases"
    )
    parser.add_argument("--jobs", type=int, default=2, help="the fast grader's --jobs")
    parser.add_argument("--loops", type=int, default=2,
                        help="submissions with an infinite loop (each costs 30 s on both sides)")
    parser.add_argument("--workdir", default=None, help="where the temporary course roots go")
    parser.add_argument("--cluster-students", type=int, default=67,
                        help="students (x 3 chapters) of the class graded on a local Dask cluster "
                             "with 1 and 2 workers; 0 skips the cluster figures")
    parser.add_argument("--keep", action="store_true", help="keep the course roots")
