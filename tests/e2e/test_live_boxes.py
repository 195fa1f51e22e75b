"""The charge box for keyboard and screen-reader users, and a session that ends mid-charge
(issue 12, items 5 and 13), at phone size in a real browser."""

import pytest

from tests.e2e.support import login, open_terminal_screen, until
from tests.factories import DEFAULT_PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


FOCUS_JS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  return {inCharge: !!el.closest('#charge-area'), cls: el.className, tag: el.tagName};
}"""


def test_the_charge_result_is_announced_and_focus_is_never_lost(
    simulated, new_page, manager_a, terminal_a
):
    page = new_page()
    page.set_viewport_size(PHONE)
    login(page, "encargado_a", DEFAULT_PASSWORD)
    page.goto(f"/terminales/{terminal_a.public_id}/")
    assert page.locator("#announcer[aria-live=polite][role=status]").count() == 1
    page.fill("#id_amount", "1500")
    page.focus("[data-action=charge]")
    page.keyboard.press("Enter")
    page.wait_for_selector(".intent-live[data-state=pending]")
    # The button that had focus is gone: focus goes to the box that replaced it.
    until(page, "document.activeElement && document.activeElement !== document.body")
    focus = page.evaluate(FOCUS_JS)
    assert focus and focus["inCharge"], focus
    until(page, "document.getElementById('announcer').textContent.includes('Esperando')")

    terminal = new_page()
    open_terminal_screen(terminal, terminal_a.terminal_id)
    terminal.click("[data-testid=pick]")
    terminal.click("[data-testid=pay-visa_credito]")

    page.wait_for_selector(".intent-live[data-state=approved]")
    until(page, "document.getElementById('announcer').textContent.includes('Aprobada')")
    assert "$ 1.500,00" in page.inner_text("#announcer")
    # Several polls replaced the box meanwhile; focus followed it each time.
    focus = page.evaluate(FOCUS_JS)
    assert focus and focus["inCharge"], focus


def test_a_session_ended_elsewhere_sends_the_live_box_to_the_login_page(
    simulated, new_page, manager_a, terminal_a
):
    page = new_page()
    page.set_viewport_size(PHONE)
    login(page, "encargado_a", DEFAULT_PASSWORD)
    terminal_url = f"/terminales/{terminal_a.public_id}/"
    page.goto(terminal_url)
    page.fill("#id_amount", "2500")
    page.click("[data-action=charge]")
    page.wait_for_selector(".intent-live[data-state=pending]")

    # "Salir" in another tab of the same browser.
    other = page.context.new_page()
    other.goto("/")
    other.click("text=Salir")
    other.wait_for_url("**/login/**")

    # The next poll of the live box leaves the page for the login page, back to this page after.
    page.wait_for_url("**/login/?next=*", timeout=10_000)
    assert terminal_url in page.url.replace("%2F", "/")
    assert page.locator("form input[name=password]").count() == 1
    assert page.locator(".intent-live").count() == 0
    assert page.locator("header.topbar").count() == 1  # one page, not a page inside a box
