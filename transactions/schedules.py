"""The recurring work, declared in code and created idempotently (`manage.py ensure_schedules`)."""

from django_q.models import Schedule

SCHEDULES = [
    # name, function, every N minutes
    ("ecr-sweeper-watchdog", "transactions.tasks.sweeper_task", 1),
    ("ecr-batch-close", "transactions.tasks.batch_close_due_task", 5),
    # After each store's close (+ ECR_REPORT_GRACE_MINUTES): keep and e-mail its day's report;
    # late facts of the last days make new revisions.
    ("ecr-daily-reports", "transactions.tasks.daily_reports_due_task", 15),
    ("ecr-terminal-health", "transactions.tasks.terminal_health_task", 5),
    ("ecr-token-warmup", "transactions.tasks.token_warmup_task", 30),
    ("ecr-prune", "transactions.tasks.prune_task", 24 * 60),
    ("ecr-approvals-expire", "transactions.tasks.approvals_expire_task", 1),
    ("ecr-webhook-retries", "transactions.tasks_webhooks.webhook_retry_sweep", 1),
    ("ecr-idempotency-prune", "transactions.tasks_webhooks.idempotency_prune_task", 24 * 60),
    # Onboarding with Prisma: reminder at 7 days in a stage, warning at 12 (issue 14 item 3).
    ("ecr-onboarding-reminders", "stores.tasks.onboarding_reminders_task", 24 * 60),
]


def schedules_ensure() -> list[str]:
    """Creates or updates every schedule by name; running it twice changes nothing."""
    names = []
    for name, func, minutes in SCHEDULES:
        Schedule.objects.update_or_create(
            name=name,
            defaults={
                "func": func,
                "schedule_type": Schedule.MINUTES,
                "minutes": minutes,
                "repeats": -1,
            },
        )
        names.append(name)
    return names
