"""The web edition as a reader uses it, in a real browser (Playwright driving Debian's chromium).

The whole book is built (every notebook executed, answers swapped for the stubs, Sphinx with
sphinx-book-theme) into a temporary ``_build/`` with launch settings of its own, served
on loopback, and read: the contents and its sidebar, every chapter page, a search, the
Chinese terms, the launch links (their form only: nothing here opens them). Then every
file the build wrote is scanned for the answers. Screenshots go to artifacts/book/.

Skipped when /usr/bin/chromium is missing, unless LFS_REQUIRE_BROWSER=1 (CI sets it).
"""
from __future__ import annotations

import functools
import http.server
import json
import socketserver
import threading
from urllib.parse import parse_qs, urlsplit

import pytest
from browsertools import require_browser

from autograder import book as web
from autograder import course

ARTIFACTS = course.COURSE_ROOT / "artifacts" / "book"
# Build settings of this test's own, so that the links are seen to follow them.
SETTINGS = {"jupyterhub_url": "https://hub.example.invalid",
            "binderhub_url": "https://binder.example.invalid",
            "repository_url": "https://github.com/example-org/example-book", "branch": "edition"}
PAGES = [(a, n) for a, names in web.assignments().items() for n in names]

require_browser()

playwright = pytest.importorskip("playwright.sync_api")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    build_dir = tmp_path_factory.mktemp("course") / "_build"
    # The answer scan is this module's own last test (it would otherwise run twice).
    web.build(build_dir, settings=SETTINGS, scan=False)
    handler = functools.partial(_Quiet, directory=str(build_dir / "book"))
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", build_dir
    server.shutdown()




@pytest.fixture
def page(site, browser):
    """A page that records what went wrong: script errors, and any request that failed
    or left this machine (the book must read offline)."""
    base, _ = site
    page = browser.new_page(viewport={"width": 1300, "height": 950})
    page.problems = []
    page.on("pageerror", lambda err: page.problems.append(str(err)))
    page.on("console", lambda msg: msg.type == "error" and "Failed to load resource" not in msg.text
            and page.problems.append(msg.text))
    # Browsers ask for /favicon.ico by themselves; the book declares none.
    page.on("response", lambda r: r.status >= 400 and not r.url.endswith("/favicon.ico")
            and page.problems.append(f"{r.status} {r.url}"))
    page.on("request", lambda r: not r.url.startswith((base, "data:"))
            and page.problems.append(f"left the machine: {r.url}"))
    yield page
    page.close()


def _shot(page, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def _url(page_name: tuple[str, str]) -> str:
    assignment, name = page_name
    return f"notebooks/{assignment}/{name}.html"


def test_contents_page_and_sidebar_list_every_chapter(page, site):
    base, _ = site
    page.goto(f"{base}/index.html")
    sidebar = page.locator(".bd-sidebar-primary nav.bd-docs-nav a.reference.internal")
    hrefs = sidebar.evaluate_all("links => links.map(a => a.getAttribute('href'))")
    for entry in PAGES:
        assert _url(entry) in hrefs, (entry, hrefs)
    contents = page.locator("article .toctree-wrapper > ul > li > a")
    titles = contents.all_inner_texts()
    assert len(titles) == len(web.assignments())
    assert titles[0].startswith("Chapter 00") and "Pooling" in " ".join(titles)
    _shot(page, "01-contents-and-sidebar")
    assert not page.problems, page.problems


def _check_launch_links(page, assignment, name):
    page.locator("button[aria-label='Launch interactive content']").first.click()
    menu = page.locator(".dropdown-menu.show a").first
    menu.wait_for()
    hrefs = page.locator(".dropdown-menu.show a").evaluate_all("links => links.map(a => a.href)")
    notebook = f"notebooks/{assignment}/{name}.ipynb"
    assert (course.COURSE_ROOT / notebook).exists(), "a launch opens the released notebook"
    hub = [h for h in hrefs if h.startswith(SETTINGS["jupyterhub_url"])]
    binder = [h for h in hrefs if h.startswith(SETTINGS["binderhub_url"])]
    assert len(hub) == 1 and len(binder) == 1, hrefs
    # JupyterHub: nbgitpuller clones the repository into a folder named after it, then
    # JupyterLab opens the notebook there.
    parts = urlsplit(hub[0])
    assert parts.path == "/hub/user-redirect/git-pull", hub[0]
    assert parse_qs(parts.query) == {"repo": [SETTINGS["repository_url"]],
                                     "urlpath": [f"lab/tree/example-book/{notebook}"],
                                     "branch": [SETTINGS["branch"]]}, hub[0]
    assert binder[0] == (f"{SETTINGS['binderhub_url']}/v2/gh/example-org/example-book/"
                         f"{SETTINGS['branch']}?urlpath=lab/tree/{notebook}")


@pytest.mark.parametrize("entry", PAGES, ids=["/".join(p) for p in PAGES])
def test_every_chapter_page_renders_with_launch_links(page, site, entry):
    base, build_dir = site
    assignment, name = entry
    assert assignment.split("_", 1)[1] in _url(entry), "the URL names the topic"
    page.goto(f"{base}/{_url(entry)}")
    page.wait_for_load_state("load")
    html = (build_dir / "book" / _url(entry)).read_text(encoding="utf-8")
    if 'class="math' in html:
        page.wait_for_selector("mjx-container", timeout=60_000)
    # Figures and every other image: loaded and decoded, none broken.
    broken = page.evaluate("Array.from(document.images)"
                           ".filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
    assert not broken, broken
    released = json.loads((course.NOTEBOOKS / assignment / f"{name}.ipynb").read_text("utf-8"))
    exercises = [c for c in released["cells"] if c["cell_type"] == "code"
                 and c.get("metadata", {}).get("nbgrader", {}).get("solution")]
    assert html.count("NotImplementedError") >= len(exercises), "every exercise cell shows its stub"
    heading = next(line[2:].strip() for c in released["cells"] if c["cell_type"] == "markdown"
                   for line in "".join(c["source"]).splitlines() if line.startswith("# "))
    # The heading as rendered: markdown's inline code marks are gone.
    assert page.locator("article h1").first.inner_text().strip().rstrip(
        "#"
    ).strip() == heading.replace("`", "")
    figure = page.locator("article .cell_output img").first
    if figure.count():
        figure.scroll_into_view_if_needed()
        _shot(page, f"chapter-{name}-first-figure")
    _check_launch_links(page, assignment, name)
    _shot(page, f"chapter-{name}-launch-menu")
    page.keyboard.press("Escape")
    assert not page.problems, page.problems


def test_search_for_ceil_mode_lands_on_the_pooling_chapter(page, site):
    base, _ = site
    page.goto(f"{base}/index.html")
    page.locator(".bd-sidebar-primary button.search-button-field").first.click()
    field = page.locator("dialog#pst-search-dialog[open] input[name='q']")
    field.fill("ceil_mode")
    _shot(page, "02-search-typed-ceil_mode")
    field.press("Enter")
    results = page.locator("#search-results ul.search li a")
    results.first.wait_for(timeout=30_000)
    _shot(page, "03-search-results-ceil_mode")
    pooling = page.locator("#search-results ul.search li a[href*='05_pooling']").first
    assert pooling.count() == 1, results.evaluate_all("links => links.map(a => a.href)")
    pooling.click()
    page.wait_for_url("**/notebooks/05_pooling/05*.html*")
    assert page.locator("article h1").first.inner_text().startswith("Chapter 05")
    page.locator("article p code", has_text="ceil_mode").first.scroll_into_view_if_needed()
    _shot(page, "04-search-landed-on-pooling")
    assert not page.problems, page.problems


def test_chinese_terms_render_in_a_cjk_font(page, site):
    base, _ = site
    page.goto(f"{base}/notebooks/05_pooling/05a_max_pooling.html")
    term = page.locator("article strong", has_text="池化").first
    term.scroll_into_view_if_needed()
    term.evaluate("e => e.setAttribute('data-cjk-term', '')")
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "[data-cjk-term]"})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    # The fonts the browser really drew the term's glyphs with (no tofu boxes).
    assert any("CJK" in f["familyName"] for f in fonts), fonts
    _shot(page, "05-chinese-terms-pooling")


def test_no_file_of_the_build_holds_an_answer(site):
    _, build_dir = site
    files = {p.relative_to(build_dir).as_posix() for p in build_dir.rglob("*") if p.is_file()}
    # The scan covers pages, sources, the search index and Sphinx's pickled caches.
    assert "book/searchindex.js" in files and "book/index.html" in files
    assert any(f.endswith(".doctree") for f in files) and any(f.endswith(".pickle") for f in files)
    assert any(f.startswith("book/_sources/") and f.endswith(".ipynb") for f in files)
    assert web.leaks(build_dir) == []
