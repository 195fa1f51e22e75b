"""Batch records and their reconciliation against the closing ticket.

The provider is not known to return per-brand totals of a batch (contract §4 [U]); the closing
ticket (`merchant_receipt_detail`) lists them as text. The portal computes its own totals from the
intents it knows on that terminal and batch (`reporting.totals.batch_totals`, under the brand
labels the ticket prints), and compares them line by line with the ticket.
"""

import re
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from transactions.events import intent_flag
from transactions.models import Batch, Intent
from transactions.reporting.totals import ZERO, batch_totals
from transactions.states import Kind, State

# "VISA        CANT 14  $ 215.300,00" / "ANULACIONES CANT  1  $  -1.520,50"
_TICKET_LINE = re.compile(
    r"^\s*(?P<label>[A-ZÁÉÍÓÚÑ .]+?)\s+CANT\s+(?P<count>\d+)\s+\$\s*(?P<amount>-?[\d.]+,\d{2})\s*$"
)


def _ars_to_decimal(text: str) -> Decimal:
    return Decimal(text.replace(".", "").replace(",", "."))


def parse_ticket(ticket: str) -> dict[str, dict]:
    """Lines of a closing ticket as {label: {"count": n, "amount": Decimal}}."""
    lines = {}
    for line in (ticket or "").replace("\\n", "\n").splitlines():
        match = _TICKET_LINE.match(line.upper())
        if match:
            label = " ".join(match["label"].split())
            lines[label] = {
                "count": int(match["count"]),
                "amount": _ars_to_decimal(match["amount"]),
            }
    return lines


def reconcile(*, totals: dict, ticket: str) -> tuple[str, list[dict]]:
    """Compares computed totals with the ticket. Returns (verdict, differences)."""
    lines = parse_ticket(ticket)
    if not lines:
        return Batch.Verdict.PENDING, [{"line": "ticket", "detail": "El ticket no trae totales"}]
    differences = []
    expected = {name: (v["count"], Decimal(v["amount"])) for name, v in totals["brands"].items()}
    if totals["reversals"]["count"]:
        expected["ANULACIONES"] = (
            totals["reversals"]["count"],
            -Decimal(totals["reversals"]["amount"]),
        )
    if totals["refunds"]["count"]:
        expected["DEVOLUCIONES"] = (
            totals["refunds"]["count"],
            -Decimal(totals["refunds"]["amount"]),
        )
    for label in sorted(set(expected) | set(lines) - {"TOTAL"}):
        ours = expected.get(label, (0, ZERO))
        theirs = lines.get(label, {"count": 0, "amount": ZERO})
        # The ticket may print refunds and reversals as positive amounts.
        their_amount = theirs["amount"]
        if label in ("ANULACIONES", "DEVOLUCIONES") and their_amount > 0:
            their_amount = -their_amount
        if ours[0] != theirs["count"] or ours[1] != their_amount:
            differences.append(
                {
                    "line": label,
                    "portal_count": ours[0],
                    "portal_amount": str(ours[1]),
                    "ticket_count": theirs["count"],
                    "ticket_amount": str(their_amount),
                }
            )
    verdict = Batch.Verdict.MISMATCH if differences else Batch.Verdict.MATCHED
    return verdict, differences


def batch_record_for_settlement(*, settlement: Intent) -> Batch | None:
    """Creates (once) the Batch closed by an approved settlement and reconciles it."""
    if settlement.kind != Kind.SETTLEMENT or settlement.state != State.APPROVED:
        return None
    existing = Batch.objects.filter(settlement=settlement).first()
    if existing is not None:
        return existing
    terminal = settlement.terminal or settlement.offered_terminals.first()
    if settlement.batch_number is None or terminal is None:
        intent_flag(settlement, reason="Cierre confirmado sin número de lote: conciliar a mano")
        return None
    totals = batch_totals(terminal=terminal, batch_number=settlement.batch_number)
    verdict, differences = reconcile(totals=totals, ticket=settlement.merchant_receipt)
    try:
        with transaction.atomic():
            return Batch.objects.create(
                terminal=terminal,
                batch_number=settlement.batch_number,
                settlement=settlement,
                closed_at=settlement.finished_at or timezone.now(),
                closing_ticket=settlement.merchant_receipt,
                totals=totals,
                verdict=verdict,
                differences=differences,
            )
    except IntegrityError:
        return Batch.objects.filter(settlement=settlement).first()


def batch_backfill() -> int:
    """Records the Batch of every approved settlement that has none yet (the after-commit step
    that writes it can be lost with its process). Returns how many it recorded."""
    missing = Intent.objects.filter(
        kind=Kind.SETTLEMENT,
        state=State.APPROVED,
        closed_batch__isnull=True,
        needs_attention=False,
    ).select_related("terminal")
    return sum(1 for settlement in missing if batch_record_for_settlement(settlement=settlement))
