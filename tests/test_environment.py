"""The set-up paths agree: conda/Binder, pip, the Makefile and the README's commands."""

import re
import sys

import yaml

from autograder.paths import COURSE_ROOT


def test_environment_yml_installs_the_same_pins_as_pip():
    env = yaml.safe_load((COURSE_ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    python = next(d for d in deps if isinstance(d, str) and d.startswith("python="))
    assert python == f"python={sys.version_info.major}.{sys.version_info.minor}"
    assert "pip" in deps
    pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    assert "-r requirements.txt" in pip


def test_requirements_are_exact_pins_with_torch_pinned():
    lines = [line.split("#")[0].strip() for line in
             (COURSE_ROOT / "requirements.txt").read_text().splitlines()]
    pins = [line for line in lines if line]
    assert pins and all(
        re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][0-9A-Za-z.+]*", p) for p in pins
    ), pins
    assert "torch==2.13.0" in pins


def test_readme_names_the_commands_the_makefile_has():
    readme = (COURSE_ROOT / "README.md").read_text()
    makefile = (COURSE_ROOT / "Makefile").read_text()
    for target in ("lab", "test", "release", "grade", "bench", "bench-grade", "book", "hub"):
        assert re.search(rf"^{re.escape(target)}:", makefile, re.M), target
        assert f"make {target}" in readme, target
    ci = (COURSE_ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
