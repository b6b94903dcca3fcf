"""The three submissions of the hub tests: correct, torch through a side door, not JSON."""
from __future__ import annotations

import base64
import json

from autograder import course, nbcell

CHAPTER = "01_convolution"
# Local users of the hub test (created and removed by it); ids in the gradebook too.
GOOD, SMUGGLER, BROKEN = "lfs-t-ana", "lfs-t-ben", "lfs-t-cai"


def answered(conv2d_extra: str = "") -> dict:
    """The released chapter with every answer cell filled in from solutions/."""
    released = json.loads(
        (course.NOTEBOOKS / CHAPTER / f"{CHAPTER}.ipynb").read_text(encoding="utf-8")
    )
    solutions = {c["metadata"].get("nbgrader", {}).get("grade_id"): c for c in json.loads(
        course.source_notebook(CHAPTER).read_text(encoding="utf-8"))["cells"]}
    for cell in released["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("solution"):
            lines = nbcell.source(solutions[meta["grade_id"]]).splitlines(True)
            text = "".join(line for line in lines if "### BEGIN SOLUTION" not in line
                           and "### END SOLUTION" not in line)
            cell["source"] = text + (conv2d_extra if meta["grade_id"] == "conv2d" else "")
    return released


# conv2d hands its work to torch through a string no reader sees as an import.
_SIDE_DOOR = base64.b64encode(
    b"import torch\nb = None if bias is None else torch.as_tensor(bias)\n"
    b"out = torch.nn.functional.conv2d(torch.as_tensor(input), torch.as_tensor(weight), b,"
    b" stride, padding, dilation, groups).numpy()\n").decode()
SMUGGLED = (
    "\n\nimport base64\n"
    "def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):\n"
    "    scope = dict(input=input, weight=weight, bias=bias, stride=stride, padding=padding,\n"
    "                 dilation=dilation, groups=groups)\n"
    f"    exec(base64.b64decode('{_SIDE_DOOR}'), scope)\n"
    "    return scope['out']\n"
)
NOT_JSON = '{"cells": [{"cell_type": "code", "source": "def conv2d(input, weight'
