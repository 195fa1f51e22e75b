"""System checks of the portal's own settings: run by `manage.py check` and at the start of every
management command, `qcluster` included, so a configuration that cannot work refuses to start."""

from django.conf import settings
from django.core.checks import Error, register


@register()
def sweeper_leaves_workers_free(app_configs=None, **kwargs) -> list[Error]:
    """Each sweeper loop holds a django-q2 worker for its whole run and chains itself: with as
    many loops as workers, webhook deliveries, batch closes and token warm-ups would wait behind
    the sweeper for ever. Every worker process must keep at least one worker free, even if all
    the loops land on it."""
    workers = settings.Q_CLUSTER.get("workers", 1)
    sweepers = settings.ECR_SWEEPERS
    if not settings.ECR_SWEEPER_CHAIN or workers > sweepers:
        return []
    return [
        Error(
            f"Q_WORKERS={workers} leaves no worker for other tasks with ECR_SWEEPERS={sweepers}: "
            "every sweeper loop holds a worker.",
            hint=f"Set Q_WORKERS to at least {sweepers + 1} (or lower ECR_SWEEPERS).",
            id="transactions.E001",
        )
    ]
