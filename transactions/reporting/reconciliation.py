"""Batch records and their reconciliation against the closing ticket.

The provider is not known to return per-brand totals of a batch (contract §4 [U]); the closing
ticket (`merchant_receipt_detail`) lists them as text. The portal computes its own totals from the
intents it knows on that terminal and batch (`reporting.totals.batch_totals`, under the brand
labels the ticket prints), and compares them line by line with the ticket.
"""

import re
from dataclasses import dataclass, field
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
# A line that looks like it carries a total (a count or an amount) but that the format above does
# not read: the ticket is in a shape we do not know, and what we did read cannot be trusted.
_LOOKS_LIKE_TOTALS = re.compile(r"\bCANT\b|\$")
ILLEGIBLE_NO_TOTALS = "El ticket no trae ninguna línea de totales que se pueda leer"
ILLEGIBLE_LINES = "Líneas del ticket que no se pueden leer"
ILLEGIBLE_REPEATED = "Línea repetida en el ticket"


def _ars_to_decimal(text: str) -> Decimal:
    return Decimal(text.replace(".", "").replace(",", "."))


@dataclass(frozen=True)
class TicketReading:
    """What one closing ticket says: its total lines, or why it cannot be read.

    `present`: the provider sent a ticket at all. `legible`: every line that carries a count or
    an amount was read, and no label appears twice; only then are `lines` worth comparing.
    """

    present: bool
    legible: bool
    lines: dict[str, dict] = field(default_factory=dict)
    unreadable: tuple[str, ...] = ()
    problem: str = ""


class MobitefClosingTicket:
    """The closing ticket (`merchant_receipt_detail`) as the contract's example prints it: one
    `LABEL CANT n $ 1.234,56` line per brand, ANULACIONES, DEVOLUCIONES and TOTAL.

    This is a guess at the real format (contract §4 [U]); it is the one place that knows it.
    Anything it cannot read makes the whole ticket illegible, never a partial reading: a line
    skipped would be a false difference (the portal has it, "the ticket" does not) or, when
    both sides lack it, a silent match.
    """

    def read(self, ticket: str | None) -> TicketReading:
        text = (ticket or "").replace("\\n", "\n")
        if not text.strip():
            return TicketReading(present=False, legible=False)
        lines: dict[str, dict] = {}
        unreadable: list[str] = []
        repeated: list[str] = []
        for raw in text.splitlines():
            line = raw.upper()
            match = _TICKET_LINE.match(line)
            if match is None:
                if _LOOKS_LIKE_TOTALS.search(line):
                    unreadable.append(raw.strip())
                continue
            label = " ".join(match["label"].split())
            if label in lines:
                repeated.append(label)
            lines[label] = {
                "count": int(match["count"]),
                "amount": _ars_to_decimal(match["amount"]),
            }
        if unreadable:
            return TicketReading(True, False, lines, tuple(unreadable), ILLEGIBLE_LINES)
        if repeated:
            return TicketReading(True, False, lines, tuple(repeated), ILLEGIBLE_REPEATED)
        if not set(lines) - {"TOTAL"}:
            return TicketReading(True, False, lines, (), ILLEGIBLE_NO_TOTALS)
        return TicketReading(present=True, legible=True, lines=lines)


# The one adapter every reading of a closing ticket goes through.
CLOSING_TICKET_FORMAT = MobitefClosingTicket()


def read_closing_ticket(ticket: str | None) -> TicketReading:
    return CLOSING_TICKET_FORMAT.read(ticket)


def parse_ticket(ticket: str | None) -> dict[str, dict]:
    """Lines of a closing ticket as {label: {"count": n, "amount": Decimal}} (what could be
    read; `read_closing_ticket` says whether that is the whole ticket)."""
    return read_closing_ticket(ticket).lines


def reconcile(*, totals: dict, ticket: str | None) -> tuple[str, list[dict]]:
    """Compares computed totals with the ticket. Returns (verdict, differences).

    No ticket: pending. A ticket that cannot be read whole: "ticket ilegible", with the lines
    that could not be read, for a person to compare by hand.
    """
    reading = read_closing_ticket(ticket)
    if not reading.present:
        return Batch.Verdict.PENDING, [{"line": "ticket", "detail": "El ticket no trae totales"}]
    if not reading.legible:
        detail: dict = {"line": "ticket", "detail": reading.problem}
        if reading.unreadable:
            detail["unreadable"] = list(reading.unreadable)
        return Batch.Verdict.ILLEGIBLE, [detail]
    lines = reading.lines
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
    if verdict == Batch.Verdict.ILLEGIBLE:
        intent_flag(settlement, reason="Ticket de cierre ilegible: conciliar el lote a mano")
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
