"""Raising reconciliation differences (ledger ↔ closing ticket ↔ liquidación), once each.

Every difference has a `key` naming what it is about, so running the reconciliation again (a
re-import, the periodic scan) raises it once. A difference the data no longer shows (the
missing line arrived in a later liquidación) is closed by the system with a note saying so; one
a person explained stays explained.

Kinds:
- missing in the ledger: a liquidación line no operation of the portal matches;
- missing in the liquidación: an approved operation of a batch the liquidación covers that no
  line matches;
- amount differs: matched by terminal, batch and authorization with another amount (or the
  portal annulled it);
- approved after the close: a payment approved after its batch was closed;
- batch without ticket: a closed batch whose close brought no ticket, or a batch of the
  liquidación whose close the portal never recorded.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from stores.models import Merchant
from transactions.models import Batch, Difference, DifferenceEvent, Intent, LiquidationLine
from transactions.money import format_ars
from transactions.reporting.liquidation import match_lines, signed_amount
from transactions.states import Kind, State

Kinds = Difference.Kind
# The kinds a liquidación decides; they close by themselves when a later import settles them.
LIQUIDATION_KINDS = (Kinds.MISSING_IN_LEDGER, Kinds.MISSING_IN_LIQUIDATION, Kinds.AMOUNT_DIFFERS)


def difference_raise(*, key: str, kind: str, store, detail: str, **fields) -> Difference:
    """The open difference under `key`, created (with its "raised" event) if new."""
    existing = Difference.objects.filter(key=key).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            difference = Difference.objects.create(
                key=key, kind=kind, store=store, detail=detail[:300], **fields
            )
            DifferenceEvent.objects.create(
                difference=difference, action=DifferenceEvent.Action.RAISED, message=detail
            )
            return difference
    except IntegrityError:
        return Difference.objects.get(key=key)


def _settle_by_system(differences: Iterable[Difference], message: str) -> int:
    count = 0
    now = timezone.now()
    for difference in differences:
        with transaction.atomic():
            changed = Difference.objects.filter(
                pk=difference.pk, status=Difference.Status.OPEN
            ).update(status=Difference.Status.RESOLVED, resolved_at=now, resolution=message)
            if changed:
                DifferenceEvent.objects.create(
                    difference=difference, action=DifferenceEvent.Action.RESOLVED, message=message
                )
                count += changed
    return count


def batch_without_ticket(batch: Batch) -> Difference | None:
    """Raised when a batch closed without a ticket (nothing to compare the ledger with)."""
    if (batch.closing_ticket or "").strip():
        return None
    return difference_raise(
        key=f"bwt:{batch.terminal.terminal_id}:{batch.batch_number}:{batch.settlement.store_id}",
        kind=Kinds.BATCH_WITHOUT_TICKET,
        store=batch.settlement.store,
        terminal_id=batch.terminal.terminal_id,
        batch_number=batch.batch_number,
        batch=batch,
        detail=f"El cierre del lote {batch.batch_number} no trajo ticket: "
        "conciliá el lote con la liquidación o pedí el ticket a Prisma.",
    )


def approved_after_close_scan(*, since) -> int:
    """Raises every payment approved after its batch was closed, among the payments that ended
    since `since` (the periodic scan passes the last two days). One query."""
    closed_before = Batch.objects.filter(
        terminal=OuterRef("terminal"),
        batch_number=OuterRef("batch_number"),
        closed_at__lt=OuterRef("finished_at"),
    )
    late = (
        Intent.objects.filter(
            kind=Kind.PAYMENT, state=State.APPROVED, finished_at__gte=since, batch_number__gt=0
        )
        .filter(Exists(closed_before))
        .select_related("terminal", "store")
    )
    raised = 0
    for intent in late:
        difference_raise(
            key=f"aac:{intent.pk}",
            kind=Kinds.APPROVED_AFTER_CLOSE,
            store=intent.store,
            terminal_id=intent.terminal.terminal_id if intent.terminal else "",
            batch_number=intent.batch_number,
            intent=intent,
            portal_amount=signed_amount(intent),
            detail=f"Cobro de {format_ars(signed_amount(intent))} aprobado después del cierre "
            f"del lote {intent.batch_number}: revisá en qué lote lo liquida el adquirente.",
        )
        raised += 1
    return raised


def _operations_of(merchant: Merchant, keys: set[tuple[str, int]]) -> list[Intent]:
    if not keys:
        return []
    where = Q(pk__in=[])
    for terminal_id, batch_number in keys:
        where |= Q(terminal__terminal_id=terminal_id, batch_number=batch_number)
    reversal = Intent.objects.filter(
        original=OuterRef("pk"), kind=Kind.REVERSAL, state=State.APPROVED
    )
    return list(
        Intent.objects.filter(where, store__merchant=merchant)
        .filter(kind__in=[Kind.PAYMENT, Kind.REFUND], state=State.APPROVED)
        .annotate(reversed=Exists(reversal))
        .select_related("terminal", "store")
        .order_by("pk")
    )


def liquidation_reconcile(*, merchant: Merchant, keys: set[tuple[str, int]]) -> dict[str, int]:
    """Matches every liquidación line of these (terminal, batch) with the ledger, records each
    line's operation, raises what differs and closes what a later line settled. Safe to run
    again: it recomputes the same answer. Returns counts per difference kind raised now."""
    lines = list(
        LiquidationLine.objects.filter(merchant=merchant)
        .filter(_keys_q(keys))
        .select_related("store")
        .order_by("operation_date", "pk")
    )
    operations = _operations_of(merchant, keys)
    matches = match_lines(
        lines, operations, day_of=lambda op: (op.finished_at or op.created_at).astimezone(
            op.store.tzinfo
        ).date()
    )  # fmt: skip
    still: set[str] = set()
    wanted: dict[str, tuple[str, dict]] = {}

    def raise_(key, kind, **fields):
        still.add(key)
        wanted[key] = (kind, fields)

    changed_lines = []
    matched_ops: set[int] = set()
    for match in matches:
        line = match.line
        new_intent_id = match.intent.pk if match.intent else None
        if line.intent_id != new_intent_id:
            line.intent_id = new_intent_id
            changed_lines.append(line)
        if match.intent is None:
            raise_(
                f"mil:{line.pk}",
                Kinds.MISSING_IN_LEDGER,
                store=line.store,
                terminal_id=line.terminal_id,
                batch_number=line.batch_number,
                line=line,
                other_amount=line.amount,
                detail=f"La liquidación trae {format_ars(line.amount)} (terminal "
                f"{line.terminal_id}, lote {line.batch_number}, autorización "
                f"{line.authorization_code or 'sin dato'}, {line.operation_date:%d/%m/%Y}) "
                "que el portal no tiene.",
            )
            continue
        matched_ops.add(match.intent.pk)
        if match.amount_differs:
            portal = signed_amount(match.intent)
            if match.reversed_in_portal:
                detail = (
                    f"La liquidación trae {format_ars(line.amount)} de un cobro que el portal "
                    "tiene anulado."
                )
                portal = Decimal(0)
            else:
                detail = (
                    f"Autorización {line.authorization_code}: el portal tiene "
                    f"{format_ars(portal)} y la liquidación {format_ars(line.amount)}."
                )
            raise_(
                f"amt:{line.pk}",
                Kinds.AMOUNT_DIFFERS,
                store=match.intent.store,
                terminal_id=line.terminal_id,
                batch_number=line.batch_number,
                intent=match.intent,
                line=line,
                portal_amount=portal,
                other_amount=line.amount,
                detail=detail,
            )
    for op in operations:
        if op.pk in matched_ops or getattr(op, "reversed", False):
            continue
        raise_(
            f"mli:{op.pk}",
            Kinds.MISSING_IN_LIQUIDATION,
            store=op.store,
            terminal_id=op.terminal.terminal_id if op.terminal else "",
            batch_number=op.batch_number,
            intent=op,
            portal_amount=signed_amount(op),
            detail=f"{'Devolución' if op.kind == Kind.REFUND else 'Cobro'} de "
            f"{format_ars(signed_amount(op))} (autorización {op.authorization_code or 'sin dato'}"
            f", lote {op.batch_number}) que la liquidación no trae.",
        )
    # Batches the liquidación pays whose close the portal never recorded.
    batches = {
        (b.terminal.terminal_id, b.batch_number): b
        for b in Batch.objects.filter(_keys_q(keys, prefix="terminal__terminal_id"))
        .filter(terminal__store__merchant=merchant)
        .select_related("terminal", "settlement__store")
    }
    stores_by_key = {(line.terminal_id, line.batch_number): line.store for line in lines}
    for key in sorted(keys):
        batch = batches.get(key)
        store = stores_by_key.get(key)
        if batch is None and store is not None:
            raise_(
                f"bwt:{key[0]}:{key[1]}:{store.pk}",
                Kinds.BATCH_WITHOUT_TICKET,
                store=store,
                terminal_id=key[0],
                batch_number=key[1],
                detail=f"La liquidación trae el lote {key[1]} de la terminal {key[0]}, pero el "
                "portal no tiene su cierre ni su ticket.",
            )
        elif batch is not None and not (batch.closing_ticket or "").strip():
            difference = batch_without_ticket(batch)
            if difference is not None:
                still.add(difference.key)
    LiquidationLine.objects.bulk_update(changed_lines, ["intent"], batch_size=500)
    raised = _raise_all(wanted)
    # What a later liquidación settled closes by itself.
    stale = Difference.objects.filter(
        _keys_q(keys, prefix="terminal_id", batch_field="batch_number"),
        status=Difference.Status.OPEN,
        kind__in=LIQUIDATION_KINDS,
        store__merchant=merchant,
    ).exclude(key__in=still)
    _settle_by_system(stale, "Se resolvió sola: la liquidación importada ya coincide.")
    return dict(raised)


def _raise_all(wanted: dict[str, tuple[str, dict]]) -> dict[str, int]:
    """Raises every wanted difference not raised yet, in a few queries whatever their number
    (a month's liquidación has thousands of lines), and reopens those the system had closed.
    Returns how many of each kind are new."""
    existing = {d.key: d for d in Difference.objects.filter(key__in=list(wanted))}
    for difference in existing.values():
        if difference.status == Difference.Status.RESOLVED and difference.resolved_by_id is None:
            _reopen_by_system(difference)
    new = [
        Difference(key=key, kind=kind, detail=fields.pop("detail")[:300], **fields)
        for key, (kind, fields) in wanted.items()
        if key not in existing
    ]
    raised: dict[str, int] = defaultdict(int)
    try:
        with transaction.atomic():
            created = Difference.objects.bulk_create(new, batch_size=500)
            DifferenceEvent.objects.bulk_create(
                [
                    DifferenceEvent(
                        difference=d, action=DifferenceEvent.Action.RAISED, message=d.detail
                    )
                    for d in created
                ],
                batch_size=500,
            )
    except IntegrityError:
        # Raised meanwhile by another run: one at a time, each raised once.
        for d in new:
            difference_raise(key=d.key, kind=d.kind, store=d.store, detail=d.detail, **{
                f: getattr(d, f)
                for f in ("terminal_id", "batch_number", "batch", "intent", "line",
                          "portal_amount", "other_amount")
            })  # fmt: skip
    for d in new:
        raised[d.kind] += 1
    return dict(raised)


def _reopen_by_system(difference: Difference) -> None:
    with transaction.atomic():
        changed = Difference.objects.filter(pk=difference.pk).update(
            status=Difference.Status.OPEN, resolved_at=None, resolution=""
        )
        if changed:
            DifferenceEvent.objects.create(
                difference=difference,
                action=DifferenceEvent.Action.REOPENED,
                message="La diferencia volvió a aparecer en una liquidación importada.",
            )


def _keys_q(
    keys: set[tuple[str, int]], *, prefix: str = "terminal_id", batch_field: str = "batch_number"
) -> Q:
    where = Q(pk__in=[])
    for terminal_id, batch_number in keys:
        where |= Q(**{prefix: terminal_id, batch_field: batch_number})
    return where
