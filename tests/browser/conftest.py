"""Browser tests: Debian's Chromium driven by Playwright against `moderation serve` as a real
process, on a database seeded with the demo data (English, Arabic, Sorani, Kurmanji).

Playwright's own browser download is not reachable here, so the tests launch the Chromium
that `apt-get install chromium` puts on the PATH. Without it (or without Playwright) they
skip on a developer's machine and fail in CI (REQUIRE_POSTGRES=1), where .ci/run installs it.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_serve import run_cli, serving

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
REQUIRED = os.environ.get("REQUIRE_POSTGRES") == "1"
SEED = json.loads((ROOT / "seeds" / "demo.json").read_text(encoding="utf-8"))


def _unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"browser tests are required here but {reason}")
    pytest.skip(reason)


@dataclass
class Server:
    base: str
    env: dict[str, str]
    tokens: dict[str, str] = field(default_factory=dict)

    def call(self, method: str, path: str, body: Any = None, token: str | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
        data = json.dumps(body).encode() if body is not None else None
        sent = {**({"Content-Type": "application/json"} if data else {}), **(headers or {})}
        if token:
            sent["Authorization"] = f"Bearer {self.tokens[token]}"
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers=sent)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, raw, got = response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as error:
            status, raw, got = error.code, error.read(), dict(error.headers)
        return status, got, json.loads(raw) if raw else None

    def submit(self, body: str, name: str = "Test Reader", key: str | None = None) -> str:
        status, _, answer = self.call(
            "POST", f"/v1/articles/{SEED['article']['id']}/comments",
            {"author": {"name": name, "email": f"{abs(hash(name))}@example.org"}, "body": body},
            headers={"Idempotency-Key": key} if key else None)
        assert status == 202, answer
        return answer["id"]

    def comment(self, comment_id: str) -> dict:
        status, _, body = self.call("GET", f"/v1/comments/{comment_id}", token="moderator")
        assert status == 200, body
        return body

    def queue(self) -> list[dict]:
        items, cursor = [], ""
        while True:
            status, _, page = self.call("GET", f"/v1/queue?limit=100{cursor}", token="moderator")
            assert status == 200, page
            items += page["items"]
            if not page["next_cursor"]:
                return items
            cursor = f"&cursor={page['next_cursor']}"


@pytest.fixture(scope="session")
def chromium_path() -> str:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("Playwright is not installed (pip install -e '.[test]')")
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        _unavailable("Chromium is not installed (apt-get install -y chromium)")
    return path


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, chromium_path: str) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("dashboard")
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp / 'dashboard.db'}",
           "MODERATION_LOG_LEVEL": "WARNING",
           "MODERATION_SUBMIT_RATE_LIMIT": "1000/minute",
           # short streams and beats: reconnection is exercised, and a closed tab's stream
           # frees its (sync) worker within a second
           "MODERATION_STREAM_MAX_SECONDS": "3", "MODERATION_STREAM_HEARTBEAT_SECONDS": "1",
           "MODERATION_STREAM_POLL_SECONDS": "0.2",
           # claims run out within a test (the live dashboards show it)
           "MODERATION_CLAIM_SECONDS": "6"}
    run_cli(["db", "upgrade"], env)
    run_cli(["seed"], env)
    server = Server(base="", env=env)
    for name, role in (("moderator", "moderator"), ("second", "moderator"),
                       ("auditor", "auditor"), ("admin", "admin")):
        server.tokens[name] = run_cli(["tokens", "create", "--name", f"browser-{name}",
                                       "--role", role], env).strip()
    with serving(env, 4, tmp / "serve.log") as base:
        server.base = base
        yield server


class Page:
    """A signed-in (or not yet) browser tab, failing the test on any script error or dialog."""

    def __init__(self, context: Any, server: Server):
        self.context = context
        self.server = server
        self.page = context.new_page()
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("dialog", self._dialog)
        self.page.set_default_timeout(8000)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def offline_stream(self) -> None:
        """No live updates in this tab (so a race with another moderator reaches the API)."""
        self.page.route("**/v1/events/stream*", lambda route: route.abort())

    def open(self, path: str = "/dashboard/") -> Any:
        return self.page.goto(self.server.base + path)

    def sign_in(self, token: str = "moderator") -> None:
        self.page.fill("#token", self.server.tokens[token])
        self.page.keyboard.press("Enter")
        self.page.wait_for_selector("#top:not([hidden])")

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.evaluate("document.getElementById('status').hidden = true")  # the toast
        self.page.screenshot(path=str(path), full_page=False)
        return path

    def check_clean(self) -> None:
        assert self.errors == [], self.errors
        assert self.dialogs == [], self.dialogs


@pytest.fixture
def tab(browser: Any, server: Server) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="en-GB")
    page = Page(context, server)
    yield page
    context.close()
    page.check_clean()


@pytest.fixture
def second_tab(browser: Any, server: Server) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = Page(context, server)
    yield page
    context.close()
    page.check_clean()
