"""The console in a real Chromium: real `setpoint ui` and `setpoint server` processes, real workflows, Playwright.

Chromium is Debian's (``/usr/bin/chromium``, installed by ``.ci/run``); these tests never skip.
Every page opened through the ``page`` fixture fails its test on an uncaught script error or a
Content-Security-Policy violation, so the strict CSP is exercised by every test. Screenshots go to
the artifact dir (``$SETPOINT_TEST_ARTIFACTS/browser``, by default under the system's temp dir) and,
with ``SETPOINT_UPDATE_SCREENSHOTS=1``, to ``docs/img/console-*.png`` for the docs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.e2e.cli_util import cli_env, setpoint
from tests.support.server_proc import REPO, ServerProcess, free_port, start_server

WF = "tests/browser/wf_console.py"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = (
    Path(os.environ.get("SETPOINT_TEST_ARTIFACTS", Path(tempfile.gettempdir()) / "setpoint-test-artifacts")) / "browser"
)
DOCS_IMG = REPO / "docs" / "img"
UPDATE_DOCS = os.environ.get("SETPOINT_UPDATE_SCREENSHOTS") == "1"
TERMINAL = {"SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"}


@dataclass
class Console:
    """A running server with the test workflows registered, and an HTTP client for setting up."""

    server: ServerProcess
    admin_tokens: dict[str, str] = field(default_factory=dict)  # project -> token (none without auth)

    def headers(self, project: str) -> dict[str, str]:
        token = self.admin_tokens.get(project)
        return {"Authorization": f"Bearer {token}"} if token else {}

    @property
    def url(self) -> str:
        return self.server.url

    def api(self, project: str) -> str:
        return f"{self.url}/api/v1/projects/{project}"

    def launch(self, workflow: str, project: str = "team", **inputs: Any) -> str:
        r = httpx.post(
            f"{self.api(project)}/executions",
            json={"workflow": workflow, "inputs": inputs},
            headers=self.headers(project),
            timeout=30,
        )
        assert r.status_code == 201, r.text
        eid: str = r.json()["id"]
        return eid

    def execution(self, eid: str, project: str = "team") -> dict[str, Any]:
        r = httpx.get(f"{self.api(project)}/executions/{eid}", headers=self.headers(project), timeout=30)
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out

    def wait(self, eid: str, project: str = "team", timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            got = self.execution(eid, project)
            if got["phase"] in TERMINAL:
                return got
            assert time.monotonic() < deadline, f"{eid} still {got['phase']} after {timeout}s"
            time.sleep(0.1)

    def token(self, project: str, role: str) -> str:
        out = setpoint(self.server.home, "token", "create", "--project", project, "--role", role, check=True)
        return out.stdout.strip()


def _register(home: Path, project: str) -> None:
    setpoint(home, "register", WF, "--project", project, check=True)


def start_ui(home: Path, wait_s: float = 60) -> ServerProcess:
    """`setpoint ui` over ``home`` on a free port, once it answers."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "setpoint.cli.main", "--home", str(home), "ui", "--port", str(port)],
        cwd=REPO,
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + wait_s
    while True:
        assert proc.poll() is None, f"setpoint ui exited {proc.returncode}: {proc.communicate()[1]}"
        try:
            if httpx.get(f"{url}/console/session", timeout=5).status_code == 200:
                return ServerProcess(url, home, proc)
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"setpoint ui did not answer on {url} within {wait_s}s"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """`setpoint ui` (the local home, no tokens) with the workflows in project "team"."""
    home = tmp_path_factory.mktemp("console") / "home"
    _register(home, "team")
    server = start_ui(home)
    try:
        yield Console(server)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """`setpoint server` with tokens, the workflows in projects "team" and "other"."""
    home = tmp_path_factory.mktemp("secured") / "home"
    _register(home, "team")
    _register(home, "other")
    server = start_server(home)
    try:
        c = Console(server)
        c.admin_tokens = {p: c.token(p, "admin") for p in ("team", "other")}
        yield c
    finally:
        server.stop()


# Package scope, not session: Playwright's sync API keeps an event loop running in the main thread
# while it is open, and the rest of the suite (asyncio.run in @eager bodies, for one) must not see it.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    b = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    try:
        yield b
    finally:
        b.close()


NewPage = Callable[..., Page]


@pytest.fixture
def new_page(browser: Browser) -> Iterator[NewPage]:
    """Pages in fresh contexts (own cookies); each fails the test on a script error or a CSP violation."""
    contexts: list[BrowserContext] = []
    problems: list[str] = []

    def make(**options: Any) -> Page:
        ctx = browser.new_context(viewport={"width": 1400, "height": 900}, **options)
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(20_000)
        page.on("pageerror", lambda e: problems.append(f"script error: {e}"))
        page.on(
            "console",
            lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
        )
        return page

    yield make
    for ctx in contexts:
        ctx.close()
    assert problems == [], problems


@pytest.fixture
def page(new_page: NewPage) -> Page:
    return new_page()


def shot(page: Page, name: str) -> None:
    """A screenshot for the test's artifacts (and the docs when asked for)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    data = page.screenshot(full_page=False)
    (ARTIFACTS / f"console-{name}.png").write_bytes(data)
    if UPDATE_DOCS:
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        (DOCS_IMG / f"console-{name}.png").write_bytes(data)
