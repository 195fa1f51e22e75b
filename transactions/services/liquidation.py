"""Importing an acquirer's liquidación: the merchant's column mapping, the import itself
(idempotent: the same file, or a line already imported, adds nothing) and its reconciliation."""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q

from stores.models import Membership, Merchant, Terminal
from stores.permissions import roles_allowing, user_can_for_merchant
from stores.roles import Action
from transactions.errors import Code, IntentRuleError
from transactions.models import (
    Difference,
    LiquidationImport,
    LiquidationLine,
    LiquidationMapping,
)
from transactions.reporting.differences import liquidation_reconcile
from transactions.reporting.liquidation import FIELDS, FileUnreadable, ParsedFile, parse_file

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# Batches reconciled per pass: keeps each query's OR of (terminal, lote) pairs small.
_KEYS_PER_PASS = 100


def _require(user, merchant: Merchant) -> None:
    if not user_can_for_merchant(user=user, merchant=merchant, action=Action.VIEW_REPORTS):
        raise IntentRuleError(
            Code.FORBIDDEN, "Solo el dueño o finanzas del comercio importan liquidaciones."
        )


def liquidation_mapping_save(
    *, merchant: Merchant, user: User, columns: dict[str, str]
) -> LiquidationMapping:
    _require(user, merchant)
    known = {spec.name for spec in FIELDS}
    cleaned = {name: header.strip() for name, header in columns.items() if name in known}
    missing = [spec.label for spec in FIELDS if spec.required and not cleaned.get(spec.name)]
    if missing:
        raise IntentRuleError(
            Code.VALIDATION_ERROR, "Falta indicar la columna de: " + ", ".join(missing) + "."
        )
    headers = [h.casefold() for h in cleaned.values() if h]
    if len(headers) != len(set(headers)):
        raise IntentRuleError(
            Code.VALIDATION_ERROR, "Dos datos no pueden leerse de la misma columna."
        )
    mapping, _ = LiquidationMapping.objects.update_or_create(
        merchant=merchant, defaults={"columns": cleaned, "updated_by": user}
    )
    return mapping


def liquidation_preview(*, merchant: Merchant, user: User, file_name: str, content: bytes):
    """The file read under the saved mapping, rows with terminals unknown to the merchant as
    errors; nothing written. Returns (ParsedFile, store of each terminal)."""
    _require(user, merchant)
    mapping = LiquidationMapping.objects.filter(merchant=merchant).first()
    if mapping is None:
        raise IntentRuleError(
            Code.VALIDATION_ERROR, "Primero indicá qué columna del archivo tiene cada dato."
        )
    try:
        parsed = parse_file(content, file_name, mapping.columns)
    except FileUnreadable as exc:
        raise IntentRuleError(Code.VALIDATION_ERROR, str(exc), field="file") from exc
    terminals = {
        t.terminal_id: t
        for t in Terminal.objects.filter(
            store__merchant=merchant, terminal_id__in={line.terminal_id for line in parsed.lines}
        ).select_related("store")
    }
    known = []
    for line in parsed.lines:
        if line.terminal_id in terminals:
            known.append(line)
        else:
            parsed.errors.append(
                {
                    "row": line.row_number,
                    "message": f"la terminal {line.terminal_id} no es de este comercio",
                    "raw": line.raw,
                }
            )
    parsed.lines = known
    parsed.errors.sort(key=lambda error: error["row"])
    return parsed, {tid: t.store for tid, t in terminals.items()}


def liquidation_import(
    *, merchant: Merchant, user: User, file_name: str, content: bytes
) -> tuple[LiquidationImport, bool]:
    """Imports the file's readable rows and reconciles the batches it covers. Returns (the
    import, whether it was new): the same bytes imported again return the first import."""
    digest = hashlib.sha256(content).hexdigest()
    _require(user, merchant)
    existing = LiquidationImport.objects.filter(merchant=merchant, sha256=digest).first()
    if existing is not None:
        return existing, False
    parsed, stores = liquidation_preview(
        merchant=merchant, user=user, file_name=file_name, content=content
    )
    try:
        with transaction.atomic():
            record = LiquidationImport.objects.create(
                merchant=merchant,
                file_name=file_name[:200],
                sha256=digest,
                created_by=user,
                rows_total=parsed.rows_total,
                errors=parsed.errors[:500],
            )
            new = _store_lines(record, parsed, stores)
            record.rows_new = new
            record.rows_repeated = len(parsed.lines) - new
            record.save(update_fields=["rows_new", "rows_repeated"])
    except IntegrityError:
        # The same file imported at the same moment by someone else.
        return LiquidationImport.objects.get(merchant=merchant, sha256=digest), False
    keys = sorted({(line.terminal_id, line.batch_number) for line in parsed.lines})
    raised: Counter[str] = Counter()
    for start in range(0, len(keys), _KEYS_PER_PASS):
        raised.update(
            liquidation_reconcile(merchant=merchant, keys=set(keys[start : start + _KEYS_PER_PASS]))
        )
    if raised:
        _tell_finance(merchant, record, raised)
    return record, True


def _tell_finance(merchant: Merchant, record: LiquidationImport, raised: Counter[str]) -> None:
    """New differences are raised to the merchant's owners and finance by e-mail; they stay
    listed (Conciliación, and a count on Lotes) until a person explains them."""
    emails = sorted(
        set(
            Membership.objects.filter(
                Q(merchant=merchant) | Q(store__merchant=merchant),
                role__in=roles_allowing(Action.VIEW_REPORTS),
                user__is_active=True,
            )
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        )
    )
    if not emails:
        return
    labels = dict(Difference.Kind.choices)
    lines = [f"- {labels[kind]}: {count}" for kind, count in sorted(raised.items())]
    send_mail(
        subject=f"Diferencias de conciliación en {merchant.legal_name}",
        message=(
            f"La liquidación {record.file_name} dejó {sum(raised.values())} diferencias nuevas "
            "con el portal:\n" + "\n".join(lines) + "\n\nRevisalas en Conciliación › "
            "Diferencias del tablero: quedan abiertas hasta que alguien las explique."
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=emails,
        fail_silently=True,
    )


def _store_lines(record: LiquidationImport, parsed: ParsedFile, stores: dict) -> int:
    """Adds the lines not imported before; returns how many.

    Lines are counted, not merely recognised, by what identifies them: a file that repeats
    lines an earlier one had (overlapping periods) adds nothing, but a line the acquirer paid
    twice (two identical lines in one file) is stored twice, so the second finds no operation
    and is raised as missing in the ledger instead of vanishing."""
    already = Counter(
        LiquidationLine.objects.filter(
            merchant=record.merchant,
            terminal_id__in={line.terminal_id for line in parsed.lines},
            operation_date__in={line.operation_date for line in parsed.lines},
        ).values_list(
            "terminal_id", "batch_number", "authorization_code", "amount", "operation_date"
        )
    )
    in_file: Counter[tuple] = Counter()
    rows = []
    for line in parsed.lines:
        identity = (
            line.terminal_id,
            line.batch_number,
            line.authorization_code,
            line.amount,
            line.operation_date,
        )
        in_file[identity] += 1
        if in_file[identity] <= already[identity]:
            continue
        rows.append(
            LiquidationLine(
                liquidation=record,
                merchant=record.merchant,
                store=stores[line.terminal_id],
                row_number=line.row_number,
                terminal_id=line.terminal_id,
                batch_number=line.batch_number,
                authorization_code=line.authorization_code,
                amount=line.amount,
                operation_date=line.operation_date,
                card_brand=line.card_brand,
                installments=line.installments,
                raw=line.raw,
                occurrence=in_file[identity],
            )
        )
    LiquidationLine.objects.bulk_create(rows)
    return len(rows)
