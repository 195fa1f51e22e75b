"""django-q2 tasks: thin interfaces that load by id and call a service.

Delivery is at least once: every task here is safe to run twice. Arguments are ids and numbers,
never credentials or model instances (they are stored and shown in the admin).
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from transactions import sweeper

logger = logging.getLogger(__name__)

# Well below Q_CLUSTER["timeout"], with room for a last sweep whose reads all time out.
SWEEPER_SECONDS = 40


def sweeper_task(seconds: int = SWEEPER_SECONDS) -> str:
    """Runs the sweeper loop for `seconds` in a free slot, then chains the next run.

    django-q2's scheduler fires about once a minute and has no delayed tasks, so detection cannot
    ride on the schedule: the loop sweeps every quarter second, and chaining keeps it running
    with no gap. The every-minute schedule is only the watchdog that restarts a dead chain; the
    slot leases (`sweeper.SweeperSlot`) keep the number of loops at ECR_SWEEPERS however many fire.
    """
    chain = True
    try:
        polled = sweeper.sweeper_run(seconds=seconds)
        # A run that found every slot taken does not chain: the loops holding them chain.
        chain = polled is not None
    finally:
        # Chained even after an error, so polling never waits for the watchdog.
        if chain and settings.ECR_SWEEPER_CHAIN:
            from django_q.tasks import async_task

            async_task("transactions.tasks.sweeper_task", seconds, task_name="ecr-sweeper-chain")
    if polled is None:
        return "todas las ranuras del sweeper están ocupadas"
    return f"{polled} consultas"


def batch_close_due_task() -> str:
    """Closes the batches of every store whose daily close hour has come (idempotent per day,
    retried with backoff), and raises payments approved after their batch closed."""
    from datetime import timedelta

    from transactions.reporting.differences import approved_after_close_scan
    from transactions.reporting.reconciliation import batch_backfill
    from transactions.services import store_batch_close_due

    now = timezone.now()
    backfilled = batch_backfill()
    results = store_batch_close_due(now=now)
    # Two days back: a payment resolved late (in doubt, then found) still gets looked at.
    late = approved_after_close_scan(since=now - timedelta(days=2))
    return f"{len(results)} cierres pedidos, {backfilled} lotes registrados, {late} tardíos"


def approvals_expire_task() -> str:
    """Cancels the refunds and reversals whose approval expired (maker-checker, issue 15)."""
    from transactions.services import approvals_expire_due

    return f"{approvals_expire_due()} aprobaciones vencidas"


def daily_reports_due_task() -> str:
    """Keeps the daily reports that are due or changed (a revision only when the numbers
    changed, so it is safe to run any number of times) and enqueues their e-mails."""
    from transactions.reporting.kept import daily_reports_due

    written = daily_reports_due()
    return f"{len(written)} reportes guardados"


def daily_report_deliver_task(report_id: int) -> int:
    """E-mails one kept report to its recipients (each person once, however often it runs)."""
    from transactions.reporting.kept import daily_report_deliver

    return daily_report_deliver(report_id=report_id)


def terminal_health_task() -> str:
    """Raises the terminals that stopped taking intentions to a person (once per run)."""
    from transactions.services.health import terminal_alerts_raise

    return f"{terminal_alerts_raise()} terminales sin tomar intenciones avisadas"


def token_warmup_task() -> int:
    """Fetches tokens before they are needed so the first payment of the day does not wait."""
    from stores.models import Credential
    from transactions.gateway import GatewayError, gateway_for

    warmed = 0
    for credential in (
        Credential.objects.active().filter(merchants__stores__isnull=False).distinct()
    ):
        try:
            gateway_for(credential).token()
            warmed += 1
        except GatewayError as exc:
            logger.warning("token warm-up for credential %s failed: %s", credential.pk, exc.message)
    return warmed


def prune_task(days: int = 90) -> int:
    """Deletes provider-call records older than `days` (intents and events are kept)."""
    from transactions.models import GatewayCall

    deleted, _ = GatewayCall.objects.filter(
        created_at__lt=timezone.now() - timedelta(days=days)
    ).delete()
    return deleted
