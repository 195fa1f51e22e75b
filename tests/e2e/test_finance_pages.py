"""The finance pages in a real browser at phone and desktop widths: the batch's three-way table,
the differences, the liquidación import, the fee table and the report's deposits. Nothing
overflows sideways, no console error, the table reads in Spanish."""

from decimal import Decimal

import pytest
from django.utils import timezone

from tests.e2e.support import login
from tests.factories import DEFAULT_PASSWORD, make_intent
from transactions.models import Difference
from transactions.reporting.reconciliation import batch_record_for_settlement
from transactions.services.liquidation import liquidation_import, liquidation_mapping_save
from transactions.states import Kind, State

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TICKET = (
    "VISA        CANT  1  $   1.000,00\n"
    "ANULACIONES CANT  0  $       0,00\n"
    "TOTAL       CANT  1  $   1.000,00"
)


@pytest.mark.parametrize("width, height", [(390, 844), (1366, 768)])
def test_finance_pages_fit_the_screen(
    live_server, new_page, artifacts, owner, merchant, store_a, terminal_a, width, height
):
    make_intent(
        store_a, terminal=terminal_a, state=State.APPROVED, batch_number=2, authorization_code="A1"
    )
    settlement = make_intent(
        store_a,
        terminal=terminal_a,
        kind=Kind.SETTLEMENT,
        state=State.APPROVED,
        batch_number=2,
        merchant_receipt=TICKET,
    )
    batch = batch_record_for_settlement(settlement=settlement)
    liquidation_mapping_save(
        merchant=merchant,
        user=owner,
        columns={"terminal": "T", "batch": "L", "authorization": "A", "amount": "I", "date": "F"},
    )
    today = timezone.localdate().strftime("%d/%m/%Y")
    liquidation_import(
        merchant=merchant,
        user=owner,
        file_name="liquidacion-noviembre.csv",
        content=f"T;L;A;I;F\n11111111;2;A1;990,00;{today}\n11111111;2;B7;12.345,67;{today}\n".encode(),
    )
    difference = Difference.objects.filter(kind=Difference.Kind.AMOUNT_DIFFERS).get()
    assert difference.other_amount == Decimal("990.00")

    page = new_page()
    page.set_viewport_size({"width": width, "height": height})
    login(page, "duenio", DEFAULT_PASSWORD)
    day = timezone.localdate().isoformat()
    for name, path in [
        ("lote", f"/lotes/{batch.public_id}/"),
        ("lotes", "/lotes/"),
        ("diferencias", "/conciliacion/diferencias/"),
        ("diferencia", f"/conciliacion/diferencias/{difference.public_id}/"),
        ("liquidaciones", "/conciliacion/liquidaciones/"),
        ("aranceles", "/configuracion/aranceles/"),
        ("reporte", f"/reportes/diario/?fecha={day}&sucursal={store_a.public_id}"),
    ]:
        page.goto(path)
        page.wait_for_selector("h1")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        page.screenshot(path=str(artifacts / f"finanzas-{name}-{width}.png"), full_page=True)
        assert overflow <= 0, f"{name} overflows by {overflow}px at {width}"
    page.goto(f"/lotes/{batch.public_id}/")
    table = page.inner_text("[data-reconciliation]")
    assert "Visa" in table and "Liquidación: -$ 10,00." in table
