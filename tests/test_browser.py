"""The book as people use it, in a real browser (Playwright driving Debian's chromium).

JupyterLab is started as `make lab` starts it (headless, as root if need be, a random
port, a token) on a temporary copy of the course, so nothing here touches the
repository's notebooks. Screenshots of every step go to artifacts/browser/. The web edition
has its own browser test, tests/test_book_site.py.

Skipped when /usr/bin/chromium is missing, unless LFS_REQUIRE_BROWSER=1 (CI sets it):
then a missing browser is a failure.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from browsertools import require_browser, wait_for_server

from autograder import course

ARTIFACTS = course.COURSE_ROOT / "artifacts" / "browser"
CHAPTER = "01_convolution"

require_browser()

playwright = pytest.importorskip("playwright.sync_api")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _settings(folder: Path) -> None:
    """Lab settings for a test: no news popup, every cell rendered (no lazy windowing)."""
    files = {
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
            {"fetchNews": "false", "checkForUpdates": False},
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    }
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content))




@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    for name in ("nbgrader_config.py",):
        shutil.copy(course.COURSE_ROOT / name, root / name)
    for folder in ("notebooks", "solutions"):
        shutil.copytree(course.COURSE_ROOT / folder, root / folder)
    (root / "exchange").mkdir()
    # Formgrader lists the assignments nbgrader knows: release them into this course's gradebook.
    api = course.nbgrader_api(root=str(root), db_url=f"sqlite:///{root}/gradebook.db",
                              release_directory=str(root / "release"))
    for chapter in (CHAPTER,):
        assert api.generate_assignment(chapter, force=True)["success"]
    subprocess.run([sys.executable, "-m", "autograder", "lab-copy", str(root / "work")], check=True)
    settings, workspaces = tmp_path_factory.mktemp("settings"), tmp_path_factory.mktemp("ws")
    _settings(settings)
    port, token = _free_port(), "lfs-test-token"
    env = {
        k: v for k, v in os.environ.items() if k != "MPLBACKEND"
    }  # figures inline, as for a student
    env.update(JUPYTERLAB_SETTINGS_DIR=str(settings),
               JUPYTERLAB_WORKSPACES_DIR=str(workspaces),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    # The command line of `make lab LAB_ARGS=--no-browser`, on this course copy.
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--allow-root", f"--ServerApp.root_dir={root}",
         "--LabApp.default_url=/lab/tree/work", "--no-browser", f"--port={port}",
         "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}"],
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=open(root / "lab.log", "w"))
    base = f"http://127.0.0.1:{port}"
    wait_for_server(f"{base}/api/status?token={token}", server, 120, root / "lab.log", "JupyterLab")
    yield base, token, root
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()


@pytest.fixture
def page_factory(browser, request):
    """New pages; on a failing test, a screenshot of each is kept as failure-<test>-<n>.png."""
    pages = []

    def make(**options):
        page = browser.new_page(**options)
        pages.append(page)
        return page

    yield make
    failed = getattr(request.node, "rep_call", None) is None or request.node.rep_call.failed
    for n, page in enumerate(pages):
        if failed and not page.is_closed():
            _shot(page, f"failure-{request.node.name}-{n}")
        if not page.is_closed():
            page.close()


def _shot(page, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)


def _menu(page, top, item):
    page.get_by_role("menuitem", name=top, exact=True).first.click()
    page.get_by_role("menuitem", name=item).first.click()


def _cell(page, text):
    return page.locator(".jp-Notebook .jp-Cell").filter(has_text=text).first


def test_student_runs_chapter_01_and_fixes_an_exercise(page_factory, lab):
    base, token, root = lab
    page = page_factory(viewport={"width": 1400, "height": 1000})
    crashes = []
    page.on("pageerror", lambda err: crashes.append(str(err)))
    page.goto(f"{base}/lab/tree/notebooks/{CHAPTER}/{CHAPTER}.ipynb?token={token}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle'], "
                           ".jp-Toolbar-kernelStatus", timeout=90_000)
    _shot(page, "01-chapter-opened")

    # Run All only after the kernel is up: cells queued while it starts can be dropped.
    page.locator("text=Python 3 (ipykernel) | Idle").first.wait_for(timeout=120_000)
    _menu(page, "Run", "Run All Cells")
    feedback = _cell(page, 'check("conv2d_loop", conv2d_loop)').locator(".jp-OutputArea-output")
    feedback.first.wait_for(timeout=120_000)
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.jp-RenderedImage img'))"
        ".some(i => i.naturalWidth > 0)",
        timeout=60_000,
    )
    _cell(page, 'check("conv2d_loop", conv2d_loop)').scroll_into_view_if_needed()
    _shot(page, "02-run-all-stub-feedback")
    text = feedback.all_inner_texts()
    joined = "\n".join(text)
    assert "not implemented yet" in joined, joined
    # Short feedback: the student's own cell and the message, not the package's internals.
    assert "autograder/api.py" not in joined and "site-packages" not in joined, joined
    assert len(joined.splitlines()) <= 12, joined

    answer = _cell(page, "def conv2d_loop(")
    answer.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(
        "def conv2d_loop(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):\n"
        "    (sh, sw), (ph, pw) = _ntuple(stride, 2), _ntuple(padding, 2)\n"
        "    x = np.pad(input, [(0, 0), (0, 0), (ph, ph), (pw, pw)])\n"
        "    n, _, h, w = x.shape\n"
        "    c_out, _, kh, kw = weight.shape\n"
        "    out = np.zeros((n, c_out, (h - kh) // sh + 1, (w - kw) // sw + 1), input.dtype)\n"
        "    for i in range(out.shape[2]):\n"
        "        for j in range(out.shape[3]):\n"
        "            patch = x[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]\n"
        "            out[:, :, i, j] = np.einsum('nchw,ochw->no', patch, weight)\n"
        "    return out if bias is None else out + bias[None, :, None, None]\n")
    page.keyboard.press("Shift+Enter")
    page.keyboard.press("Shift+Enter")
    passed = _cell(page, 'check("conv2d_loop", conv2d_loop)')
    passed.locator("text=visible cases match torch").wait_for(timeout=60_000)
    passed.scroll_into_view_if_needed()
    _shot(page, "03-exercise-passes")

    page.get_by_role("button", name="Validate").first.click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=180_000)
    dialog.locator(".jp-Dialog-content").wait_for(timeout=180_000)
    page.wait_for_timeout(1000)
    _shot(page, "04-validate")
    assert dialog.inner_text().strip()
    assert not crashes, crashes


def test_instructor_sees_the_assignments_in_formgrader(page_factory, lab):
    base, token, _ = lab
    page = page_factory(viewport={"width": 1400, "height": 900})
    page.goto(f"{base}/formgrader?token={token}")
    page.locator(f"text={CHAPTER}").first.wait_for(timeout=90_000)
    _shot(page, "05-formgrader")
