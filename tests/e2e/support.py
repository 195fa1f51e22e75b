"""Helpers of the browser tests."""


def login(page, username: str, password: str) -> None:
    """Sign in through the login form and wait for the home page."""
    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/")


def open_terminal_screen(page, terminal_id: str) -> None:
    """Opens the simulator's screen of a terminal. With nothing to show, that screen refreshes
    itself every 2 s (a meta refresh); a `goto` that starts as the refresh fires is interrupted
    (leaving the screen for a blank page as much as coming back to it), so the pair of
    navigations is retried, a few times at most."""
    from playwright.sync_api import Error

    for attempt in range(3):
        try:
            page.goto("about:blank")
            page.goto(f"/simulator/terminals/{terminal_id}/")
            return
        except Error as exc:
            if "interrupted by another navigation" not in str(exc) or attempt == 2:
                raise
