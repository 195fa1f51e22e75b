"""Helpers of the browser tests."""


def login(page, username: str, password: str) -> None:
    """Sign in through the login form and wait for the home page."""
    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/")
