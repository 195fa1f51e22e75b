"""Reconciliation of a batch against its closing ticket: every verdict `reconcile` can return
(matched, mismatch, pending), with the differences it records, and the ticket's parsing."""

from decimal import Decimal

import pytest

from transactions.models import Batch
from transactions.reporting.reconciliation import parse_ticket, reconcile


def _totals(brands=None, reversals=(0, "0.00"), refunds=(0, "0.00")) -> dict:
    """Totals as `batch_totals` stores them (amounts as text)."""
    brands = brands or {"VISA": (2, "1500.00"), "MASTERCARD": (1, "250.50")}
    return {
        "brands": {name: {"count": n, "amount": amount} for name, (n, amount) in brands.items()},
        "reversals": {"count": reversals[0], "amount": reversals[1]},
        "refunds": {"count": refunds[0], "amount": refunds[1]},
    }


TICKET = """CIERRE DE LOTE 7
MASTERCARD  CANT  1  $     250,50
VISA        CANT  2  $   1.500,00
ANULACIONES CANT  1  $    -500,00
DEVOLUCIONES CANT  0  $       0,00
TOTAL       CANT  4  $   1.250,50"""


def test_parse_ticket_reads_labels_counts_and_argentine_amounts():
    lines = parse_ticket(TICKET)
    assert lines["VISA"] == {"count": 2, "amount": Decimal("1500.00")}
    assert lines["ANULACIONES"] == {"count": 1, "amount": Decimal("-500.00")}
    assert lines["TOTAL"] == {"count": 4, "amount": Decimal("1250.50")}
    assert "CIERRE DE LOTE 7" not in lines
    # The provider sends the ticket with escaped newlines.
    assert parse_ticket(TICKET.replace("\n", "\\n")) == lines


def test_matched_when_every_line_agrees():
    verdict, differences = reconcile(totals=_totals(reversals=(1, "500.00")), ticket=TICKET)
    assert (verdict, differences) == (Batch.Verdict.MATCHED, [])


def test_matched_when_the_ticket_prints_reversals_and_refunds_as_positive():
    ticket = "VISA CANT 2 $ 1.500,00\nANULACIONES CANT 1 $ 500,00\nDEVOLUCIONES CANT 1 $ 10,00"
    totals = _totals(brands={"VISA": (2, "1500.00")}, reversals=(1, "500.00"), refunds=(1, "10.00"))
    assert reconcile(totals=totals, ticket=ticket) == (Batch.Verdict.MATCHED, [])


def test_the_total_line_is_not_compared():
    ticket = TICKET.replace("TOTAL       CANT  4  $   1.250,50", "TOTAL CANT 99 $ 1,00")
    assert parse_ticket(ticket)["TOTAL"]["count"] == 99
    assert reconcile(totals=_totals(reversals=(1, "500.00")), ticket=ticket)[0] == "matched"


def test_mismatch_lists_each_line_that_disagrees_in_count_or_amount():
    totals = _totals(
        brands={"VISA": (2, "1500.00"), "MASTERCARD": (1, "200.00"), "CABAL": (1, "99.00")},
        reversals=(2, "600.00"),
    )
    verdict, differences = reconcile(totals=totals, ticket=TICKET)
    assert verdict == Batch.Verdict.MISMATCH
    assert differences == [
        # Reversals: the portal has two, the ticket one.
        {
            "line": "ANULACIONES",
            "portal_count": 2,
            "portal_amount": "-600.00",
            "ticket_count": 1,
            "ticket_amount": "-500.00",
        },
        # A brand only the portal knows.
        {
            "line": "CABAL",
            "portal_count": 1,
            "portal_amount": "99.00",
            "ticket_count": 0,
            "ticket_amount": "0.00",
        },
        # Same count, another amount.
        {
            "line": "MASTERCARD",
            "portal_count": 1,
            "portal_amount": "200.00",
            "ticket_count": 1,
            "ticket_amount": "250.50",
        },
    ]


def test_mismatch_when_the_ticket_has_a_line_the_portal_does_not():
    ticket = TICKET + "\nNARANJA     CANT  1  $      10,00"
    verdict, differences = reconcile(totals=_totals(reversals=(1, "500.00")), ticket=ticket)
    assert verdict == Batch.Verdict.MISMATCH
    assert differences == [
        {
            "line": "NARANJA",
            "portal_count": 0,
            "portal_amount": "0.00",
            "ticket_count": 1,
            "ticket_amount": "10.00",
        }
    ]


# A ticket with text but no totals is illegible: tests/transactions/reporting/
# test_closing_ticket_reader.py.
@pytest.mark.parametrize("ticket", ["", None, "  \n "])
def test_pending_when_the_ticket_has_no_totals(ticket):
    verdict, differences = reconcile(totals=_totals(), ticket=ticket)
    assert verdict == Batch.Verdict.PENDING
    assert differences == [{"line": "ticket", "detail": "El ticket no trae totales"}]


def test_the_four_verdicts_are_every_verdict_a_batch_can_have():
    # If a verdict is added, reconcile() and the tests above must learn it.
    assert set(Batch.Verdict) == {
        Batch.Verdict.MATCHED,
        Batch.Verdict.MISMATCH,
        Batch.Verdict.PENDING,
        Batch.Verdict.ILLEGIBLE,
    }
