"""Every known bug the checks declare has a one-bug implementation here, and each of those
fails its check naming exactly that bug (by id, not by wording).

``tests/variants/<family>.py`` mirrors ``autograder/checks/<family>.py``: its
``catalogue()`` yields (exercise, one-bug function, bug id).
"""
import importlib
import pkgutil
from pathlib import Path

import pytest

from autograder import CheckFailed, check, exercise

VARIANT_DIR = Path(__file__).parent / "variants"
# Hints the judging itself gives, whatever the family (a float64 answer to float32 input).
SHARED_IDS = {"upcast-to-float64"}


def _families():
    return [
        info.name for info in sorted(pkgutil.iter_modules([str(VARIANT_DIR)]), key=lambda m: m.name)
    ]


def _module(family):
    return importlib.import_module(f"variants.{family}")


def _catalogue():
    for family in _families():
        for name, fn, bug in _module(family).catalogue():
            yield pytest.param(family, name, fn, bug, id=f"{family}:{name}:{fn.__name__}")


def _declared(family) -> dict:
    """bug id -> the exercises of ``family`` that declare it."""
    exercise.load_families()
    declared = {}
    for ex in exercise._REGISTRY.values():
        if ex.family == family:
            for bug in ex.bugs:
                declared.setdefault(bug.id, set()).add(ex.name)
    return declared


@pytest.mark.parametrize("family, name, wrong, bug", list(_catalogue()))
def test_wrong_variant_fails_naming_its_bug(family, name, wrong, bug):
    with pytest.raises(CheckFailed) as failure:
        check(name, wrong)
        check(name, wrong, hidden=True)
    assert failure.value.bug_id == bug, str(failure.value)


@pytest.mark.parametrize("family", _families())
def test_every_declared_bug_has_a_one_bug_implementation(family):
    module = _module(family)
    implemented = {bug for _, _, bug in module.catalogue()}
    declared = _declared(family)
    missing = sorted(set(declared) - implemented)
    assert not missing, f"{family}: declared bugs without a one-bug implementation: {missing}"
    unknown = sorted(implemented - set(declared) - SHARED_IDS)
    assert not unknown, f"{family}: catalogue names bugs no check declares: {unknown}"


def test_a_bug_id_has_one_wording_across_the_book():
    exercise.load_families()
    wordings = {}
    for ex in exercise._REGISTRY.values():
        for bug in ex.bugs:
            wordings.setdefault(bug.id, set()).add(bug.hint)
    assert not {i: w for i, w in wordings.items() if len(w) > 1}
