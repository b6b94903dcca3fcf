"""A chapter as plain text (jupytext's percent format) and back, byte for byte.

    python tools/chapter_text.py to-text solutions/01_convolution/01_convolution.ipynb 01.py
    python tools/chapter_text.py to-notebook 01.py solutions/01_convolution/01_convolution.ipynb

The notebook in solutions/ is the source of truth; the text form is for editing a whole
chapter at once. It is jupytext's `py:percent` format: a YAML header with the notebook's
metadata, then one `# %%` marker per cell carrying the cell's id and its metadata, e.g.

    # %% [markdown] id="cell-003"
    # %% id="conv2d" nbgrader={"grade": false, "grade_id": "conv2d", "locked": false, ...}

jupytext alone loses three things this book keeps, so this wrapper adds them:
- cell ids: the percent format has no place for them (nbformat then invents random ones),
  so each id travels as an `id` entry in the marker's metadata and is put back on read;
- the repository's serialisation: json.dumps with indent=1, non-ASCII kept, keys in the
  order cell_type, id, metadata, source, execution_count, outputs and one string per
  source (nbformat.writes would sort keys and split sources into lists of lines);
- metadata: every notebook and cell metadata key is kept (jupytext's defaults drop
  language_info), and jupytext's own bookkeeping is not written into either form.

A cell written without an id (a new cell typed into the text) gets its grade_id when
that is free, else the next unused `cell-NNN`: the other cells' ids never change.
Outputs and attachments have no text form, so a notebook holding any is refused rather
than silently stripped (the notebooks in solutions/ hold none).
"""
import copy
import json
import re
import sys

import jupytext
import nbformat

FORMAT = "py:percent"
# Everything except jupytext's own section (its version number would churn the text).
FILTERS = {"notebook_metadata_filter": "all,-jupytext", "cell_metadata_filter": "all"}
ID_KEY = "id"
NUMBERED = re.compile(r"^cell-(\d+)$")


def notebook_to_text(raw: str) -> str:
    """The percent-format text of a notebook given as its JSON text."""
    nb = nbformat.reads(raw, as_version=4)
    for index, cell in enumerate(nb.cells):
        if cell.get("outputs") or cell.get("execution_count") is not None:
            raise ValueError(f"cell {index} ({cell.get('id')}) has outputs: clear them first, "
                             "the text form does not keep them")
        if cell.get("attachments"):
            raise ValueError(f"cell {index} ({cell.get('id')}) has attachments, which the "
                             "text form does not keep")
        if ID_KEY in cell.metadata:
            raise ValueError(f"cell {index} has a metadata key {ID_KEY!r}, which the text form "
                             "uses for the cell id")
        # The id first, so it leads the marker line.
        cell.metadata = {ID_KEY: cell.id, **cell.metadata}
    nb.metadata["jupytext"] = dict(FILTERS)
    return jupytext.writes(nb, fmt=FORMAT)


def text_to_notebook(text: str) -> str:
    """The notebook's file contents, serialised as the repository writes notebooks."""
    nb = jupytext.reads(text, fmt=FORMAT)
    metadata = {key: value for key, value in nb.metadata.items() if key != "jupytext"}
    ids = [cell.metadata.get(ID_KEY) for cell in nb.cells]
    taken = {cell_id for cell_id in ids if cell_id}
    duplicated = sorted(cell_id for cell_id in taken if ids.count(cell_id) > 1)
    if duplicated:
        raise ValueError(f"cell ids used more than once: {', '.join(duplicated)}")
    cells = []
    for cell in nb.cells:
        cell_metadata = dict(cell.metadata)
        cell_id = cell_metadata.pop(ID_KEY, None) or _new_id(cell_metadata, taken)
        taken.add(cell_id)
        out = {"cell_type": cell.cell_type, "id": cell_id, "metadata": cell_metadata,
               "source": cell.source}
        if cell.cell_type == "code":
            out["execution_count"] = None
            out["outputs"] = []
        cells.append(out)
    result = {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}
    # A notebook nbformat would not accept never reaches solutions/ (bad ids, bad types).
    nbformat.validate(nbformat.from_dict(copy.deepcopy(result)))
    return json.dumps(result, indent=1, ensure_ascii=False) + "\n"


def _new_id(metadata, taken):
    grade_id = metadata.get("nbgrader", {}).get("grade_id")
    if grade_id and grade_id not in taken:
        return grade_id
    numbers = [int(m.group(1)) for m in map(NUMBERED.match, taken) if m]
    return f"cell-{max(numbers, default=-1) + 1:03d}"


def main(argv):
    if len(argv) != 3 or argv[0] not in ("to-text", "to-notebook"):
        raise SystemExit(__doc__)
    command, src, dst = argv
    with open(src, encoding="utf-8") as fh:
        text = fh.read()
    out = notebook_to_text(text) if command == "to-text" else text_to_notebook(text)
    # newline="" writes the bytes as produced, "\n" on every platform.
    with open(dst, "w", encoding="utf-8", newline="") as fh:
        fh.write(out)


if __name__ == "__main__":
    main(sys.argv[1:])
