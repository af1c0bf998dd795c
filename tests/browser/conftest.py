"""Debian's headless Chromium driven by Playwright, against a live gunicorn service.

Playwright's own browser download is never used (no `playwright install`): the
tests launch /usr/bin/chromium (Debian's `chromium` package) with a fresh
profile. Without it they skip, saying why, unless CDS_TEST_REQUIRE_BROWSER=1
(as in .ci/run), where a missing browser is a failure.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

import pytest
import requests

from tests.support.processes import run_service

CHROMIUM = Path(os.environ.get("CDS_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
#: Generous bound for one UI step (a hook call, a feedback post): catches a hang, not slowness.
STEP_TIMEOUT_MS = 15_000


def _unavailable() -> str | None:
    if not CHROMIUM.is_file():
        return f"{CHROMIUM} not found (Debian: apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="session")
def browser():
    reason = _unavailable()
    if reason:
        if os.environ.get("CDS_TEST_REQUIRE_BROWSER") == "1":
            pytest.fail(f"CDS_TEST_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # launch() without a user data dir: a fresh temporary profile, removed at close.
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _service_env(var: Path, **extra: str) -> dict[str, str]:
    return {"CDS_STORE_PATH": str(var / "store.sqlite3"), "CDS_REPLAY_CACHE_PATH": str(var / "replay.sqlite3"),
            "CDS_LOG_LEVEL": "WARNING", **extra}


@pytest.fixture(scope="session")
def console_service(browser, tmp_path_factory):
    """The service as `make run` starts it: JWT checks off, demo patients on."""
    var = tmp_path_factory.mktemp("console")
    env = _service_env(var, CDS_AUTH_DISABLED="true", CDS_DEMO_ENABLED="true")
    with run_service(env=env, log_path=var / "service.log") as base:
        yield base


@pytest.fixture(scope="session")
def locked_service(browser, tmp_path_factory):
    """JWT checks on and no trusted issuer (every hook call is 401); demo patients off."""
    var = tmp_path_factory.mktemp("console-locked")
    env = _service_env(var, CDS_AUTH_DISABLED="false", CDS_DEMO_ENABLED="false", CDS_TRUSTED_ISSUERS="{}")
    with run_service(env=env, workers=1, log_path=var / "service.log") as base:
        yield base


@pytest.fixture(scope="session")
def demo_catalog(console_service) -> dict:
    return requests.get(console_service + "/demo/patients", timeout=5).json()


class PageProblems:
    """JavaScript exceptions and CSP violations seen by a page: a test fails on any."""

    def __init__(self, page):
        self.items: list[str] = []
        page.on("pageerror", lambda error: self.items.append(f"uncaught: {error}"))
        page.on("console", self._console)

    def _console(self, message) -> None:
        # Failed HTTP calls the test provokes (400, 401) are logged by Chromium too: not problems.
        if message.type == "error" and not re.search(r"Failed to load resource: the server responded", message.text):
            self.items.append(f"console: {message.text}")


@contextlib.contextmanager
def page_opener(browser, viewport: dict):
    """A function that opens a URL in a fresh context, checks the answer and waits for the page's
    start-up; on exit every context is closed and no page may have reported a problem."""
    contexts = []
    problems: list[PageProblems] = []

    def _open(url: str):
        context = browser.new_context(viewport=viewport, locale="en-GB")
        context.set_default_timeout(STEP_TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        problems.append(PageProblems(page))
        reply = page.goto(url)
        assert reply is not None and reply.status == 200, url
        page.locator("body[data-ready=true]").wait_for()
        return page

    yield _open
    for context in contexts:
        context.close()
    seen = [item for p in problems for item in p.items]
    assert not seen, f"the page reported problems: {seen}"


@pytest.fixture
def open_console(browser):
    """A function that opens the console of a service in a fresh context and waits for start-up."""
    with page_opener(browser, {"width": 1400, "height": 1000}) as open_url:
        yield lambda base: open_url(base + "/")
