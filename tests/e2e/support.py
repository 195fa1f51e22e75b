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
    itself every 2 s (a meta refresh); a `goto` that starts as the refresh fires is interrupted,
    so the page first leaves it for a blank one and the navigation is retried once if it still
    collides."""
    from playwright.sync_api import Error

    page.goto("about:blank")
    for attempt in range(2):
        try:
            page.goto(f"/simulator/terminals/{terminal_id}/")
            return
        except Error as exc:
            if "interrupted by another navigation" not in str(exc) or attempt:
                raise
