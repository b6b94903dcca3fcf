"""The text form of a chapter (tools/chapter_text.py, jupytext's percent format) loses nothing.

Every notebook in solutions/ goes to text and back to the very same bytes; the cell
markers carry the ids and the nbgrader metadata; editing the text touches only what was
edited; what the text cannot hold is refused, not dropped.
"""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "chapter_text.py"
SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = sorted(SOLUTIONS.glob("*/*.ipynb"))
PARTS = SOLUTIONS / "05_pooling" / "05b_avg_pooling.ipynb"

_spec = importlib.util.spec_from_file_location("chapter_text", TOOL)
chapter_text = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(chapter_text)


def _raw(path):
    # newline="" so a "\r\n" or a missing final newline would show as a difference.
    with open(path, encoding="utf-8", newline="") as fh:
        return fh.read()


def test_every_chapter_folder_is_covered():
    # An empty glob would make the round trip below vacuous.
    folders = sorted(p for p in SOLUTIONS.iterdir() if p.is_dir() and p.name[:2].isdigit())
    assert folders, "no chapter folders in solutions/"
    assert {nb.parent for nb in NOTEBOOKS} == set(folders)
    assert PARTS in NOTEBOOKS  # the chapters in parts are globbed too


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_round_trip_is_byte_for_byte(path):
    raw = _raw(path)
    text = chapter_text.notebook_to_text(raw)
    assert chapter_text.text_to_notebook(text) == raw
    # And the text is stable: writing the rebuilt notebook gives the same text again.
    assert chapter_text.notebook_to_text(chapter_text.text_to_notebook(text)) == text


def test_markers_carry_ids_and_nbgrader_metadata():
    nb = json.loads(_raw(PARTS))
    markers = [line for line in chapter_text.notebook_to_text(_raw(PARTS)).splitlines()
               if line.startswith("# %%")]
    assert len(markers) == len(nb["cells"])
    graded = 0
    for cell, marker in zip(nb["cells"], markers, strict=True):
        assert f'id="{cell["id"]}"' in marker
        assert marker.startswith("# %% [markdown]") == (cell["cell_type"] == "markdown")
        if "nbgrader" in cell["metadata"]:
            graded += 1
            assert marker.endswith(" nbgrader=" + json.dumps(cell["metadata"]["nbgrader"]))
    assert graded >= 2
    assert "jupytext_version" not in chapter_text.notebook_to_text(_raw(PARTS))


def _cells(text):
    return json.loads(chapter_text.text_to_notebook(text))["cells"]


def test_editing_the_text_changes_only_what_was_edited():
    raw = _raw(PARTS)
    before = json.loads(raw)["cells"]
    text = chapter_text.notebook_to_text(raw)
    test_marker = next(line for line in text.splitlines()
                       if "nbgrader" in line and '"grade": true' in line)
    solution = {"grade": False, "grade_id": "new_answer", "locked": False, "schema_version": 3,
                "solution": True, "task": False}
    added = ("# %%\nprint('a new example')\n\n"
             f"# %% nbgrader={json.dumps(solution)}\ndef new_answer():\n    return 1\n\n")
    edited = text.replace(test_marker, added + test_marker, 1)
    edited = edited.replace("# Average pooling: the mean", "# Average pooling, the mean", 1)
    after = _cells(edited)

    assert len(after) == len(before) + 2
    at = next(i for i, c in enumerate(before) if f'id="{c["id"]}"' in test_marker)
    new_plain, new_graded = after[at], after[at + 1]
    numbered = [int(c["id"][5:]) for c in before if c["id"].startswith("cell-")]
    assert new_plain["id"] == f"cell-{max(numbered) + 1:03d}"  # never reuses or renumbers
    assert new_graded["id"] == "new_answer"
    assert new_graded["metadata"]["nbgrader"] == solution
    rest = after[:at] + after[at + 2:]
    assert [c["id"] for c in rest] == [c["id"] for c in before]
    changed = [b["id"] for b, a in zip(before, rest, strict=True) if a != b]
    assert changed == ["cell-000"]
    assert "Average pooling, the mean" in rest[0]["source"]


def test_a_reused_grade_id_still_gets_a_fresh_cell_id():
    text = chapter_text.notebook_to_text(_raw(PARTS))
    meta = {"grade": True, "grade_id": "test_avg_pool2d", "locked": True, "points": 1,
            "schema_version": 3, "solution": False, "task": False}
    cells = _cells(text + f"\n# %% nbgrader={json.dumps(meta)}\ncheck('x', x)\n")
    assert cells[-1]["id"] != "test_avg_pool2d"
    assert len({c["id"] for c in cells}) == len(cells)


def test_refuses_what_the_text_cannot_hold():
    nb = json.loads(_raw(PARTS))
    code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "1\n"}]
    code["execution_count"] = 1
    with pytest.raises(ValueError, match="outputs"):
        chapter_text.notebook_to_text(json.dumps(nb))

    text = chapter_text.notebook_to_text(_raw(PARTS))
    twice = text + '\n# %% id="cell-001"\nx = 1\n'
    with pytest.raises(ValueError, match="cell-001"):
        chapter_text.text_to_notebook(twice)


def test_the_readme_commands_round_trip(tmp_path):
    text, back = tmp_path / "chapter.py", tmp_path / "chapter.ipynb"
    for command, src, dst in (("to-text", PARTS, text), ("to-notebook", text, back)):
        subprocess.run([sys.executable, str(TOOL), command, str(src), str(dst)],
                       check=True, cwd=ROOT)
    assert back.read_bytes() == PARTS.read_bytes()
    assert text.read_text(encoding="utf-8").startswith("# ---\n# jupyter:\n")
