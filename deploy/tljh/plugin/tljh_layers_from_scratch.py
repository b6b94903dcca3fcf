"""TLJH's installer hooks for the course: its packages, nbgrader's exchange, bubblewrap.

The course repository (a private copy: it holds the answers) is cloned to COURSE before
the install; this plugin installs its exact pins into the students' environment, with
torch from the CPU wheel index, and makes the folder nbgrader's exchange lives in.
"""
import os
import re
import subprocess
from pathlib import Path

import pluggy

# The same marker as tljh.hooks.hookimpl; taking it from pluggy keeps this module
# importable (and testable) without TLJH.
hookimpl = pluggy.HookimplMarker("tljh")

COURSE = Path(os.environ.get("LFS_COURSE_DIR", "/srv/layers-from-scratch"))
USER_PYTHON = "/opt/tljh/user/bin/python"
EXCHANGE = "/srv/nbgrader/exchange"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def torch_pin(requirements: Path) -> str:
    """requirements.txt's torch line: the one pin installed from another index."""
    for line in requirements.read_text(encoding="utf-8").splitlines():
        if re.fullmatch(r"torch==[0-9][0-9A-Za-z.+]*", line.split("#")[0].strip()):
            return line.split("#")[0].strip()
    raise ValueError(f"{requirements}: no exact torch pin")


def pip_commands(course: Path = COURSE, python: str = USER_PYTHON) -> list[list[str]]:
    requirements = course / "requirements.txt"
    return [
        [python, "-m", "pip", "install", "--no-cache-dir", torch_pin(requirements),
         "--index-url", TORCH_CPU_INDEX],
        [python, "-m", "pip", "install", "--no-cache-dir", "-r", str(requirements)],
    ]


def nbgrader_site_config(exchange: str = EXCHANGE) -> str:
    return ('"""nbgrader for every user of this hub: the shared exchange folder."""\n'
            "c = get_config()  # noqa: F821\n"
            f"c.Exchange.root = {exchange!r}\n")


@hookimpl
def tljh_extra_apt_packages():
    # bubblewrap: the grader's sandbox; git and make: the course's own commands.
    return ["bubblewrap", "git", "make"]


@hookimpl
def tljh_post_install():
    for command in pip_commands():
        subprocess.check_call(command)
    # Every user writes into the exchange (nbgrader's file-system exchange needs it);
    # the sticky bit keeps one student from deleting another's submission.
    os.makedirs(EXCHANGE, exist_ok=True)
    os.chmod(EXCHANGE, 0o1777)
    site = Path("/opt/tljh/user/etc/jupyter/nbgrader_config.py")
    site.parent.mkdir(parents=True, exist_ok=True)
    site.write_text(nbgrader_site_config(), encoding="utf-8")
