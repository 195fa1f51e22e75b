"""Issue 12 item 3 in a real browser at phone size: a charge the provider never received blocks
the terminal; the cashier's refusal links to it and says who can act; the manager closes it as
"No recibida por Prisma" after the provider's search (the simulator, over HTTP); the terminal
is free again and the POS reference stays reserved until released."""

import pytest

from tests.e2e.support import login
from tests.factories import DEFAULT_PASSWORD, make_intent
from transactions.models import Intent
from transactions.states import Kind, Resolution, State

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def test_a_never_received_charge_is_found_out_and_closed(
    simulated, new_page, artifacts, manager_a, cashier_a, terminal_a, store_a
):
    cashier = new_page()
    cashier.set_viewport_size(PHONE)
    login(cashier, "cajero_a", DEFAULT_PASSWORD)
    # The page was open before the charge went in doubt (another cashier's, say).
    cashier.goto(f"/terminales/{terminal_a.public_id}/")
    lost = make_intent(
        store_a,
        state=State.IN_DOUBT,
        offered_terminals=[terminal_a],
        reference="PED-9",
        ecr_transaction_id="PED-9",
        needs_attention=True,
        attention_reason="No se encontró en Prisma: confirmar en la terminal",
    )
    cashier.fill("#id_amount", "1500")
    cashier.click("[data-action=charge]")
    cashier.wait_for_selector(f"[data-blocking-intent='{lost.public_id}']")
    assert "La puede resolver un dueño o un encargado" in cashier.inner_text("#charge-area")
    # Opened afresh, the page shows what holds the terminal instead of a form that would be
    # refused.
    cashier.reload()
    cashier.wait_for_selector(f"#charge-area .intent-live[data-intent='{lost.public_id}']")
    assert "no la repitas" in cashier.inner_text("#charge-area")
    cashier.click("#charge-area >> text=Ver detalle")
    cashier.wait_for_selector("[data-who-can-act]")
    assert "resolver a mano" not in cashier.inner_text("body").lower()
    cashier.screenshot(path=str(artifacts / "blocked-cashier.png"), full_page=True)

    manager = new_page()
    manager.set_viewport_size(PHONE)
    login(manager, "encargado_a", DEFAULT_PASSWORD)
    manager.goto(f"/intenciones/{lost.public_id}/")
    manager.fill("[data-form=not-received] textarea[name=reason]", "No apareció en la terminal")
    manager.click("[data-action=not-received]")
    manager.wait_for_selector("#intent-panel[data-state=failed]")
    assert manager.inner_text(".intent-head [data-status]") == "No recibida por Prisma"
    assert manager.locator("[data-action=release-reference]").is_visible()
    lost.refresh_from_db()
    assert (lost.resolution, lost.reference_held) == (Resolution.NOT_RECEIVED, True)
    assert lost.events.filter(actor_user=manager_a, type="resolved").exists()

    # The terminal is free again: the cashier's next charge goes through.
    cashier.goto(f"/terminales/{terminal_a.public_id}/")
    cashier.fill("#id_amount", "1500")
    cashier.click("[data-action=charge]")
    cashier.wait_for_selector(".intent-live[data-state=pending]")
    assert Intent.objects.filter(kind=Kind.PAYMENT, state=State.PENDING).count() == 1
