"""What the browser tests share: Debian's chromium driven by Playwright, and the flags that
keep it from reaching for the network of a machine that has none."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def require_browser(missing: list[str] | None = None) -> None:
    """Skip the calling module when chromium (or anything in ``missing``) is absent; fail
    instead when LFS_REQUIRE_BROWSER=1 (CI sets it)."""
    missing = list(missing or []) + ([] if Path(CHROMIUM).exists() else [CHROMIUM])
    if missing:
        if os.environ.get("LFS_REQUIRE_BROWSER") == "1":
            pytest.fail(f"missing with LFS_REQUIRE_BROWSER=1: {', '.join(missing)}", pytrace=False)
        pytest.skip(f"missing: {', '.join(missing)}", allow_module_level=True)


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield chromium
        chromium.close()


def wait_for_server(url: str, process, seconds: float, log: Path, what: str) -> None:
    """Poll ``url`` until it answers; fail with the tail of ``log`` if ``process`` stops
    first or ``seconds`` pass (then the process is killed)."""
    import time
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{what} stopped:\n" + log.read_text()[-3000:])
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    process.kill()
    pytest.fail(f"{what} did not start in {seconds:.0f} s:\n" + log.read_text()[-3000:])
