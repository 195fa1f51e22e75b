"""Issue 12's Tests section in a real browser at phone size (390×844): the store day from the
first charge to the report's figures; a session ended while the charge box polls; a request
refused because the person's role changed mid-session. One browser context per person, no
sleeps: every step waits for what the page shows next."""

import pytest
from django.contrib.sessions.models import Session

from stores.models import Membership
from stores.roles import Role
from tests.e2e.support import login, open_terminal_screen
from tests.factories import DEFAULT_PASSWORD
from transactions.models import Intent
from transactions.states import Kind, State

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def _charge(page, amount: str) -> Intent:
    """Charges `amount` on the terminal page already open; returns the intent once the box
    polls it."""
    page.fill("#id_amount", amount)
    page.click("[data-action=charge]")
    page.wait_for_selector(".intent-live[data-state=pending]")
    return Intent.objects.filter(kind=Kind.PAYMENT).latest("pk")


def _at_the_terminal(screen, terminal_id: str, button: str):
    """The person at the terminal picks the waiting intention and presses `button`; returns
    the page now showing the terminal's screen."""
    screen = open_terminal_screen(screen, terminal_id)
    screen.click("[data-testid=pick]")
    screen.click(f"[data-testid={button}]")
    return screen


def _no_overflow(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width}px wide"


def test_the_store_day_at_phone_size(
    simulated, new_page, artifacts, manager_a, terminal_a, store_a
):
    page = new_page()
    page.set_viewport_size(PHONE)
    screen = page.context.new_page()  # the simulator's terminal screen, same context
    login(page, "encargado_a", DEFAULT_PASSWORD)
    terminal_url = f"/terminales/{terminal_a.public_id}/"
    page.goto(terminal_url)

    # 1. A charge, approved live: the box turns "Aprobada" by itself.
    first = _charge(page, "1.234,56")
    screen = _at_the_terminal(screen, terminal_a.terminal_id, "pay-visa_credito")
    page.wait_for_selector(".intent-live[data-state=approved]")
    assert "$ 1.234,56" in page.inner_text(".intent-live")
    _no_overflow(page)

    # 2. A second charge, cancelled from the box before anyone picks it.
    page.click("[data-action=new-charge]")
    page.wait_for_selector(".charge-form")
    second = _charge(page, "800")
    # The box polls every second but is swapped only when what it shows changes (204
    # otherwise), so Cancelar stays put under the finger: a plain click, Playwright's checks on.
    page.click("[data-action=cancel]")
    page.wait_for_selector(".intent-live[data-state=cancelled]")
    second.refresh_from_db()
    assert second.state == State.CANCELLED

    # A third charge, approved: the one partly refunded below.
    page.click("[data-action=new-charge]")
    page.wait_for_selector(".charge-form")
    third = _charge(page, "2500")
    screen = _at_the_terminal(screen, terminal_a.terminal_id, "pay-mastercard")
    page.wait_for_selector(".intent-live[data-state=approved]")

    # 3. Anular the first: the page asks first, then the terminal confirms the reversal.
    page.goto(f"/intenciones/{first.public_id}/")
    page.click("[data-action=reverse]")
    page.wait_for_selector("[data-confirm]")
    assert "$ 1.234,56" in page.inner_text("[data-confirm]")
    _no_overflow(page)
    page.click("[data-action=confirm]")
    page.wait_for_selector("#intent-panel[data-state=pending]")
    screen = _at_the_terminal(screen, terminal_a.terminal_id, "confirm-reversal")
    page.wait_for_selector("#intent-panel[data-state=approved]")
    page.goto(f"/intenciones/{first.public_id}/")
    assert page.inner_text("#intent-panel .intent-head [data-status]") == "Anulada"

    # 4. Devolver part of the third: a typed amount, confirmed, then the card at the terminal.
    page.goto(f"/intenciones/{third.public_id}/")
    page.fill("[data-action=refund] >> xpath=ancestor::form//input[@name='amount']", "500")
    page.click("[data-action=refund]")
    page.wait_for_selector("[data-confirm]")
    assert "$ 500,00" in page.inner_text("[data-confirm]")
    page.click("[data-action=confirm]")
    page.wait_for_selector("#intent-panel[data-state=pending]")
    screen = _at_the_terminal(screen, terminal_a.terminal_id, "pay-mastercard")
    page.wait_for_selector("#intent-panel[data-state=approved]")
    page.goto(f"/intenciones/{third.public_id}/")
    assert page.inner_text("#intent-panel .intent-head [data-status]") == "Devuelta parcialmente"

    # 5. Close the batch of the store, progress shown live.
    page.goto("/lotes/")
    page.click("[data-action=close-store]")
    page.wait_for_selector("[data-confirm]")
    page.click("[data-action=confirm]")
    page.wait_for_selector(".batch-progress[data-finished=true]", timeout=20_000)
    assert page.locator("[data-ticket]").count() >= 1
    _no_overflow(page)

    # 6. The day's report shows the day's figures.
    page.goto(f"/reportes/diario/?sucursal={store_a.public_id}")
    page.wait_for_selector("[data-kpi=net]")
    kpi = {
        name: page.inner_text(f"[data-kpi={name}]")
        for name in (
            "approved-amount",
            "approved-count",
            "reversal-amount",
            "refund-amount",
            "net",
            "cancelled-count",
        )
    }
    assert kpi == {
        "approved-amount": "$ 3.734,56",
        "approved-count": "2 cobros",
        "reversal-amount": "$ 1.234,56",
        "refund-amount": "$ 500,00",
        "net": "$ 2.000,00",
        "cancelled-count": "1",
    }, kpi
    _no_overflow(page)
    page.screenshot(path=str(artifacts / "store-day-phone-report.png"), full_page=True)


def test_a_session_deleted_mid_charge_sends_the_box_to_login_and_back(
    simulated, new_page, manager_a, terminal_a
):
    page = new_page()
    page.set_viewport_size(PHONE)
    login(page, "encargado_a", DEFAULT_PASSWORD)
    terminal_url = f"/terminales/{terminal_a.public_id}/"
    page.goto(terminal_url)
    _charge(page, "2500")

    # The session ends on the server (expired, or removed by an administrator) while the box
    # keeps polling the charge in progress.
    Session.objects.all().delete()

    page.wait_for_url("**/login/?next=*")
    assert page.locator(".intent-live").count() == 0
    assert page.locator("header.topbar").count() == 1  # one page, not a page inside a box
    page.fill("#id_username", "encargado_a")
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    # Back on the terminal page the person was on, where the charge is still in progress.
    page.wait_for_url(f"**{terminal_url}")
    page.wait_for_selector("#terminal-live [data-terminal-state=busy]")
    page.wait_for_selector("#charge-area .intent-live[data-state=pending]")  # resumed


def test_a_role_removed_mid_session_says_so_in_the_box(new_page, manager_a, terminal_a, store_a):
    # The browser logs the refused request itself ("status of 403"); that one is expected.
    page = new_page(expected=("status of 403 (Forbidden)",))
    page.set_viewport_size(PHONE)
    login(page, "encargado_a", DEFAULT_PASSWORD)
    page.goto("/lotes/")
    # Meanwhile the owner makes the manager a cashier: a cashier does not close batches.
    Membership.objects.filter(user=manager_a).update(role=Role.CASHIER)
    page.click("[data-action=close-store]")
    box = f"#close-{store_a.public_id}"
    page.wait_for_selector(f"{box} [data-refused]")
    text = page.inner_text(box)
    assert "Tu rol no permite: Cerrar lote." in text, text
    assert "recargá la página" in text
    assert not Intent.objects.exists()
