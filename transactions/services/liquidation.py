"""Importing an acquirer's liquidación: the merchant's column mapping, the import itself
(idempotent: the same file, or a line already imported, adds nothing) and its reconciliation."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction

from stores.models import Merchant, Terminal
from stores.permissions import user_can_for_merchant
from stores.roles import Action
from transactions.errors import Code, IntentRuleError
from transactions.models import LiquidationImport, LiquidationLine, LiquidationMapping
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
    for start in range(0, len(keys), _KEYS_PER_PASS):
        liquidation_reconcile(merchant=merchant, keys=set(keys[start : start + _KEYS_PER_PASS]))
    return record, True


def _store_lines(record: LiquidationImport, parsed: ParsedFile, stores: dict) -> int:
    """Adds the lines not imported before (by what identifies them); returns how many."""
    seen = set(
        LiquidationLine.objects.filter(
            merchant=record.merchant,
            terminal_id__in={line.terminal_id for line in parsed.lines},
            operation_date__in={line.operation_date for line in parsed.lines},
        ).values_list(
            "terminal_id", "batch_number", "authorization_code", "amount", "operation_date"
        )
    )
    rows = []
    for line in parsed.lines:
        identity = (
            line.terminal_id,
            line.batch_number,
            line.authorization_code,
            line.amount,
            line.operation_date,
        )
        if identity in seen:
            continue
        seen.add(identity)
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
            )
        )
    LiquidationLine.objects.bulk_create(rows)
    return len(rows)
