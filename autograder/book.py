"""``make book``: the static web edition of the student chapters.

Each chapter is executed from solutions/ (so its figures and worked examples have their
outputs), then every answer cell is replaced by the student's stub from notebooks/ and
every test cell by its visible part: the page teaches, it does not give the answers away.
Pages use nbconvert's lab template with MathJax 3 served from the book (taken from the
npm registry once and cached), a contents page and previous/next links.
"""
from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

from . import course, submission
from .paths import COURSE_ROOT

MATHJAX = "mathjax@3.2.2"
TEMPLATES = Path(__file__).parent / "book_template"
CACHE = COURSE_ROOT / ".bench" / "vendor"


def vendor_mathjax(static: Path) -> None:
    """MathJax 3 (CHTML output and its fonts) into static/mathjax, from `npm pack`."""
    target = static / "mathjax"
    if (target / "tex-mml-chtml.js").exists():
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    tarballs = sorted(CACHE.glob("mathjax-*.tgz"))
    if not tarballs:
        subprocess.run(["npm", "pack", MATHJAX, "--silent"], cwd=CACHE, check=True,
                       capture_output=True, timeout=300)
        tarballs = sorted(CACHE.glob("mathjax-*.tgz"))
    keep = ("package/es5/tex-mml-chtml.js", "package/es5/output/", "package/es5/input/",
            "package/es5/a11y/", "package/es5/ui/", "package/LICENSE")
    with tarfile.open(tarballs[-1]) as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.startswith(keep):
                relative = member.name.split("/", 2)[-1] if member.name.startswith("package/es5/") \
                    else Path(member.name).name
                destination = target / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(member) as src, open(destination, "wb") as dst:
                    shutil.copyfileobj(src, dst)


def _title(nb: dict, chapter: str) -> str:
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            for line in submission._text(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return chapter


def executed_chapter(chapter: str, timeout: int = 300, notebook: str | None = None) -> dict:
    """The solution notebook (one part of a chapter in parts), hidden tests left out, run top to bottom."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(course.source_notebook(chapter, notebook), as_version=4)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            cell.source = submission.visible_part(cell.source)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(course.SOLUTIONS / chapter)}})
    # The kernel inherits the environment: a non-interactive MPLBACKEND would draw no figures.
    saved = os.environ.pop("MPLBACKEND", None)
    try:
        client.execute()
    finally:
        if saved is not None:
            os.environ["MPLBACKEND"] = saved
    return nb


def student_view(executed, chapter: str, notebook: str | None = None):
    """Answers replaced by the released stubs (and their outputs dropped)."""
    name = notebook or course.notebooks(chapter)[0]
    released = json.loads((course.NOTEBOOKS / chapter / f"{name}.ipynb").read_text(encoding="utf-8"))
    stubs = {submission._meta(c).get("grade_id"): submission._text(c["source"])
             for c in released["cells"] if submission._meta(c).get("solution")}
    for cell in executed.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in stubs:
            cell.source = stubs[grade_id]
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
    return executed


def build(out: Path, chapters=None, timeout: int = 300) -> list[Path]:
    from nbconvert import HTMLExporter

    chapters = chapters or course.chapters()
    out.mkdir(parents=True, exist_ok=True)
    static = out / "_static"
    vendor_mathjax(static)
    # One page per notebook: a chapter in parts (05a_…, 05b_…) gets a page for each part.
    parts = {n: c for c in chapters for n in course.notebooks(c)}
    notebooks = {n: student_view(executed_chapter(c, timeout, n), c, n) for n, c in parts.items()}
    chapters = list(parts)
    titles = {c: _title(notebooks[c], c) for c in chapters}
    exporter = HTMLExporter(template_name="lfs", extra_template_basedirs=[str(TEMPLATES)])
    pages = []
    for i, chapter in enumerate(chapters):
        def link(j):
            return {"href": f"{chapters[j]}.html", "title": titles[chapters[j]]} if 0 <= j < len(chapters) else None
        resources = {"book": {"static": "_static", "previous": link(i - 1), "next": link(i + 1)},
                     "metadata": {"name": titles[chapter]}}
        body, _ = exporter.from_notebook_node(notebooks[chapter], resources=resources)
        page = out / f"{chapter}.html"
        page.write_text(body, encoding="utf-8")
        pages.append(page)
    items = "\n".join(f'    <li><a href="{c}.html">{html.escape(titles[c])}</a></li>' for c in chapters)
    (out / "index.html").write_text(f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Layers from Scratch</title>
<link rel="icon" href="data:,">
<style>body {{ font-family: sans-serif; max-width: 46em; margin: 3em auto; line-height: 1.5; }}</style>
</head><body>
<h1>Layers from Scratch</h1>
<p>PyTorch's convolution, pooling and normalization layers, written in NumPy and checked
against <code>torch.nn</code>. This is the read-only edition: to do the exercises, run
<code>make lab</code> in the repository.</p>
<h2>Contents</h2>
<ul class="toc">
{items}
</ul>
</body></html>
""", encoding="utf-8")
    return pages


def main(args) -> int:
    out = Path(args.out).resolve()
    pages = build(out, args.chapter or None)
    print(f"web edition: {out / 'index.html'} ({len(pages)} notebooks)")
    return 0
