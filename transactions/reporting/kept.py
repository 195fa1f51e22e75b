"""Kept daily reports (issue 13, items 1 and 2): after each store's close its business day is
written down per store and per merchant as an immutable `DailyReport`, late facts make a new
revision with what changed, and each new revision is e-mailed (Spanish summary in the body, the
XLSX attached) to the owners and finance members who did not opt out.

The work is driven by `daily_reports_due` (a django-q2 schedule, `tasks.daily_reports_due_task`):
a store's day is due once its close hour plus `ECR_REPORT_GRACE_MINUTES` has passed; the last
`LOOKBACK_DAYS` business days are looked at again on every run, so an in-doubt sale resolved
the next day, or a close that came late, lands on its own day as a new revision. Every step is
safe to run twice: a revision is written only when the numbers changed (its fingerprint), and
each e-mail is claimed per report and person before it is sent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from stores.models import Membership, Merchant, Store
from stores.roles import Role
from transactions.models import DailyReport as KeptReport
from transactions.models import DailyReportDelivery, ReportEmailOptOut
from transactions.money import format_ars
from transactions.reporting import daily, exports
from transactions.reporting.totals import local_day

logger = logging.getLogger(__name__)

# Business days looked at again on every run for late facts (today, yesterday, the day before).
LOOKBACK_DAYS = 3
# Who receives the report by e-mail.
RECIPIENT_ROLES = (Role.OWNER, Role.FINANCE)


def _amount(value) -> str | None:
    return None if value is None else str(Decimal(value).quantize(Decimal("0.01")))


def report_content(report: daily.DailyReport, *, store: Store | None, merchant: Merchant) -> dict:
    """The numbers of one scope of a report, as JSON (amounts as text): the summary lines of
    the CSV (`exports.summary_values`: each store, the merchant's subtotal, the batches), keyed
    by (where, section, item) so two revisions can be compared line by line."""
    totals = report.overall
    lines = [
        [name, section, item, count, _amount(amount)]
        for _day, _cuit, name, section, item, count, amount in exports.summary_values(report)
    ]
    return {
        "day": report.day.isoformat(),
        "scope": "store" if store else "merchant",
        "name": store.name if store else merchant.legal_name,
        "cuit": merchant.cuit,
        "stores": [section.store.name for section in report.stores],
        "totals": {
            "approved_count": totals.approved_count,
            "approved_amount": _amount(totals.approved_amount),
            "reversal_count": totals.reversal_count,
            "reversal_amount": _amount(totals.reversal_amount),
            "refund_count": totals.refund_count,
            "refund_amount": _amount(totals.refund_amount),
            "net": _amount(totals.net),
            "declined_count": totals.declined_count,
            "failed_count": totals.failed_count,
            "cancelled_count": totals.cancelled_count,
        },
        "lines": lines,
    }


def _fingerprint(content: dict) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def content_changes(before: dict | None, after: dict) -> list[dict]:
    """What differs between two revisions, line by line: [{where, section, item, before,
    after}], each side `[count, amount]` or None where the line did not exist."""
    if before is None:
        return []
    old = {tuple(line[:3]): line[3:] for line in before.get("lines", [])}
    new = {tuple(line[:3]): line[3:] for line in after.get("lines", [])}
    changes = []
    for key in [*new, *(k for k in old if k not in new)]:
        if old.get(key) != new.get(key):
            where, section, item = key
            changes.append(
                {
                    "where": where,
                    "section": section,
                    "item": item,
                    "before": old.get(key),
                    "after": new.get(key),
                }
            )
    return changes


def _stores_of(*, store: Store | None, merchant: Merchant) -> list[Store]:
    if store is not None:
        return [store]
    return list(merchant.stores.select_related("merchant").order_by("name", "pk"))


def daily_report_keep(
    *, day: dt.date, store: Store | None = None, merchant: Merchant | None = None
) -> KeptReport | None:
    """Keeps the business day of one store (or of every store of `merchant`): a first revision,
    or a new one when the numbers changed since the last. Returns the new revision, or None
    when nothing changed (running it twice writes once). Enqueues its e-mail after commit."""
    if store is not None:
        merchant = store.merchant
    assert merchant is not None, "a store or a merchant"
    stores = _stores_of(store=store, merchant=merchant)
    report = daily.daily_report(stores=stores, day=day)
    content = report_content(report, store=store, merchant=merchant)
    fingerprint = _fingerprint(content)
    previous = (
        KeptReport.objects.filter(merchant=merchant, store=store, day=day)
        .order_by("-revision")
        .first()
    )
    if previous is not None and previous.fingerprint == fingerprint:
        return None
    try:
        with transaction.atomic():
            kept = KeptReport.objects.create(
                merchant=merchant,
                store=store,
                day=day,
                revision=(previous.revision + 1) if previous else 1,
                content=content,
                fingerprint=fingerprint,
                changes=content_changes(previous.content if previous else None, content),
            )
    except IntegrityError:
        # Another run wrote this revision meanwhile: it is theirs to send.
        return None
    kept_id = kept.pk
    transaction.on_commit(lambda: _enqueue_delivery(kept_id), robust=True)
    return kept


def _enqueue_delivery(report_id: int) -> None:
    from django_q.tasks import async_task

    async_task(
        "transactions.tasks.daily_report_deliver_task",
        report_id,
        task_name=f"ecr-report-mail-{report_id}",
    )


def _is_due(store: Store, day: dt.date, now: dt.datetime) -> bool:
    close = dt.datetime.combine(day, dt.time(store.batch_close_hour), tzinfo=store.tzinfo)
    return now >= close + dt.timedelta(minutes=settings.ECR_REPORT_GRACE_MINUTES)


def daily_reports_due(*, now: dt.datetime | None = None) -> list[KeptReport]:
    """Keeps every report that is due and has changed: each store's last `LOOKBACK_DAYS`
    business days whose close (plus the grace) has passed, and each merchant's day once all its
    stores' are due. Returns the revisions written."""
    now = now or timezone.now()
    written: list[KeptReport] = []
    due_by_merchant: dict[int, dict[dt.date, list[bool]]] = {}
    merchants: dict[int, Merchant] = {}
    for store in Store.objects.select_related("merchant").order_by("pk"):
        merchants[store.merchant_id] = store.merchant
        today = local_day(store=store, now=now)
        opened = local_day(store=store, now=store.created_at)
        for back in range(LOOKBACK_DAYS):
            day = today - dt.timedelta(days=back)
            # A store has no report of the days before it existed (its first deploy).
            due = _is_due(store, day, now) and day >= opened
            due_by_merchant.setdefault(store.merchant_id, {}).setdefault(day, []).append(due)
            if due and (kept := daily_report_keep(day=day, store=store)) is not None:
                written.append(kept)
    for merchant_id, days in due_by_merchant.items():
        for day, dues in days.items():
            if all(dues):
                kept = daily_report_keep(day=day, merchant=merchants[merchant_id])
                if kept is not None:
                    written.append(kept)
    return written


# --- Delivery ------------------------------------------------------------------------------------


def report_recipients(report: KeptReport) -> list:
    """Owners and finance members of the report's store (store-level memberships), or of its
    merchant (merchant-level memberships) for a merchant's report, with an address, active, and
    not opted out."""
    where = Q(store=report.store) if report.store_id else Q(merchant=report.merchant)
    user_ids = Membership.objects.filter(where, role__in=RECIPIENT_ROLES).values("user_id")
    return list(
        get_user_model()
        .objects.filter(pk__in=user_ids, is_active=True)
        .exclude(email="")
        .exclude(pk__in=ReportEmailOptOut.objects.values("user_id"))
        .order_by("pk")
    )


def report_email_subject(report: KeptReport) -> str:
    name = report.content.get("name", "")
    revision = f" (revisión {report.revision})" if report.revision > 1 else ""
    return f"Reporte diario {report.day:%d/%m/%Y} · {name}{revision}"


def report_email_body(report: KeptReport) -> str:
    """The Spanish summary of the e-mail: the day's figures and, for a revision, what changed."""
    t = report.content["totals"]
    lines = [
        "Hola:",
        "",
        f"Este es el reporte diario del {report.day:%d/%m/%Y} de {report.content['name']} "
        f"(CUIT {report.content['cuit']}).",
        "",
        f"Cobros aprobados: {t['approved_count']} por {format_ars(t['approved_amount'])}",
        f"Anulaciones: {t['reversal_count']} por {format_ars(t['reversal_amount'])}",
        f"Devoluciones: {t['refund_count']} por {format_ars(t['refund_amount'])}",
        f"Neto: {format_ars(t['net'])}",
        f"No aprobados: {t['declined_count']} rechazados, {t['failed_count']} con error, "
        f"{t['cancelled_count']} cancelados",
    ]
    if report.revision > 1:
        lines += ["", f"Revisión {report.revision}: llegaron datos nuevos de ese día. Cambió:"]
        for change in report.changes[:30]:
            before = _change_side(change["before"])
            after = _change_side(change["after"])
            lines.append(
                f"- {change['where']} · {change['section']} · {change['item']}: {before} → {after}"
            )
        if len(report.changes) > 30:
            lines.append(f"- y {len(report.changes) - 30} líneas más (ver el adjunto).")
    lines += [
        "",
        "El detalle de cada operación está en el Excel adjunto.",
        "Si no querés recibir este correo, desactivalo en la página Reporte diario del portal.",
    ]
    return "\n".join(lines)


def _change_side(side) -> str:
    if side is None:
        return "no estaba"
    count, amount = side
    parts = [str(count)] if count is not None else []
    if amount is not None:
        parts.append(format_ars(amount))
    return " · ".join(parts) or "—"


# Written on a delivery that was not sent because a newer revision replaces it.
SUPERSEDED = "reemplazado por una revisión posterior"


def report_xlsx_bytes(report: KeptReport) -> bytes | None:
    """The XLSX of the report's scope and day, read now from the ledger; None when the ledger
    moved since this revision was kept (a late fact): the workbook would not match the
    revision's figures, and a newer revision carries the new ones."""
    stores = _stores_of(store=report.store, merchant=report.merchant)
    live = daily.daily_report(stores=stores, day=report.day)
    content = report_content(live, store=report.store, merchant=report.merchant)
    if _fingerprint(content) != report.fingerprint:
        return None
    with exports.daily_report_xlsx(
        live,
        operations=daily.daily_report_operations(stores=stores, day=report.day),
        not_approved=daily.daily_report_operations(stores=stores, day=report.day, approved=False),
    ) as file:
        return file.read()


def daily_report_deliver(*, report_id: int) -> int:
    """E-mails a kept report to each recipient once (a delivery row claims each person before
    the send; a run after a crash sends only to those not yet stamped). Returns how many
    e-mails were sent. No database transaction is held across the send."""
    report = KeptReport.objects.select_related("store", "merchant").get(pk=report_id)
    pending = []
    for user in report_recipients(report):
        delivery, _ = DailyReportDelivery.objects.get_or_create(
            report=report, user=user, defaults={"email": user.email}
        )
        if delivery.sent_at is None:
            pending.append(delivery)
    if not pending:
        return 0
    newer = KeptReport.objects.filter(
        merchant=report.merchant, store=report.store, day=report.day, revision__gt=report.revision
    ).exists()
    attachment = None if newer else report_xlsx_bytes(report)
    if attachment is None:
        # The figures moved on: people get the revision that matches the ledger, once (kept
        # here if no run has kept it yet; its own delivery task sends it), never an e-mail
        # whose body and workbook disagree.
        DailyReportDelivery.objects.filter(pk__in=[d.pk for d in pending]).update(error=SUPERSEDED)
        if not newer:
            daily_report_keep(
                day=report.day,
                store=report.store,
                merchant=None if report.store_id else report.merchant,
            )
        return 0
    scope = report.store.code if report.store else report.merchant.cuit
    filename = f"reporte-{report.day.isoformat()}-{scope}-r{report.revision}.xlsx"
    sent = 0
    for delivery in pending:
        message = EmailMessage(
            subject=report_email_subject(report),
            body=report_email_body(report),
            to=[delivery.email],
        )
        message.attach(filename, attachment, exports.XLSX_CONTENT_TYPE)
        try:
            message.send()
        except Exception as exc:  # an SMTP failure of one person must not stop the others
            logger.warning("daily report %s to %s failed: %s", report.pk, delivery.email, exc)
            DailyReportDelivery.objects.filter(pk=delivery.pk).update(error=str(exc)[:300])
            continue
        DailyReportDelivery.objects.filter(pk=delivery.pk).update(sent_at=timezone.now(), error="")
        sent += 1
    return sent


def report_email_opt_out_set(*, user, receive: bool) -> None:
    """Whether `user` receives the daily report by e-mail (a person's own choice)."""
    if receive:
        ReportEmailOptOut.objects.filter(user=user).delete()
    else:
        ReportEmailOptOut.objects.get_or_create(user=user)


def receives_report_email(*, user) -> bool:
    return not ReportEmailOptOut.objects.filter(user=user).exists()


def kept_reports_for_stores(*, stores: list[Store], limit: int = 60, public_id=None):
    """The kept reports the page lists: those of the given stores and of their merchants when
    every store of the merchant is among them (a merchant's report shows all its stores).
    With `public_id`, only that one (if it is among them)."""
    store_ids = {s.pk for s in stores}
    merchant_ids = {s.merchant_id for s in stores}
    whole = [
        m.pk
        for m in Merchant.objects.filter(pk__in=merchant_ids).prefetch_related("stores")
        if {s.pk for s in m.stores.all()} <= store_ids
    ]
    reports = KeptReport.objects.filter(
        Q(store_id__in=store_ids) | Q(store=None, merchant_id__in=whole)
    )
    if public_id is not None:
        reports = reports.filter(public_id=public_id)
    return list(
        reports.select_related("store", "merchant").order_by(
            "-day", "merchant_id", "store_id", "-revision"
        )[:limit]
    )
