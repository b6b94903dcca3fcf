"""Which students' answers look copied: a similarity report across answer cells.

For each assignment, every student's answer cells (code cells whose nbgrader metadata
says ``solution: true``) are put end to end, notebook by notebook and grade_id by
grade_id, and fingerprinted with copydetect's winnowing (Schleimer, Wilkerson and
Aiken's algorithm, the one MOSS uses). Its tokenizer replaces every name by one letter
and drops comments and blank space, so renaming variables or rewording comments does not
hide a copy. The course's given code — the released stub of the same cell: signature,
docstring, class skeleton — is boilerplate: its fingerprints are removed from every
student's, so two honest students do not match on what they were both given.

A pair's score is the larger of copydetect's two overlaps (the share of A's fingerprinted
tokens found in B, and of B's in A): one student who copied half of another's answers
and wrote nothing else scores as high as a full copy. Pairs at or above ``THRESHOLD`` go
to ``similarity.csv`` and, side by side with the shared code highlighted, to
``similarity.html``. A score is a reason to look, not a verdict.
"""
from __future__ import annotations

import csv
import html
import io
import itertools
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

# copydetect's defaults: a match must span 25 characters of filtered code (a few
# statements once names are one letter), and every such match is guaranteed to be seen.
NOISE_T = 25
GUARANTEE_T = 25
# Chosen on chapter 09, whose short answers are where honest students share the most
# (tests/test_similarity.py keeps these figures honest): the course's answer and two
# independently written correct ones score 0.19 to 0.28 against each other (0.31 to 0.39
# without the given code excluded); a copy with every name renamed and comments rewritten
# scores 1.0; an answer that copies one of the chapter's two functions and writes the rest
# scores 0.46 to 0.52, both, 0.77. 0.4 flags every copy above and no honest pair.
THRESHOLD = 0.4
HEADER = ["assignment", "student_a", "student_b", "score"]


@dataclass
class Document:
    """One student's answers to one assignment: (notebook, grade_id) -> cell source."""

    student: str
    cells: dict = field(default_factory=dict)
    fingerprints: dict = field(default_factory=dict)

    @property
    def coverage(self) -> float:
        """How many of this student's tokens take part in the comparison."""
        return float(sum(fp.token_coverage for fp in self.fingerprints.values()))


@dataclass
class Pair:
    score: float
    a: Document
    b: Document
    cells: dict  # (notebook, grade_id) -> (slices in a's cell, slices in b's cell)


def _source(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(line, str) for line in value):
        return "".join(value)
    raise ValueError("a cell's source is neither text nor a list of lines")


def solution_cells(path: Path) -> dict:
    """grade_id -> source of each answer cell, in notebook order; ValueError when malformed."""
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"not a readable notebook ({type(error).__name__})") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise ValueError("not a notebook (no list of cells)")
    found = {}
    for cell in notebook["cells"]:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        metadata = cell.get("metadata")
        meta = metadata.get("nbgrader") if isinstance(metadata, dict) else None
        if not isinstance(meta, dict) or meta.get("solution") is not True:
            continue
        grade_id = meta.get("grade_id")
        if isinstance(grade_id, str) and grade_id and grade_id not in found:
            found[grade_id] = _source(cell.get("source", ""))
    return found


def _fingerprint(text: str, boilerplate, win_size: int):
    from copydetect import CodeFingerprint

    return CodeFingerprint("answers.py", NOISE_T, win_size, boilerplate=boilerplate,
                           language="python", fp=io.StringIO(text))


def _boilerplate(stubs: list[str]):
    """Every k-gram of the given code (win_size 1, as copydetect does for boilerplate)."""
    import numpy as np

    hashes = set()
    for stub in stubs:
        hashes |= _fingerprint(stub, None, 1).hashes
    return np.unique(np.array(sorted(hashes), dtype=np.int64))


def _assignments(root: Path) -> list[str]:
    submitted = root / "submitted"
    if not submitted.is_dir():
        return []
    return sorted({a.name for s in submitted.iterdir() if s.is_dir()
                   for a in s.iterdir() if a.is_dir()})


def collect(root: Path, assignment: str, notes: list,
            released_root: Path | None = None) -> tuple[list[Document], dict]:
    """The students' answers to one assignment, and the given code of each answer cell."""
    documents = {}
    names = set()
    submitted = root / "submitted"
    students = sorted(p for p in submitted.iterdir() if p.is_dir()) if submitted.is_dir() else []
    for folder in (s / assignment for s in students):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.ipynb")):
            try:
                if not path.is_file():
                    raise ValueError("not a file")
                cells = solution_cells(path)
            except ValueError as error:
                notes.append(f"{path.relative_to(root)} skipped: {error}")
                continue
            doc = documents.setdefault(folder.parent.name, Document(folder.parent.name))
            doc.cells.update({(path.stem, grade_id): text for grade_id, text in cells.items()})
            names.add(path.stem)
    stubs = {}
    for name in sorted(names):
        released = (released_root or root / "notebooks") / assignment / f"{name}.ipynb"
        try:
            given = solution_cells(released)
        except ValueError:
            notes.append(f"{assignment}/{name}: no released notebook to take the given code "
                         "from; nothing excluded")
            continue
        stubs.update({(name, grade_id): text for grade_id, text in given.items()})
    return [documents[s] for s in sorted(documents)], stubs


def _members(values, sorted_set):
    """values that are in sorted_set (a sorted array), as a mask: np.isin, minus its sort."""
    import numpy as np

    if sorted_set.size == 0:
        return np.zeros(values.shape, dtype=bool)
    where = np.minimum(np.searchsorted(sorted_set, values), sorted_set.size - 1)
    return sorted_set[where] == values


class _Cell:
    """One answer cell's fingerprints, arranged for fast pairwise overlap counts."""

    def __init__(self, fingerprint):
        import numpy as np

        self.fingerprint = fingerprint
        self.unique = np.array(sorted(fingerprint.hash_idx), dtype=np.int64)
        pairs = sorted((i, h) for h, where in fingerprint.hash_idx.items() for i in where)
        self.positions = np.array([i for i, _ in pairs], dtype=np.int64)  # ascending
        self.hashes = np.array([h for _, h in pairs], dtype=np.int64)

    def shared(self, other: _Cell):
        return self.unique[_members(self.unique, other.unique)]

    def overlap(self, shared) -> float:
        """Tokens of this cell inside a k-gram whose fingerprint is in `shared`: the
        length of the union of [i, i + k) over the matching positions i, which is what
        copydetect's compare_files counts (get_copied_slices)."""
        import numpy as np

        positions = self.positions[_members(self.hashes, shared)]
        if positions.size == 0:
            return 0.0
        return float(NOISE_T + np.minimum(np.diff(positions), NOISE_T).sum())


def compare(documents: list[Document], stubs: dict) -> list[Pair]:
    """Every pair of students with something of their own in common, highest score first.

    Cells are compared with the cell of the same grade_id only (each fingerprinted on its
    own, so no match spans two cells), without the fingerprints of that cell's stub.
    A student's share is the overlapping tokens summed over cells divided by all of that
    student's fingerprinted tokens. The pair loop counts overlaps with NumPy on
    copydetect's fingerprints (compare_files itself is ~10x slower, and a class of 300
    is 45,000 pairs per assignment); the report's highlighting uses compare_files.
    """
    win_size = GUARANTEE_T - NOISE_T + 1
    boilerplate = {key: _boilerplate([stub]) for key, stub in stubs.items()}
    cells: dict = {}
    for doc in documents:
        doc.fingerprints = {}
        for key, text in doc.cells.items():
            fingerprint = _fingerprint(text, boilerplate.get(key), win_size)
            if fingerprint.hashes:
                doc.fingerprints[key] = fingerprint
                cells[doc.student, key] = _Cell(fingerprint)
    pairs = []
    for a, b in itertools.combinations(documents, 2):
        shared_a = shared_b = 0.0
        common = []
        for key in sorted(set(a.fingerprints) & set(b.fingerprints)):
            ca, cb = cells[a.student, key], cells[b.student, key]
            shared = ca.shared(cb)
            if shared.size:
                shared_a += ca.overlap(shared)
                shared_b += cb.overlap(shared)
                common.append(key)
        if common:
            score = max(shared_a / a.coverage, shared_b / b.coverage)
            pairs.append(Pair(float(score), a, b, dict.fromkeys(common)))
    pairs.sort(key=lambda p: (-p.score, p.a.student, p.b.student))
    return pairs


def _slices(pair: Pair) -> None:
    """copydetect's copied slices of each shared cell, for the report's highlighting."""
    from copydetect import compare_files

    for key in pair.cells:
        _, _, pair.cells[key] = compare_files(pair.a.fingerprints[key], pair.b.fingerprints[key])


def _highlighted(text: str, slices) -> str:
    from copydetect.utils import highlight_overlap

    if slices is None or len(slices[0]) == 0:
        return html.escape(text)
    marked, _ = highlight_overlap(text, slices, "<mark>", "</mark>", escape_html=True)
    return marked


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Similar answers</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; }}
table.pair {{ width: 100%; table-layout: fixed; border-collapse: collapse; margin-bottom: 2em; }}
table.pair td, table.pair th {{ vertical-align: top; border: 1px solid #bbb; padding: .4em; }}
table.pair th:first-child {{ width: 9em; }}
td:first-child {{ font-family: monospace; font-size: 12px; overflow-wrap: anywhere; }}
pre {{ white-space: pre-wrap; font-size: 12px; margin: 0; }}
mark {{ background: #ffd27a; }}
</style></head><body>
<h1>Similar answers</h1>
<p>Pairs of students whose answer cells share at least {threshold:.0%} of their
fingerprinted code (copydetect winnowing, k = {k}; names and comments ignored; the course's
given code excluded). Shared code is highlighted. A score is a reason to look, not a
verdict.</p>
{body}
</body></html>
"""


def _report_html(rows: list[tuple], notes: list[str], threshold: float) -> str:
    body = []
    if not rows:
        body.append("<p>No pair above the threshold.</p>")
    for assignment, pair in rows:
        _slices(pair)
        a, b = pair.a, pair.b
        body.append(f'<h2>{html.escape(assignment)}: {html.escape(a.student)} and '
                    f'{html.escape(b.student)} — {pair.score:.2f}</h2>\n<table class="pair">'
                    f'<tr><th>cell</th><th>{html.escape(a.student)}</th>'
                    f'<th>{html.escape(b.student)}</th></tr>')
        for key in sorted(set(a.cells) | set(b.cells)):
            slices = pair.cells.get(key) or (None, None)
            left, right = a.cells.get(key, ""), b.cells.get(key, "")
            body.append(f'<tr><td>{html.escape(" / ".join(key))}</td>'
                        f'<td><pre>{_highlighted(left, slices[0])}</pre></td>'
                        f'<td><pre>{_highlighted(right, slices[1])}</pre></td></tr>')
        body.append("</table>")
    if notes:
        body.append("<h2>Skipped</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes)
                    + "</ul>")
    return PAGE.format(threshold=threshold, k=NOISE_T, body="\n".join(body))


def write_similarity(root: Path, assignments: list[str] | None = None,
                     threshold: float | None = None, released_root: Path | None = None) -> int:
    """Write root/similarity.csv and root/similarity.html; return the number of pairs.
    ``released_root``: the student notebooks whose given code is excluded (default
    root/notebooks)."""
    root = Path(root)
    threshold = THRESHOLD if threshold is None else threshold
    notes: list[str] = []
    rows = []
    for assignment in assignments if assignments is not None else _assignments(root):
        documents, stubs = collect(root, assignment, notes, released_root)
        rows.extend((assignment, pair) for pair in compare(documents, stubs)
                    if pair.score >= threshold)
    with open(root / "similarity.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows([assignment, pair.a.student, pair.b.student, f"{pair.score:.3f}"]
                         for assignment, pair in rows)
    (root / "similarity.html").write_text(_report_html(rows, notes, threshold), encoding="utf-8")
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return len(rows)


def main(argv=None) -> int:
    """python -m autograder.similarity [COURSE_ROOT] [ASSIGNMENT ...]"""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m autograder.similarity",
                                     description="similarity.csv and similarity.html from "
                                     "submitted/, beside grades.csv")
    parser.add_argument("root", nargs="?", default=".", type=Path)
    parser.add_argument("assignment", nargs="*")
    args = parser.parse_args(argv)
    if not args.root.is_dir():
        parser.error(f"{args.root}: no such folder")
    rows = write_similarity(args.root, args.assignment or None)
    print(f"{rows} pair(s) at or above {THRESHOLD:.2f}: {args.root / 'similarity.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
