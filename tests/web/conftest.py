"""Fixtures for the web tests: a signed-up browser-less client (httpx) and a headless Chromium (Playwright)."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Hub

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
PASSWORD = "correct horse battery"


def unique(prefix: str = "w") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF field on the page"
    return m.group(1)


class WebClient:
    """An httpx client that keeps its cookies, like a browser, and knows the page's CSRF token."""

    def __init__(self, hub: Hub) -> None:
        self.http = httpx.Client(base_url=hub.url, follow_redirects=True, timeout=60)
        self.user: str | None = None

    def get(self, url: str, **kw: Any) -> httpx.Response:
        return self.http.get(url, headers={"accept": "text/html"}, **kw)

    def post_form(self, page: str, url: str, data: dict[str, str], **kw: Any) -> httpx.Response:
        """POST `data` to `url` with the CSRF token of `page`, as the form there would."""
        token = csrf_of(self.get(page).text)
        return self.http.post(url, data={"csrf_token": token, **data}, **kw)

    def sign_up(self, name: str | None = None) -> str:
        name = name or unique("u")
        r = self.post_form(
            "/signup",
            "/signup",
            {"name": name, "email": f"{name}@example.org", "password": PASSWORD, "password2": PASSWORD},
        )
        assert r.status_code == 200, r.text
        assert f'href="/{name}"' in r.text
        self.user = name
        return name

    def token(self, role: str = "write") -> str:
        r = self.post_form("/settings/tokens", "/settings/tokens", {"action": "create", "name": "t", "role": role})
        m = re.search(r'<code id="new-token">([^<]+)</code>', r.text)
        assert m, r.text
        return m.group(1)


@pytest.fixture
def web(sqlite_hub: Hub) -> Iterator[WebClient]:
    client = WebClient(sqlite_hub)
    yield client
    client.http.close()


@pytest.fixture
def anon(sqlite_hub: Hub) -> Iterator[WebClient]:
    client = WebClient(sqlite_hub)
    yield client
    client.http.close()


# --- Playwright ------------------------------------------------------------------------------------------


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.stash[_FAILED] = report.failed


_FAILED = pytest.StashKey[bool]()


_running: list[Any] = []  # the one browser of this process


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Chromium, once per process. Other test packages import this fixture, which makes pytest register it
    once per package; a second sync_playwright() in one process fails ("Sync API inside the asyncio loop"),
    so later registrations share the first one's browser."""
    if _running:
        yield _running[0]
        return
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("Chromium must be installed in CI (.ci/run installs it)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        _running.append(b)
        try:
            yield b
        finally:
            _running.clear()
            b.close()


@pytest.fixture
def new_page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Opens pages in fresh browser contexts (each its own cookie jar); screenshots them if the test fails."""
    contexts: list[Any] = []

    def make() -> Any:
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        return page

    yield make
    if request.node.stash.get(_FAILED, False):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for i, context in enumerate(contexts):
            for j, page in enumerate(context.pages):
                page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-{i}-{j}.png"), full_page=True)
    for context in contexts:
        context.close()


@pytest.fixture(scope="session", autouse=True)
def _clean_artifacts() -> None:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
