"""A store's day in a real browser: charge, approval shown live, reversal, batch close."""

import pytest

from tests.e2e.support import login, open_terminal_screen
from tests.factories import DEFAULT_PASSWORD
from transactions.models import Intent
from transactions.states import Kind

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_manager_runs_the_day(
    simulated, new_page, artifacts, manager_a, cashier_a, terminal_a, store_a
):
    manager = new_page()
    login(manager, "encargado_a", DEFAULT_PASSWORD)
    assert manager.locator("h1").first.inner_text() == "Hoy"

    # Charge on the terminal page; the answer replaces the form without a reload.
    manager.goto(f"/terminales/{terminal_a.public_id}/")
    manager.evaluate("window.__sameDocument = true")
    manager.fill("#id_amount", "1.234,56")
    manager.fill("#id_reference", "TICKET-1")
    manager.click("[data-action=charge]")
    manager.wait_for_selector(".intent-live[data-state=pending]")
    assert manager.locator("[data-action=cancel]").is_visible()

    # A person at the terminal picks the intention and pays with a Visa.
    terminal_screen = new_page()
    terminal_screen = open_terminal_screen(terminal_screen, terminal_a.terminal_id)
    terminal_screen.click("[data-testid=pick]")
    terminal_screen.click("[data-testid=pay-visa_credito]")

    # The first page shows the approval by itself (htmx polling), still the same document.
    manager.wait_for_selector(".intent-live[data-state=approved]")
    assert manager.evaluate("window.__sameDocument") is True
    assert "$ 1.234,56" in manager.inner_text(".intent-live")
    # One truth on the page: the charge box's change refreshes the state box and today's list
    # at once (HX-Trigger), well before their own 3 s / 5 s polls.
    manager.wait_for_selector("#terminal-live [data-terminal-state=idle]", timeout=2_000)
    manager.wait_for_selector("#terminal-today [data-state=approved]", timeout=2_000)
    payment = Intent.objects.get(kind=Kind.PAYMENT)

    # A cashier sees the payment but no reversal button; the manager does.
    cashier = new_page()
    login(cashier, "cajero_a", DEFAULT_PASSWORD)
    cashier.goto(f"/intenciones/{payment.public_id}/")
    cashier.wait_for_selector("#intent-panel[data-state=approved]")
    assert cashier.locator("[data-action=reverse]").count() == 0
    assert cashier.locator("[data-action=refund]").count() == 0

    manager.click("text=Ver detalle")
    manager.wait_for_selector("#intent-panel[data-state=approved]")
    manager.screenshot(path=str(artifacts / "intent.png"), full_page=True)

    # Reverse it: the page asks first, then the reversal goes to the terminal and is confirmed
    # there.
    manager.click("[data-action=reverse]")
    manager.wait_for_selector("[data-confirm]")
    assert "$ 1.234,56" in manager.inner_text("[data-confirm]")
    manager.click("[data-action=confirm]")
    manager.wait_for_selector("#intent-panel[data-state=pending]")
    terminal_screen = open_terminal_screen(terminal_screen, terminal_a.terminal_id)
    terminal_screen.click("[data-testid=pick]")
    terminal_screen.click("[data-testid=confirm-reversal]")
    manager.wait_for_selector("#intent-panel[data-state=approved]")
    assert "Anulación" in manager.inner_text("#intent-panel h1")
    manager.goto(f"/intenciones/{payment.public_id}/")
    assert manager.inner_text("#intent-panel .intent-head [data-status]") == "Anulada"

    # A second sale for the home page, then close the store's batch with live progress.
    manager.goto(f"/terminales/{terminal_a.public_id}/")
    manager.fill("#id_amount", "2500")
    manager.click("[data-action=charge]")
    manager.wait_for_selector(".intent-live[data-state=pending]")
    terminal_screen = open_terminal_screen(terminal_screen, terminal_a.terminal_id)
    terminal_screen.click("[data-testid=pick]")
    terminal_screen.click("[data-testid=pay-mastercard]")
    manager.wait_for_selector(".intent-live[data-state=approved]")
    # "Nuevo cobro" brings back an empty form in place.
    manager.click("[data-action=new-charge]")
    manager.wait_for_selector(".charge-form")
    assert manager.input_value("#id_amount") == ""

    manager.goto("/lotes/")
    manager.click("[data-action=close-store]")
    manager.wait_for_selector("[data-confirm]")
    manager.click("[data-action=confirm]")
    manager.wait_for_selector(".batch-progress progress")
    manager.wait_for_selector(".batch-progress[data-finished=true]", timeout=20_000)
    assert manager.locator("[data-ticket]").count() >= 1
    # The closed-batches list refreshes itself after the close (no reload), and the batch
    # page reads as a table in Spanish.
    manager.wait_for_selector("#closed-batches tbody a", timeout=20_000)
    manager.click("#closed-batches tbody a")
    manager.wait_for_selector("[data-reconciliation]")
    assert "Total neto" in manager.inner_text("[data-reconciliation]")
    assert "{'" not in manager.content()

    manager.goto("/")
    manager.wait_for_selector("[data-kpi=net]")
    assert manager.inner_text(f"#store-{store_a.public_id} [data-kpi=net]") == "$ 2.500,00"
    manager.screenshot(path=str(artifacts / "home.png"), full_page=True)
