"""Helpers of the browser tests."""


def until(page, expression: str, timeout_s: float = 15) -> None:
    """Waits for a JS expression to be true.

    Never `page.wait_for_function`: Playwright runs its predicate through `eval` on later
    polls, which the site's CSP (no 'unsafe-eval') refuses. Whether a test met that depended
    on timing (true at the first poll, or not), so it failed once in CI and passed locally.
    `evaluate` goes through the debugger, which the CSP does not govern.
    """
    for _ in range(int(timeout_s * 10)):
        if page.evaluate(f"() => Boolean({expression})"):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"never true: {expression}")


def login(page, username: str, password: str) -> None:
    """Sign in through the login form and wait for the home page."""
    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/")


def open_terminal_screen(page, terminal_id: str):
    """Opens the simulator's screen of a terminal and returns the page showing it.

    With nothing to show, that screen refreshes itself every 2 s (a meta refresh), and a `goto`
    on a page whose refresh is due is interrupted by it (CI saw it even with retries). So a page
    that already shows something is not navigated again: the screen opens in a new page of the
    same browser context (same cookies) and the old page is closed, taking its pending refresh
    with it. Callers keep the returned page.

    The close is asked for, not waited for (`run_before_unload=True`; the screen has no unload
    handler): once in CI, closing a screen whose refresh was starting never returned and the
    test hung until its timeout. Nothing waits on the old page after this.
    """
    if page.url != "about:blank":
        fresh = page.context.new_page()
        page.close(run_before_unload=True)
        page = fresh
    page.goto(f"/simulator/terminals/{terminal_id}/")
    return page
