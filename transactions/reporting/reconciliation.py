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
from transactions.reporting.differences import batch_without_ticket
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
            batch = Batch.objects.create(
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
    batch_without_ticket(batch)
    return batch


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


# --- The three-way table of a batch (its page) ------------------------------------------------


@dataclass
class Figure:
    """A count and an amount on one side of the table; None when that side has no such line."""

    count: int
    amount: Decimal


@dataclass
class ReconciliationRow:
    """One line of a batch's three-way table: the portal, the ticket and the liquidación."""

    label: str
    portal: Figure
    ticket: Figure | None
    liquidation: Figure | None
    # What the liquidación should show for this line (sales annulled in the batch are never
    # paid, so a brand's expected amount is its sales minus their reversals).
    liquidation_expected: Figure | None = None
    is_total: bool = False

    @property
    def ticket_difference(self) -> Decimal | None:
        if self.ticket is None:
            return None
        return self.ticket.amount - self.portal.amount

    @property
    def liquidation_difference(self) -> Decimal | None:
        if self.liquidation is None or self.liquidation_expected is None:
            return None
        return self.liquidation.amount - self.liquidation_expected.amount

    @property
    def agrees(self) -> bool:
        counts_ok = self.ticket is None or self.ticket.count == self.portal.count
        return counts_ok and not self.ticket_difference and not self.liquidation_difference


@dataclass
class BatchReconciliation:
    rows: list[ReconciliationRow]
    ticket: TicketReading
    has_liquidation: bool
    liquidation_lines: int


def batch_reconciliation(*, batch: Batch) -> BatchReconciliation:
    """The batch's readable reconciliation (issue 12 item 4): per brand, then anulaciones,
    devoluciones and the net total, with what the portal computed, what the ticket says and
    what the imported liquidación pays. Three queries."""
    from transactions.brands import brand_label
    from transactions.models import LiquidationLine

    totals = batch.totals or {}
    reading = read_closing_ticket(batch.closing_ticket)
    ticket_lines = reading.lines if reading.legible else {}
    terminal = batch.terminal
    lines = list(
        LiquidationLine.objects.filter(
            merchant_id=batch.settlement.store.merchant_id,
            terminal_id=terminal.terminal_id,
            batch_number=batch.batch_number,
        ).select_related("intent")
    )
    has_liquidation = bool(lines)
    paid: dict[str, Figure] = {}
    refunded = Figure(0, ZERO)
    for line in lines:
        if line.amount < 0:
            refunded.count += 1
            refunded.amount += line.amount
            continue
        label = brand_label(
            line.card_brand or (line.intent.card_brand if line.intent else ""),
            line.intent.card_brand_code if line.intent else "",
        )
        figure = paid.setdefault(label, Figure(0, ZERO))
        figure.count += 1
        figure.amount += line.amount
    reversed_by_brand: dict[str, Figure] = {}
    reversals = Intent.objects.filter(
        kind=Kind.REVERSAL,
        state=State.APPROVED,
        original__terminal=terminal,
        original__batch_number=batch.batch_number,
    ).values_list("original__card_brand", "original__card_brand_code", "original__amount",
                  "original__authorized_amount")  # fmt: skip
    for brand, code, amount, authorized in reversals:
        figure = reversed_by_brand.setdefault(brand_label(brand, code), Figure(0, ZERO))
        figure.count += 1
        figure.amount += authorized or amount or ZERO

    def ticket_figure(label: str, *, negative: bool = False) -> Figure | None:
        if not reading.legible:
            return None
        found = ticket_lines.get(label)
        if found is None:
            return Figure(0, ZERO)
        amount = found["amount"]
        if negative and amount > 0:
            amount = -amount
        return Figure(found["count"], amount)

    rows = []
    brands = list((totals.get("brands") or {}).items())
    brand_names = [name for name, _ in brands]
    extra = sorted(
        (set(ticket_lines) | set(paid))
        - set(brand_names)
        - {"TOTAL", "ANULACIONES", "DEVOLUCIONES"}
    )
    for name, value in brands + [(name, {"count": 0, "amount": "0"}) for name in extra]:
        portal = Figure(value["count"], Decimal(value["amount"]))
        annulled = reversed_by_brand.get(name, Figure(0, ZERO))
        rows.append(
            ReconciliationRow(
                label=name,
                portal=portal,
                ticket=ticket_figure(name),
                liquidation=paid.get(name, Figure(0, ZERO)) if has_liquidation else None,
                liquidation_expected=Figure(
                    portal.count - annulled.count, portal.amount - annulled.amount
                ),
            )
        )
    reversal = totals.get("reversals") or {"count": 0, "amount": "0"}
    refund = totals.get("refunds") or {"count": 0, "amount": "0"}
    rows.append(
        ReconciliationRow(
            label="ANULACIONES",
            portal=Figure(reversal["count"], -Decimal(reversal["amount"])),
            ticket=ticket_figure("ANULACIONES", negative=True),
            liquidation=None,
        )
    )
    refund_portal = Figure(refund["count"], -Decimal(refund["amount"]))
    rows.append(
        ReconciliationRow(
            label="DEVOLUCIONES",
            portal=refund_portal,
            ticket=ticket_figure("DEVOLUCIONES", negative=True),
            liquidation=refunded if has_liquidation else None,
            liquidation_expected=refund_portal,
        )
    )
    net = Decimal(totals.get("net") or "0")
    count = sum(r.portal.count for r in rows)
    liquidation_total = (
        Figure(sum(f.count for f in paid.values()) + refunded.count,
               sum((f.amount for f in paid.values()), ZERO) + refunded.amount)
        if has_liquidation else None
    )  # fmt: skip
    rows.append(
        ReconciliationRow(
            label="TOTAL",
            portal=Figure(count, net),
            ticket=ticket_figure("TOTAL"),
            liquidation=liquidation_total,
            liquidation_expected=Figure(count, net),
            is_total=True,
        )
    )
    return BatchReconciliation(rows, reading, has_liquidation, len(lines))
