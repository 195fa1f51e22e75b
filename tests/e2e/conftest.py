"""Browser tests: Debian's chromium driven by Playwright against the live server.

Skipped (not failed) when chromium or playwright is missing. The live server is threaded: the
portal calls the simulator mounted on that same server over HTTP.
"""

import os
import shutil
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
def new_page(browser, live_server):
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
    assert not [p for p in problems if "favicon" not in p], problems
