"""Browser tests: Debian's chromium driven by Playwright against the live server.

Skipped (not failed) when chromium or playwright is missing. The live server is threaded: the
portal calls the simulator mounted on that same server over HTTP.
"""

import os
import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest

# Playwright's sync API runs an event loop in this thread; Django's ORM calls from the test body
# are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("ECR_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser():
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"chromium not found at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS
        )
        yield browser
        browser.close()


class RequestsInFlight:
    """Counts the live server's requests from the moment the portal's application starts on one
    until its response is closed (Django's request_finished: the request's database work is over).

    Closing a browser context does not stop what the server is already doing for it: a live box's
    refresh may be writing the intent's answer while the test ends. Flushing the database under
    such a request is what broke CI once: the flush failed on PostgreSQL, and the next test found
    the last one's rows. Requests, not connections, are counted: a kept-alive connection (the
    browser's, the portal's own client to the simulator) stays open between requests doing nothing.
    """

    # A request the browser sent just before its context closed may not have reached the
    # application yet: the server must stay idle this long before it counts as idle.
    QUIET_S = 0.3

    def __init__(self, httpd) -> None:
        self._count = 0
        self._changes = 0
        self._idle = threading.Condition()
        application = httpd.get_app()

        def counted(environ, start_response):
            self._change(+1)
            try:
                response = application(environ, start_response)
            except BaseException:
                self._change(-1)
                raise
            return _ClosingResponse(response, lambda: self._change(-1))

        httpd.set_app(counted)

    @property
    def in_flight(self) -> int:
        with self._idle:
            return self._count

    def _change(self, step: int) -> None:
        with self._idle:
            self._count += step
            self._changes += 1
            self._idle.notify_all()

    def wait_idle(self, timeout_s: float = 60) -> None:
        """Returns once no request has been in flight, nor started, for QUIET_S."""
        deadline = time.monotonic() + timeout_s
        with self._idle:
            while True:
                while self._count:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise AssertionError(
                            f"the live server still had {self._count} request(s) in flight "
                            f"{timeout_s:.0f} s after the test's browser closed"
                        )
                    self._idle.wait(left)
                changes = self._changes
                quiet_until = time.monotonic() + self.QUIET_S
                while self._changes == changes and time.monotonic() < quiet_until:
                    self._idle.wait(quiet_until - time.monotonic())
                if self._changes == changes:
                    return


class _ClosingResponse:
    """A WSGI response that calls `on_close` once the server has closed it (the server always
    does, even when writing the response failed)."""

    def __init__(self, response, on_close) -> None:
        self._response, self._on_close = response, on_close

    def __iter__(self):
        return iter(self._response)

    def close(self) -> None:
        try:
            if hasattr(self._response, "close"):
                self._response.close()
        finally:
            self._on_close()


@pytest.fixture(scope="session")
def requests_in_flight(live_server) -> RequestsInFlight:
    return RequestsInFlight(live_server.thread.httpd)


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def simulated(live_server, transactional_db, merchant, credential, terminal_a, terminal_b):
    """The persona credential pointed at the live server's simulator, terminals registered."""
    credential.base_url = f"{live_server.url}/simulator"
    credential.save()
    with httpx.Client(base_url=f"{credential.base_url}/control", timeout=10) as http:
        for path, body in [
            ("reset", {"all": True}),
            (
                "credentials",
                {
                    "public_key": credential.public_key,
                    "secret_key": credential.get_secret(),
                    "cuit": merchant.cuit,
                    "environment": credential.environment,
                    "merchant_name": merchant.legal_name,
                },
            ),
            ("terminals", {"terminal_id": terminal_a.terminal_id, "cuit": merchant.cuit}),
            ("terminals", {"terminal_id": terminal_b.terminal_id, "cuit": merchant.cuit}),
        ]:
            response = http.post(f"/{path}", json=body)
            assert response.status_code < 400, (path, response.text)
    return live_server


@pytest.fixture
def new_page(browser, live_server, requests_in_flight):
    """`new_page()`: a page in a fresh browser context (its own cookies), with a list of the
    console errors and CSP violations it saw, checked at the end of the test. A test that
    provokes an error on purpose (a 403 the browser logs) names it: `new_page(expected=("403",))`.
    """
    contexts, problems = [], []

    def _new_page(expected: tuple[str, ...] = ()):
        def record(text: str) -> None:
            if not any(part in text for part in expected):
                problems.append(text)

        context = browser.new_context(
            base_url=live_server.url, viewport={"width": 1280, "height": 900}, locale="es-AR"
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on(
            "console",
            lambda msg: (
                record(f"{msg.text} ({msg.location.get('url', '')})")
                if msg.type == "error"
                else None
            ),
        )
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        return page

    yield _new_page
    for context in contexts:
        context.close()
    # Before the database is flushed (transactional_db tears down after this fixture).
    requests_in_flight.wait_idle()
    assert not [p for p in problems if "favicon" not in p], problems
