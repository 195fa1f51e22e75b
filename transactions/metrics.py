"""What operations watch: the sweeper's heartbeat and the numbers `/metrics` exposes.

Every number is read from the shared state (database, cache, broker) when Prometheus scrapes, not
counted in the process that answers: the work happens in qcluster workers on several hosts, which
nobody scrapes, and gunicorn's workers would each count their own share. The reads are cheap by
construction: each one is a grouped query over a partial index that holds only the work in flight
(`intent_due_poll`, `intent_attention`, `webhook_delivery_due`) or over a short recent window of
an index on `created_at`; none scans the ledger.

Windowed numbers (detection lag, provider latency) are Prometheus *gauge histograms*: the
distribution over the window right now, not a counter since the process started.
"""

import contextlib
import logging
import time
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.db.models import Count, DurationField, ExpressionWrapper, F, Min, Q, Sum
from django.utils import timezone
from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from transactions.models import GatewayCall, Intent
from transactions.states import FINAL_STATES, State
from transactions.webhooks.models import WebhookDelivery

logger = logging.getLogger(__name__)

HEARTBEAT_KEY = "ecr:sweeper:heartbeat"
# The loop sweeps every quarter second; writing the heartbeat that often would cost the database
# cache 4 writes a second for nothing: once every few seconds is plenty for an age in minutes.
HEARTBEAT_EVERY_SECONDS = 5.0
# The loop runs 40 s and chains itself, with a watchdog every minute: older than this, no loop
# is sweeping (README "What to alert on").
HEARTBEAT_STALE_AFTER_SECONDS = 120.0

RECENT_WINDOW = timedelta(hours=1)
PROVIDER_WINDOW = timedelta(minutes=5)
LAG_BUCKETS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
LATENCY_BUCKETS_MS = (50, 100, 250, 500, 1000, 2500, 5000, 10000, 15000)

_last_heartbeat = 0.0


def sweeper_heartbeat() -> None:
    """Record that a sweeper loop just swept (at most every HEARTBEAT_EVERY_SECONDS per
    process). Never fails the sweep: a cache blip only makes the heartbeat older."""
    global _last_heartbeat
    now = time.time()
    if now - _last_heartbeat < HEARTBEAT_EVERY_SECONDS:
        return
    try:
        cache.set(HEARTBEAT_KEY, now, timeout=None)
    except Exception:
        logger.warning("sweeper heartbeat not recorded", exc_info=True)
        return
    _last_heartbeat = now


def sweeper_heartbeat_age() -> float | None:
    """Seconds since a sweeper loop last swept, None if none ever did (or the cache lost it)."""
    value = cache.get(HEARTBEAT_KEY)
    if value is None:
        return None
    return max(0.0, time.time() - float(value))


def task_queue_depth() -> int:
    """Tasks waiting in the django-q2 broker (not counting the ones being run)."""
    from django_q.brokers import get_broker

    return int(get_broker().queue_size() or 0)


def _cumulative(counts: Mapping[str, Any], total: int, bounds) -> list[tuple[str, float]]:
    return [*((str(bound), counts[str(bound)]) for bound in bounds), ("+Inf", total)]


class PortalCollector(Collector):
    """Reads the portal's numbers at scrape time (see the module's docstring)."""

    def collect(self) -> Iterator:
        now = timezone.now()
        yield from self._intents(now)
        yield from self._attention()
        yield from self._detection_lag(now)
        yield from self._provider(now)
        yield from self._webhooks(now)
        yield from self._sweeper_and_queue()

    def _intents(self, now) -> Iterator:
        live = GaugeMetricFamily(
            "ecr_intents_live",
            "Intents not final yet, by kind and state.",
            labels=["kind", "state"],
        )
        # The exclusion is the predicate of the partial index `intent_due_poll`.
        rows = (
            Intent.objects.exclude(state__in=sorted(FINAL_STATES))
            .values("kind", "state")
            .annotate(n=Count("id"))
            .order_by()
        )
        for row in rows:
            live.add_metric([row["kind"], row["state"]], row["n"])
        yield live
        recent = GaugeMetricFamily(
            "ecr_intents_recent",
            "Intents created in the last hour, by kind and current state (final ones included).",
            labels=["kind", "state"],
        )
        rows = (
            Intent.objects.filter(created_at__gte=now - RECENT_WINDOW)
            .values("kind", "state")
            .annotate(n=Count("id"))
            .order_by()
        )
        for row in rows:
            recent.add_metric([row["kind"], row["state"]], row["n"])
        yield recent

    def _attention(self) -> Iterator:
        # The filter is the predicate of the partial index `intent_attention`.
        counts = Intent.objects.filter(Q(state=State.IN_DOUBT) | Q(needs_attention=True)).aggregate(
            in_doubt=Count("id", filter=Q(state=State.IN_DOUBT)),
            flagged=Count("id", filter=Q(needs_attention=True)),
        )
        yield GaugeMetricFamily(
            "ecr_intents_in_doubt",
            "Intents in doubt: a create whose answer was lost and that is not found yet.",
            value=counts["in_doubt"],
        )
        yield GaugeMetricFamily(
            "ecr_intents_needing_attention",
            "Intents flagged for a person (stuck, unknown status, lost cancellation, in doubt "
            "too long).",
            value=counts["flagged"],
        )

    def _detection_lag(self, now) -> Iterator:
        """From the provider's final status (its date) to the portal knowing it (finished_at),
        for final intents created in the last hour."""
        known = Intent.objects.filter(
            created_at__gte=now - RECENT_WINDOW,
            state__in=sorted(FINAL_STATES),
            finished_at__isnull=False,
            provider_status_at__isnull=False,
        )
        aggregates = {
            str(bound): Count(
                "id",
                filter=Q(finished_at__lte=F("provider_status_at") + timedelta(seconds=bound)),
            )
            for bound in LAG_BUCKETS
        }
        lag = ExpressionWrapper(
            F("finished_at") - F("provider_status_at"), output_field=DurationField()
        )
        counts = known.aggregate(total=Count("id"), lag_sum=Sum(lag), **aggregates)
        yield GaugeHistogramMetricFamily(
            "ecr_detection_lag_seconds",
            "Seconds from the provider's final status to the portal knowing it, intents created "
            "in the last hour.",
            buckets=_cumulative(counts, counts["total"], LAG_BUCKETS),
            gsum_value=counts["lag_sum"].total_seconds() if counts["lag_sum"] else 0.0,
        )

    def _provider(self, now) -> Iterator:
        """Provider calls of the last 5 minutes, from the `GatewayCall` rows: a row is kept for
        every call that changed something or failed and one idle read a minute per intent, so
        `calls` undercounts idle reads and `errors` is exact."""
        since = now - PROVIDER_WINDOW
        calls = GaugeMetricFamily(
            "ecr_provider_calls_recent",
            "Provider calls recorded in the last 5 minutes, by operation.",
            labels=["operation"],
        )
        errors = GaugeMetricFamily(
            "ecr_provider_errors_recent",
            "Provider calls that failed in the last 5 minutes, by operation and outcome.",
            labels=["operation", "outcome"],
        )
        aggregates = {
            str(bound): Count("id", filter=Q(duration_ms__lte=bound))
            for bound in LATENCY_BUCKETS_MS
        }
        rows = (
            GatewayCall.objects.filter(created_at__gte=since)
            .values("operation")
            .annotate(n=Count("id"), duration_sum=Sum("duration_ms"), **aggregates)
            .order_by()
        )
        latency = GaugeHistogramMetricFamily(
            "ecr_provider_latency_milliseconds",
            "Duration of the provider calls recorded in the last 5 minutes, by operation.",
            labels=["operation"],
        )
        for row in rows:
            calls.add_metric([row["operation"]], row["n"])
            latency.add_metric(
                [row["operation"]],
                _cumulative(row, row["n"], LATENCY_BUCKETS_MS),
                row["duration_sum"] or 0,
            )
        failed = (
            GatewayCall.objects.filter(created_at__gte=since)
            .exclude(outcome=GatewayCall.Outcome.OK)
            .values("operation", "outcome")
            .annotate(n=Count("id"))
            .order_by()
        )
        for failure in failed:
            errors.add_metric([failure["operation"], failure["outcome"]], failure["n"])
        yield calls
        yield errors
        yield latency

    def _webhooks(self, now) -> Iterator:
        # Pending deliveries: the partial index `webhook_delivery_due` holds exactly these.
        pending = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING)
        counts = pending.aggregate(
            total=Count("id"),
            due=Count("id", filter=Q(next_attempt_at__lte=now)),
            oldest=Min("created_at"),
        )
        yield GaugeMetricFamily(
            "ecr_webhook_backlog",
            "Webhook deliveries not delivered yet (pending).",
            value=counts["total"],
        )
        yield GaugeMetricFamily(
            "ecr_webhook_backlog_due",
            "Pending webhook deliveries whose next attempt is due now.",
            value=counts["due"],
        )
        oldest = counts["oldest"]
        yield GaugeMetricFamily(
            "ecr_webhook_backlog_oldest_age_seconds",
            "Age of the oldest pending webhook delivery (0 when none).",
            value=(now - oldest).total_seconds() if oldest else 0.0,
        )

    def _sweeper_and_queue(self) -> Iterator:
        age = sweeper_heartbeat_age()
        yield GaugeMetricFamily(
            "ecr_sweeper_heartbeat_age_seconds",
            "Seconds since a sweeper loop last swept (-1: never, or the cache lost it).",
            value=-1.0 if age is None else age,
        )
        depth = -1
        with contextlib.suppress(Exception):
            depth = task_queue_depth()
        yield GaugeMetricFamily(
            "ecr_task_queue_depth",
            "Tasks waiting in the django-q2 broker (-1: the broker did not answer).",
            value=depth,
        )
