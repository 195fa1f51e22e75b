"""The closing ticket behind one reader (issue 11, item 22): a ticket that cannot be read whole
gives the verdict "ticket ilegible", never a silent match nor a false mismatch."""

import pytest

from tests import factories
from transactions.models import Batch
from transactions.reporting.reconciliation import (
    CLOSING_TICKET_FORMAT,
    batch_record_for_settlement,
    read_closing_ticket,
    reconcile,
)
from transactions.states import Kind, State


def _totals(brands=None, reversals=(0, "0.00"), refunds=(0, "0.00")) -> dict:
    brands = brands if brands is not None else {"VISA": (2, "1500.00")}
    return {
        "brands": {name: {"count": n, "amount": amount} for name, (n, amount) in brands.items()},
        "reversals": {"count": reversals[0], "amount": reversals[1]},
        "refunds": {"count": refunds[0], "amount": refunds[1]},
    }


GOOD = "CIERRE DE LOTE 7\nVISA        CANT  2  $   1.500,00\nTOTAL       CANT  2  $   1.500,00"


def test_a_legible_ticket_is_read_whole():
    reading = read_closing_ticket(GOOD)
    assert reading.present and reading.legible
    assert set(reading.lines) == {"VISA", "TOTAL"}
    assert reconcile(totals=_totals(), ticket=GOOD) == (Batch.Verdict.MATCHED, [])


@pytest.mark.parametrize(
    ("ticket", "unreadable"),
    [
        # The VISA line in another number format: skipping it would be a false mismatch.
        (GOOD.replace("1.500,00", "1500.00", 1), ["VISA        CANT  2  $   1500.00"]),
        # A brand the portal does not have, unreadable: skipping it would be a silent match.
        (GOOD + "\nNARANJA  CANT 1  $ 10", ["NARANJA  CANT 1  $ 10"]),
        (GOOD + "\nAMEX x1 $ 99,00", ["AMEX x1 $ 99,00"]),
    ],
)
def test_a_line_with_totals_that_cannot_be_read_makes_it_illegible(ticket, unreadable):
    verdict, differences = reconcile(totals=_totals(), ticket=ticket)
    assert verdict == Batch.Verdict.ILLEGIBLE
    assert differences == [
        {
            "line": "ticket",
            "detail": "Líneas del ticket que no se pueden leer",
            "unreadable": unreadable,
        }
    ]


@pytest.mark.parametrize(
    "ticket",
    [
        "CIERRE DE LOTE 7\nGRACIAS POR SU COMPRA",
        "CIERRE DE LOTE 7\nTOTAL CANT 2 $ 1.500,00",
        "<html>Service Unavailable</html>",
    ],
)
def test_a_ticket_without_any_readable_line_is_illegible(ticket):
    verdict, differences = reconcile(totals=_totals(), ticket=ticket)
    assert verdict == Batch.Verdict.ILLEGIBLE
    assert differences[0]["detail"].startswith("El ticket no trae ninguna línea")


def test_a_repeated_line_is_illegible_not_the_last_one_read():
    ticket = GOOD + "\nVISA CANT 1 $ 10,00"
    verdict, differences = reconcile(totals=_totals(), ticket=ticket)
    assert verdict == Batch.Verdict.ILLEGIBLE
    assert differences[0]["unreadable"] == ["VISA"]


def test_the_reader_is_one_replaceable_adapter():
    assert read_closing_ticket(GOOD) == CLOSING_TICKET_FORMAT.read(GOOD)


def test_the_verdict_is_shown_in_spanish():
    assert Batch.Verdict.ILLEGIBLE.label == "Ticket ilegible"


@pytest.mark.django_db
def test_an_illegible_ticket_records_the_batch_and_flags_the_close(store_a, terminal_a):
    settlement = factories.make_intent(
        store_a,
        terminal=terminal_a,
        kind=Kind.SETTLEMENT,
        state=State.APPROVED,
        batch_number=7,
        merchant_receipt="CIERRE DE LOTE 7\n#### ERROR DE IMPRESION ####\nVISA CANT ? $ ?",
    )
    batch = batch_record_for_settlement(settlement=settlement)
    assert batch is not None
    assert batch.verdict == Batch.Verdict.ILLEGIBLE
    assert batch.get_verdict_display() == "Ticket ilegible"
    settlement.refresh_from_db()
    assert settlement.needs_attention
    assert "ilegible" in settlement.attention_reason
