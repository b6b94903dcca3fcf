"""A record names the checks it was graded with; a changed check regrades what it affects."""
from __future__ import annotations

from autograder import fingerprint, grading, paths, records
from autograder.node import Verdict

SOURCES = grading.load_sources(paths.COURSE_ROOT / "solutions", None)
SPECS = {n: s.for_grading() for notebooks in SOURCES.values() for n, s in notebooks.items()}


def _families(name):
    checks = {c for _, _, calls in SPECS[name].tests.values() for c, _ in calls}
    return {path.name for path in fingerprint.family_files(checks)}


def test_a_notebook_depends_on_the_families_it_checks_and_no_other():
    assert _families("01_convolution") == {"conv.py", "_shapes.py", "_modules.py"}
    assert "conv.py" in _families("02_groups_dilation")  # groups draws on conv's helpers
    assert "pool_max.py" in _families("05a_max_pooling")
    assert "pool_avg.py" not in _families("05a_max_pooling")
    assert not {"pool_max.py", "_pooling.py"} & _families("01_convolution")


def test_every_graded_notebook_has_a_fingerprint_of_its_own():
    graded = {name: fingerprint.notebook(spec) for name, spec in SPECS.items() if spec.tests}
    assert len(set(graded.values())) == len(graded)


def test_the_machinery_excludes_what_never_grades():
    names = {path.name for path in fingerprint.machinery_files()}
    assert {"grading.py", "kernel.py", "zygote.py", "compare.py", "__init__.py"} <= names
    assert not names & {"bench.py", "similarity.py", "conv.py", "pool_max.py"}


def test_a_record_made_with_other_checks_is_graded_again(tmp_path):
    verdict = Verdict("ada", "01_convolution", "01_convolution", {"t": 1}, {"t": 1}, {}, [], 7, "d")
    mine = fingerprint.notebook(SPECS["01_convolution"])
    records.write_record(tmp_path, verdict, mine)
    assert records.already_graded(tmp_path, "ada", "01_convolution", "01_convolution", "d", 7, mine)
    assert not records.already_graded(tmp_path, "ada", "01_convolution", "01_convolution", "d", 7,
                                      fingerprint.notebook(SPECS["05a_max_pooling"]))
