"""Writes of the homologation kit: recording which operation proves a case (one operation per
case, one case per operation), forgetting it, and loading Prisma's list of cases."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from stores.models import Merchant
from transactions import homologation
from transactions.errors import Code, IntentRuleError
from transactions.models import HomologationCase, HomologationEvidence, Intent


def homologation_evidence_record(
    *, merchant: Merchant, case: HomologationCase, intent: Intent, user=None
) -> HomologationEvidence:
    """Records `intent` as the evidence of `case` for the credential it was made with. The
    intent must be one of the merchant's homologation operations known to the provider, fit the
    case's rule (any operation for a "manual" case), and prove no other case; the case must have
    no evidence yet for that credential (forget it first to change it)."""
    if not homologation.homologation_intents(merchant).filter(pk=intent.pk).exists():
        raise IntentRuleError(
            Code.VALIDATION_ERROR,
            "Esa operación no es una operación de homologación de este comercio.",
            field="intent",
        )
    if case.pk is None:
        # The shipped default shown while the table is empty (`case_list`): store it now.
        case, _ = HomologationCase.objects.get_or_create(
            code=case.code,
            defaults={
                "title": case.title,
                "how": case.how,
                "matcher": case.matcher,
                "position": case.position,
            },
        )
    rule = homologation.MATCHERS.get(case.matcher)
    if rule is not None and not Intent.objects.filter(rule, pk=intent.pk).exists():
        raise IntentRuleError(
            Code.VALIDATION_ERROR,
            f"Esa operación no corresponde al caso «{case.title}».",
            field="intent",
        )
    credential = intent.credential
    evidence = HomologationEvidence(
        case=case,
        credential=credential,
        intent=intent,
        terminal_id=intent.terminal.terminal_id if intent.terminal is not None else "",
        amount=intent.amount,
        installments=intent.installments,
        brand=intent.card_brand or intent.card_brand_code or "",
        authorization_code=intent.authorization_code or "",
        ticket_number=intent.ticket_number or "",
        payment_id=intent.provider_id,
        simulator=credential.is_simulator,
        recorded_by=user if getattr(user, "pk", None) else None,
    )
    try:
        with transaction.atomic():
            evidence.save()
    except IntegrityError as exc:
        raise IntentRuleError(
            Code.VALIDATION_ERROR,
            "Esa operación ya es la evidencia de otro caso, o el caso ya tiene una: cada "
            "operación prueba un solo caso.",
            field="intent",
        ) from exc
    return evidence


def homologation_evidence_forget(*, evidence: HomologationEvidence) -> None:
    """Takes the recorded operation off its case (to record another)."""
    HomologationEvidence.objects.filter(pk=evidence.pk).delete()


def homologation_cases_load(*, rows: list[dict[str, str]]) -> tuple[int, int]:
    """Loads Prisma's list of cases: each row has `codigo`, `caso` and optionally
    `instrucciones` and `regla` (one of `MATCHERS`, else "manual"). Upserts by code in the
    file's order; cases missing from the file stay for history but are no longer active.
    Returns (loaded, retired)."""
    codes = []
    with transaction.atomic():
        for position, row in enumerate(rows):
            code = (row.get("codigo") or "").strip()
            title = (row.get("caso") or "").strip()
            if not code or not title:
                raise ValueError(f"Fila {position + 2}: faltan el código o el caso.")
            matcher = (row.get("regla") or "").strip() or code
            if matcher not in homologation.MATCHERS:
                matcher = homologation.MANUAL
            HomologationCase.objects.update_or_create(
                code=code,
                defaults={
                    "title": title,
                    "how": (row.get("instrucciones") or "").strip(),
                    "matcher": matcher,
                    "position": position,
                    "active": True,
                },
            )
            codes.append(code)
        retired = (
            HomologationCase.objects.exclude(code__in=codes)
            .filter(active=True)
            .update(active=False)
        )
    return len(codes), retired
