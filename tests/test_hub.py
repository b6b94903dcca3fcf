"""One course round on the hub `make hub` starts, in a real browser (Playwright + chromium).

The course is a `git clone` of this repository into a folder only root can enter (0700),
as on machines where the course lives under /root: the users' servers must start all the
same. The hub is started by `make hub` itself, on its own configuration (deploy/hub/),
with test users it creates (and removes afterwards). The instructor releases chapter 01
from Formgrader; three students fetch it from the Assignment List and submit — a correct
answer, torch smuggled through `exec` of a base64 string, a notebook that is not JSON —
the instructor collects and autogrades from Formgrader (the trusted grader: full marks,
0 with the torch-used flag, 0 with the reason), generates and releases feedback, and a
student fetches it: verdicts, no hidden test. A screenshot of each step: artifacts/hub/.

Needs root (users), /usr/bin/chromium, npm and /usr/bin/python3; skipped without them,
unless LFS_REQUIRE_BROWSER=1 (CI), where a missing piece fails.
"""
from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest
from browsertools import require_browser, wait_for_server
from hub_submissions import BROKEN, CHAPTER, GOOD, NOT_JSON, SMUGGLED, SMUGGLER, answered

from autograder import course

ARTIFACTS = course.COURSE_ROOT / "artifacts" / "hub"
INSTRUCTOR = "lfs-t-teacher"
STUDENTS = (GOOD, SMUGGLER, BROKEN)

require_browser([what for what, ok in (("root", os.geteuid() == 0), ("npm", shutil.which("npm")),
                                        ("/usr/bin/python3", Path("/usr/bin/python3").exists()),
                                        ("git", shutil.which("git"))) if not ok])

playwright = pytest.importorskip("playwright.sync_api")


# The hub ---------------------------------------------------------------------------

def _free_base_port() -> int:
    """A port whose next two are free too (the hub's API and the proxy's)."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port + 2 >= 65535:
            continue
        try:
            for extra in (1, 2):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port + extra))
            return port
        except OSError:
            continue
    raise RuntimeError("no three free ports in a row")


def _remove_users():
    for name in (INSTRUCTOR, *STUDENTS):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)
        subprocess.run(["userdel", "--remove", name], capture_output=True)


@pytest.fixture(scope="module")
def hub():
    private = Path(tempfile.mkdtemp(prefix="lfs-private-"))
    private.chmod(0o700)  # the course where no other user can enter, as under /root
    clone = private / "course"
    subprocess.run(["git", "clone", "--quiet", str(course.COURSE_ROOT), str(clone)], check=True)
    # The clone uses this checkout's environment (make venv was run here); -o keeps make
    # from rebuilding it. Everything else `make hub` builds or installs itself.
    (clone / ".venv").symlink_to(course.COURSE_ROOT / ".venv")
    home = Path(tempfile.mkdtemp(prefix="lfs-hub-"))
    home.chmod(0o755)
    _remove_users()
    port = _free_base_port()
    log = open(private / "hub.log", "w")
    make = subprocess.Popen(
        [
            "make",
            "--no-print-directory",
            "-o",
            ".venv/.installed",
            "hub",
            f"HUB_HOME={home}",
            "HUB_IP=127.0.0.1",
            f"HUB_PORT={port}",
            f"INSTRUCTOR={INSTRUCTOR}",
            f"STUDENTS={' '.join(STUDENTS)}",
        ],
        cwd=clone,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        # 900 s: the users' environment is built once per machine.
        wait_for_server(f"{base}/hub/api", make, 900, private / "hub.log", "make hub")
        passwords = dict(line.split(":", 1) for line in
                         (home / "hub" / "passwords").read_text().splitlines())
        yield base, passwords, home, clone
    finally:
        os.killpg(make.pid, signal.SIGTERM)  # the hub stops its users' servers as it stops
        try:
            make.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(make.pid, signal.SIGKILL)
        log.close()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(private / "hub.log", ARTIFACTS / "hub.log")
        _remove_users()
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(private, ignore_errors=True)




def _shot(page, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)


def _login(browser, base, user, password):
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    page.goto(f"{base}/hub/login")
    page.fill("#username_input", user)
    page.fill("#password_input", password)
    page.click("#login_submit")
    page.wait_for_url(f"**/user/{user}/lab**", timeout=240_000)
    page.locator(".jp-LabShell, #jp-main-dock-panel").first.wait_for(timeout=240_000)
    page.get_by_role("menuitem", name="Nbgrader", exact=True).first.wait_for(timeout=120_000)
    return page


def _nbgrader_menu(page) -> list[str]:
    page.get_by_role("menuitem", name="Nbgrader", exact=True).first.click()
    items = page.locator(".lm-Menu-content .lm-Menu-itemLabel").all_inner_texts()
    page.keyboard.press("Escape")
    return items


def _assignment_list(page):
    page.get_by_role("menuitem", name="Nbgrader", exact=True).first.click()
    page.get_by_role("menuitem", name="Assignment List").first.click()
    panel = page.locator("#nbgrader-assignment-list")
    panel.wait_for(timeout=60_000)
    return panel


def _formgrader(page, base, path="manage_assignments"):
    page.goto(f"{base}/user/{INSTRUCTOR}/formgrader/{path}")
    page.locator("table").first.wait_for(timeout=60_000)


def _row(page, text):
    return page.locator("tr").filter(has_text=text).first


def _action(page, row, cell_class, timeout=300_000):
    """Click a Formgrader row's action and close the dialog that reports on it."""
    row.locator(f"td.{cell_class} a").first.click()
    dialog = page.locator(".modal.in").first
    dialog.wait_for(timeout=timeout)
    text = (
        dialog.locator(".modal-title").inner_text()
        + "\n"
        + dialog.locator(".modal-body").inner_text()
    )
    dialog.locator(".modal-footer button").first.click()
    page.locator(".modal").first.wait_for(state="detached", timeout=30_000)
    return text


def _as_user(user, path: Path, text: str):
    entry = pwd.getpwnam(user)
    path.write_text(text, encoding="utf-8")
    os.chown(path, entry.pw_uid, entry.pw_gid)


def test_a_course_round_on_the_hub(hub, browser):
    base, passwords, home, clone = hub

    # What a student's account can read: not the course's clone, not the instructor's copy
    # (answers, gradebook), not another student's home.
    teacher_home = Path(pwd.getpwnam(INSTRUCTOR).pw_dir)
    for secret in (
        clone / "solutions" / CHAPTER / f"{CHAPTER}.ipynb",
        teacher_home / "layers-from-scratch" / "solutions" / CHAPTER / f"{CHAPTER}.ipynb",
        Path(pwd.getpwnam(BROKEN).pw_dir),
    ):
        peek = subprocess.run(["runuser", "-u", GOOD, "--", "ls", str(secret)], capture_output=True)
        assert peek.returncode != 0, f"{GOOD} can read {secret}"

    # The instructor: Formgrader in the menu, the chapter released from it.
    teacher = _login(browser, base, INSTRUCTOR, passwords[INSTRUCTOR])
    assert "Formgrader" in _nbgrader_menu(teacher)
    _formgrader(teacher, base)
    row = _row(teacher, CHAPTER)
    row.wait_for(timeout=60_000)
    _shot(teacher, "01-formgrader-assignments")
    assert "Success" in _action(teacher, _row(teacher, CHAPTER), "assign")
    assert "Success" in _action(teacher, _row(teacher, CHAPTER), "release")
    _row(teacher, CHAPTER).locator("text=released").wait_for(timeout=30_000)
    _shot(teacher, "02-released")

    # Three students fetch it; each hands in their notebook from the Assignment List.
    contents = {GOOD: json.dumps(answered()), SMUGGLER: json.dumps(answered(SMUGGLED)),
                BROKEN: NOT_JSON}
    for n, student in enumerate(STUDENTS):
        page = _login(browser, base, student, passwords[student])
        assert "Formgrader" not in _nbgrader_menu(page), "a student must not get Formgrader"
        panel = _assignment_list(page)
        panel.locator("button", has_text="Fetch").first.click()
        panel.locator("button", has_text="Submit").first.wait_for(timeout=60_000)
        fetched = Path(pwd.getpwnam(student).pw_dir) / CHAPTER / f"{CHAPTER}.ipynb"
        assert fetched.exists()
        _as_user(student, fetched, contents[student])  # the student's work
        _shot(page, f"03-{n}-fetched-{student}")
        panel.locator("button", has_text="Submit").first.click()
        panel.locator("#submitted_assignments_list").locator(f"text={CHAPTER}").first.wait_for(timeout=60_000)
        _shot(page, f"04-{n}-submitted-{student}")
        page.context.close()

    # Collect, then autograde each submission from Formgrader.
    _formgrader(teacher, base)
    assert "Success" in _action(teacher, _row(teacher, CHAPTER), "collect")
    _formgrader(teacher, base, f"manage_submissions/{CHAPTER}")
    for student in STUDENTS:
        _row(teacher, student).wait_for(timeout=30_000)
        assert "Success" in _action(teacher, _row(teacher, student), "autograde")
    _formgrader(teacher, base, f"manage_submissions/{CHAPTER}")
    scores = {s: _row(teacher, s).locator("td.score").inner_text().strip() for s in STUDENTS}
    _shot(teacher, "05-autograded")
    assert scores[GOOD] == "11 / 11", scores
    assert scores[BROKEN] == "0 / 11", scores
    assert scores[SMUGGLER] != "11 / 11", scores  # plain nbgrader gave it full marks

    views = {}
    for student in (SMUGGLER, BROKEN):
        teacher.goto(f"{base}/user/{INSTRUCTOR}/formgrader/manage_students/{student}/{CHAPTER}")
        teacher.locator("td a").filter(has_text=CHAPTER).first.click()
        teacher.locator("text=The grader's report").first.wait_for(timeout=60_000)
        views[student] = teacher.locator("body").inner_text()
        _shot(teacher, f"06-submission-{student}")
        if student == SMUGGLER:  # the exercise's own verdict, further down
            teacher.locator("text=no credit: torch-used").first.scroll_into_view_if_needed()
            _shot(teacher, f"06-submission-{student}-test_conv2d")
    assert "flag torch-used" in views[SMUGGLER]
    assert "not valid JSON" in views[BROKEN]
    graded = json.loads(
        (
            Path(pwd.getpwnam(INSTRUCTOR).pw_dir)
            / "layers-from-scratch"
            / "autograded"
            / SMUGGLER
            / CHAPTER
            / f"{CHAPTER}.ipynb"
        ).read_text()
    )
    conv = next(
        c
        for c in graded["cells"]
        if c["metadata"].get("nbgrader", {}).get("grade_id") == "test_conv2d"
    )
    assert (
        conv["outputs"][0]["output_type"] == "error"
        and "torch-used" in conv["outputs"][0]["evalue"]
    )

    # Feedback: generated and released from Formgrader, fetched by the smuggler.
    _formgrader(teacher, base)
    assert "Success" in _action(teacher, _row(teacher, CHAPTER), "generate-feedback")
    assert "Success" in _action(teacher, _row(teacher, CHAPTER), "release-feedback")
    _shot(teacher, "07-feedback-released")
    page = _login(browser, base, SMUGGLER, passwords[SMUGGLER])
    panel = _assignment_list(page)
    panel.locator("button", has_text="Fetch Feedback").first.click()
    panel.locator("text=(view feedback)").first.wait_for(timeout=60_000)
    _shot(page, "08-feedback-fetched")
    html = next((Path(pwd.getpwnam(SMUGGLER).pw_dir) / CHAPTER / "feedback").rglob("*.html"))
    relative = html.relative_to(pwd.getpwnam(SMUGGLER).pw_dir)
    page.goto(f"{base}/user/{SMUGGLER}/files/{relative}")
    page.locator("text=torch-used").first.wait_for(timeout=60_000)
    _shot(page, "09-feedback")
    text = page.locator("body").inner_text()
    page.locator("text=no credit: torch-used").first.scroll_into_view_if_needed()
    _shot(page, "10-feedback-test_conv2d")
    assert "cases match torch" in text and "torch-used" in text
    assert "hidden=True" not in text and "BEGIN HIDDEN TESTS" not in text
