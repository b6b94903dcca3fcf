"""``make book``: the web edition, built with Sphinx, myst-nb and sphinx-book-theme.

Every notebook of every assignment (``solutions/NN_topic/*.ipynb``) is executed with the
reference answers, so its figures and worked examples have their outputs; then each answer
cell is replaced by the student's stub from ``notebooks/`` and each test cell keeps only its
visible part. Those answer-free notebooks are laid out as the student notebooks are laid
out in the repository (``notebooks/NN_topic/NN_topic.ipynb``), so the page of a notebook
has the topic in its URL and its launch links open the released notebook. Sphinx renders
them with the configuration beside this file (``conf.py``); the site goes to
``_build/book/``. Before the build is reported done, every file it wrote is scanned for the
answers' lines (:func:`leaks`).
"""
from __future__ import annotations

import html
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from .. import course, nbcell, submission
from ..paths import COURSE_ROOT

CONF_DIR = Path(__file__).parent
MATHJAX = "mathjax@3.2.2"
NPM_CACHE = COURSE_ROOT / ".bench" / "vendor"
# Build settings (make variable -> environment variable read by conf.py).
SETTINGS = {"jupyterhub_url": "LFS_BOOK_JUPYTERHUB_URL", "binderhub_url": "LFS_BOOK_BINDERHUB_URL",
            "repository_url": "LFS_BOOK_REPOSITORY_URL", "branch": "LFS_BOOK_BRANCH"}
# A line of fewer words (`continue`, `return out`) says nothing about an answer, and
# third-party code (MathJax, the theme's scripts) is full of them.
MIN_WORDS = 3
INTRO = """\
PyTorch's convolution, pooling and normalization layers, written in NumPy and checked
against `torch.nn`. Each chapter explains one family of layers; its exercises ask for the
layer's `torch.nn.functional` function in NumPy, and its test cells grade the answer
against torch.

This is the read-only edition: the exercise cells show what the student starts from. To do
them, open a chapter with the launch button (the rocket at the top of its page) on your
course's JupyterHub or on Binder, or run `make lab` in a clone of the repository.
"""


def assignments(solutions: Path | None = None) -> dict[str, list[str]]:
    """Assignment id -> the names of its notebooks, in order.

    Every ``*.ipynb`` of each ``solutions/NN_topic/`` folder: an assignment may be split
    into several notebooks (``05a_max_avg.ipynb``, ``05b_lp_fractional.ipynb``).
    """
    solutions = solutions or course.SOLUTIONS
    found = {}
    for folder in sorted(p for p in solutions.iterdir() if p.is_dir()):
        names = sorted(p.stem for p in folder.glob("*.ipynb"))
        if names:
            found[folder.name] = names
    return found


def _title(nb, fallback: str) -> str:
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            for line in nbcell.source(cell).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def _execute(path: str, timeout: int, kernel_log: str) -> str:
    """The solution notebook at ``path``, hidden tests left out, run top to bottom (as JSON).

    The kernel's own chatter (start-up warnings) goes to ``kernel_log``, not the terminal;
    a cell that fails stops the build with nbclient's error.
    """
    import nbformat
    from nbclient import NotebookClient

    with open(kernel_log, "a") as log:
        os.dup2(log.fileno(), 2)

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            cell.source = submission.visible_part(cell.source)
    # The kernel inherits the environment: a non-interactive MPLBACKEND would draw no figures.
    os.environ.pop("MPLBACKEND", None)
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(Path(path).parent)}}).execute()
    return nbformat.writes(nb)


def student_view(executed, released: Path):
    """Answers replaced by the released stubs (their outputs dropped).

    A solution cell without a stub in the released notebook stops the build: rendering it
    would publish the answer.
    """
    nb = json.loads(released.read_text(encoding="utf-8"))
    stubs = {nbcell.grading(c).get("grade_id"): nbcell.source(c)
             for c in nb["cells"] if nbcell.grading(c).get("solution")}
    for cell in executed.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("solution"):
            continue
        if meta.get("grade_id") not in stubs:
            raise SystemExit(f"{released}: no stub for answer cell {meta.get('grade_id')!r}: "
                             "run `make release`")
        cell.source = stubs[meta["grade_id"]]
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return executed


def _assignment_title(assignment: str) -> str:
    number, _, topic = assignment.partition("_")
    return f"{number} — {topic.replace('_', ' ').capitalize()}"


def write_sources(src: Path, pages: dict[str, list[tuple[str, object]]]) -> list[str]:
    """The Sphinx source tree: the contents page, one page per notebook, grouped by assignment.

    An assignment of one notebook is that notebook's page; one of several gets its own
    page (``notebooks/NN_topic/index``) listing its parts. Returns the contents' entries.
    """
    import nbformat

    entries = []
    for assignment, notebooks in pages.items():
        folder = src / "notebooks" / assignment
        folder.mkdir(parents=True, exist_ok=True)
        for name, nb in notebooks:
            nbformat.write(nb, folder / f"{name}.ipynb")
        if len(notebooks) == 1:
            entries.append(f"notebooks/{assignment}/{notebooks[0][0]}")
            continue
        parts = "\n".join(name for name, _ in notebooks)
        (folder / "index.md").write_text(
            f"# {_assignment_title(assignment)}\n\nThis chapter has {len(notebooks)} parts, "
            f"each a notebook of its own; they are graded as one assignment.\n\n"
            f"```{{toctree}}\n:maxdepth: 1\n\n{parts}\n```\n", encoding="utf-8")
        entries.append(f"notebooks/{assignment}/index")
    toc = "\n".join(entries)
    (src / "index.md").write_text(
        f"# Layers from Scratch\n\n{INTRO}\n```{{toctree}}\n:caption: Chapters\n:maxdepth: 2\n\n"
        f"{toc}\n```\n", encoding="utf-8")
    return entries


def install_mathjax(static: Path) -> None:
    """MathJax 3 (CHTML output and its fonts) into ``static/mathjax``, from `npm pack`.

    The tarball is kept in a gitignored cache, so the registry is asked once per clone.
    """
    target = static / "mathjax"
    if (target / "tex-mml-chtml.js").exists():
        return
    NPM_CACHE.mkdir(parents=True, exist_ok=True)
    tarballs = sorted(NPM_CACHE.glob("mathjax-*.tgz"))
    if not tarballs:
        subprocess.run(["npm", "pack", MATHJAX, "--silent"], cwd=NPM_CACHE, check=True,
                       capture_output=True, timeout=300)
        tarballs = sorted(NPM_CACHE.glob("mathjax-*.tgz"))
    keep = ("package/es5/tex-mml-chtml.js", "package/es5/output/", "package/es5/input/",
            "package/es5/a11y/", "package/es5/ui/", "package/LICENSE")
    with tarfile.open(tarballs[-1]) as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.startswith(keep):
                relative = member.name.split("/", 2)[-1] if member.name.startswith("package/es5/") \
                    else Path(member.name).name
                destination = target / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(member) as source, open(destination, "wb") as out:
                    shutil.copyfileobj(source, out)


def build(build_dir: Path | None = None, only: list[str] | None = None,
          settings: dict | None = None, jobs: int = 2, timeout: int = 300, scan: bool = True,
          log=print) -> Path:
    """Execute, strip and render the book into ``build_dir/book``; return that folder.

    ``only``: assignment ids to build (default: all). ``settings``: the launch links'
    targets (keys of :data:`SETTINGS`). Everything the build writes stays in ``build_dir``.
    ``scan``: refuse a build that shows an answer (:func:`leaks`); a caller that scans
    by itself may skip it.
    """
    import nbformat

    build_dir = Path(build_dir or COURSE_ROOT / "_build")
    site, src = build_dir / "book", build_dir / "book-src"
    doctrees, static = build_dir / "book-doctrees", build_dir / "book-static"
    books = {a: names for a, names in assignments().items() if not only or a in only}
    if only and set(only) - set(books):
        raise SystemExit(f"no such assignment: {sorted(set(only) - set(books))}")
    started = time.monotonic()
    install_mathjax(static)
    paths = [(a, n) for a, names in books.items() for n in names]
    build_dir.mkdir(parents=True, exist_ok=True)
    kernel_log = str(build_dir / "book-kernels.log")
    # Spawned, not forked: the caller may run threads (a test's browser driver, xdist).
    with ProcessPoolExecutor(max_workers=max(1, min(jobs, len(paths))),
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        executed = pool.map(_execute, [str(course.SOLUTIONS / a / f"{n}.ipynb") for a, n in paths],
                            [timeout] * len(paths), [kernel_log] * len(paths))
        pages: dict[str, list] = {a: [] for a in books}
        for (assignment, name), text in zip(paths, executed, strict=True):
            nb = student_view(nbformat.reads(text, as_version=4),
                              course.NOTEBOOKS / assignment / f"{name}.ipynb")
            pages[assignment].append((name, nb))
    log(f"executed {len(paths)} notebooks in {time.monotonic() - started:.0f} s")
    for folder in (site, src):
        shutil.rmtree(folder, ignore_errors=True)
    write_sources(src, pages)
    env = dict(os.environ, LFS_BOOK_STATIC=str(static))
    for key, value in (settings or {}).items():
        if value:
            env[SETTINGS[key]] = value
    subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-E", "-W", "--keep-going",
                    "-j", str(jobs), "-c", str(CONF_DIR), "-d", str(doctrees), str(src), str(site)],
                   env=env, check=True)
    found = leaks(build_dir) if scan else []
    if found:
        raise SystemExit("the web edition shows answers:\n" + "\n".join(found[:20]))
    log(f"built {site / 'index.html'} in {time.monotonic() - started:.0f} s")
    return site


# --- Answers must not reach the site ----------------------------------------------------

def _between(source: str, begin: str, end: str) -> list[str]:
    out, inside = [], False
    for line in source.splitlines():
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside:
            out.append(line)
    return out


def secret_lines(solutions: Path | None = None, notebooks: Path | None = None) -> set[str]:
    """Every line of every answer and hidden test that the student notebooks do not show.

    A line the released notebooks contain anywhere (a stub's signature, a common
    ``import``, a short line that is part of a longer public one) is public already, so
    it cannot leak.
    """
    solutions, notebooks = solutions or course.SOLUTIONS, notebooks or course.NOTEBOOKS
    public = "\n".join(nbcell.source(c) for path in sorted(notebooks.glob("*/*.ipynb"))
                       for c in json.loads(path.read_text(encoding="utf-8"))["cells"])
    secret = set()
    for path in sorted(solutions.glob("*/*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            meta, text = nbcell.grading(cell), nbcell.source(cell)
            if meta.get("solution"):
                lines = (_between(text, "### BEGIN SOLUTION", "### END SOLUTION")
                         if "### BEGIN SOLUTION" in text else text.splitlines())
            elif meta.get("grade"):
                lines = _between(text, "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
            else:
                continue
            secret.update(s for s in (line.strip() for line in lines)
                          if len(re.findall(r"\w+", s)) >= MIN_WORDS and s not in public)
    return secret


def _views(path: Path) -> list[str]:
    """The texts a file can show a line in: its bytes as text, and for HTML its text with
    the markup (syntax-highlighting spans) removed, for JSON every string it holds."""
    raw = path.read_bytes().decode("utf-8", errors="ignore")
    views = [raw]
    if path.suffix in (".html", ".htm", ".xml", ".svg", ".txt"):
        views.append(html.unescape(re.sub(r"<[^>]*>", "", raw)))
    if path.suffix in (".json", ".ipynb", ".js"):
        strings: list[str] = []

        def walk(value):
            if isinstance(value, str):
                strings.append(value)
            elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
                strings.append("".join(value))
            elif isinstance(value, list):
                for v in value:
                    walk(v)
            elif isinstance(value, dict):
                for v in value.values():
                    walk(v)
        body = raw[raw.find("{"):raw.rfind("}") + 1] if path.suffix == ".js" else raw
        try:
            walk(json.loads(body))
        except ValueError:
            pass
        views.append("\n".join(strings))
    return views


def leaks(build_dir: Path, secret: set[str] | None = None) -> list[str]:
    """``file: line`` for each answer line found in any file under ``build_dir``."""
    secret = secret_lines() if secret is None else secret
    words = {line: set(re.findall(r"\w+", line)) for line in sorted(secret)}
    found = []
    for path in sorted(p for p in Path(build_dir).rglob("*") if p.is_file()):
        for view in _views(path):
            present = set(re.findall(r"\w+", view))
            # Substring search only for lines whose every word is in the file: same result, faster.
            hits = [line for line, need in words.items() if need <= present and line in view]
            found += [f"{path.relative_to(build_dir)}: {line}" for line in hits]
    return sorted(set(found))


def main(args) -> int:
    settings = {key: getattr(args, key, None) for key in SETTINGS}
    site = build(Path(args.out).resolve() if args.out else None, args.chapter or None, settings,
                 jobs=args.jobs)
    print(f"open {site / 'index.html'}")
    return 0
