"""Every catalogued wrong variant fails its check, with the hint it should earn."""
import importlib
import pkgutil
from pathlib import Path

import pytest

from autograder import CheckFailed, check

VARIANT_DIR = Path(__file__).parent / "variants"


def _catalogue():
    for info in sorted(pkgutil.iter_modules([str(VARIANT_DIR)]), key=lambda m: m.name):
        module = importlib.import_module(f"variants.{info.name}")
        for exercise, fn, hint in module.catalogue():
            yield pytest.param(exercise, fn, hint, id=f"{info.name}:{exercise}:{fn.__name__}")


@pytest.mark.parametrize("exercise, wrong, hint", list(_catalogue()))
def test_wrong_variant_fails_with_its_hint(exercise, wrong, hint, capsys):
    with pytest.raises(CheckFailed) as failure:
        check(exercise, wrong)
        check(exercise, wrong, hidden=True)
    assert hint in str(failure.value), str(failure.value)
