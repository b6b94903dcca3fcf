"""Write a chapter as plain text, get an nbgrader source notebook (and back).

    python tools/nbpy.py to-nb  chapter.txt solutions/01_convolution/01_convolution.ipynb
    python tools/nbpy.py to-txt solutions/01_convolution/01_convolution.ipynb chapter.txt

The notebook in solutions/ is the source of truth; the text form is a convenience for
editing a whole chapter at once. Cell markers, each on a line of its own:

    # %% [markdown]                         prose
    # %%                                    ordinary code (examples, figures)
    # %% [solution] grade_id=conv2d         an answer cell: ### BEGIN/END SOLUTION inside
    # %% [tests] grade_id=test_conv2d points=2   a locked, graded test cell
"""
import json
import re
import sys

MARKER = re.compile(r"^# %%(?: \[(\w+)\])?(.*)$")


def text_to_notebook(text: str) -> dict:
    cells = []
    kind, options, lines = None, {}, []

    def flush():
        if kind is None:
            return
        source = "\n".join(lines).strip("\n")
        cells.append(make_cell(kind, options, source, len(cells)))

    for line in text.splitlines():
        match = MARKER.match(line)
        if match:
            flush()
            kind = match.group(1) or "code"
            options = dict(opt.split("=", 1) for opt in match.group(2).split())
            lines = []
        else:
            lines.append(line)
    flush()
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                           "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def make_cell(kind, options, source, index):
    grade_id = options.get("grade_id")
    cell = {"cell_type": "markdown" if kind == "markdown" else "code",
            "id": grade_id or f"cell-{index:03d}", "metadata": {}, "source": source}
    if kind == "solution":
        cell["metadata"]["nbgrader"] = {"grade": False, "grade_id": grade_id, "locked": False,
                                        "schema_version": 3, "solution": True, "task": False}
    elif kind == "tests":
        cell["metadata"]["nbgrader"] = {"grade": True, "grade_id": grade_id, "locked": True,
                                        "points": int(options.get("points", 1)),
                                        "schema_version": 3, "solution": False, "task": False}
    elif kind not in ("markdown", "code"):
        raise ValueError(f"unknown cell kind {kind!r}")
    if cell["cell_type"] == "code":
        cell["execution_count"] = None
        cell["outputs"] = []
    return cell


def notebook_to_text(nb: dict) -> str:
    parts = []
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            header = "# %% [markdown]"
        elif meta.get("solution"):
            header = f"# %% [solution] grade_id={meta['grade_id']}"
        elif meta.get("grade"):
            header = f"# %% [tests] grade_id={meta['grade_id']} points={meta.get('points', 1)}"
        else:
            header = "# %%"
        parts.append(f"{header}\n{source}\n")
    return "\n".join(parts)


def main(argv):
    command, src, dst = argv
    with open(src, encoding="utf-8") as fh:
        text = fh.read()
    if command == "to-nb":
        out = json.dumps(text_to_notebook(text), indent=1, ensure_ascii=False) + "\n"
    elif command == "to-txt":
        out = notebook_to_text(json.loads(text))
    else:
        raise SystemExit(__doc__)
    with open(dst, "w", encoding="utf-8") as fh:
        fh.write(out)


if __name__ == "__main__":
    main(sys.argv[1:])
