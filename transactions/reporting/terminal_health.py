"""Terminal health a manager can act on (the fleet page, and the alert of a terminal that stopped
taking intentions).

For every terminal: when it was last seen (its last pick-up, or the answer of the intention it
last took), how many it took today and the median time it took to pick them up, the
operations stuck on it, and its run of intentions that expired on its screen without being
taken. From those, one status, worst first:

- `stopped` ("No toma intenciones"): its last `STOPPED_AFTER` intentions, or more, expired
  untaken (the store's waiting time ran out): it is off, offline or not on the charge screen;
- `stuck` ("Operaciones para revisar"): something on it needs a person (in doubt, stuck,
  flagged);
- `idle` ("Sin actividad"): nothing taken nor answered for the store's `idle_alert_minutes`
  while the store is open (silence outside opening hours says nothing);
- `ok`, then `disabled`.

Four queries for a whole fleet, however many terminals, stores and intents: the terminals with
their last sighting (index probes), today's pick-up waits, what was offered to each since it
last took something, and the operations that need a person.
"""

import datetime as dt
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, DurationField, ExpressionWrapper, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from stores.models import Store, Terminal
from transactions.models import Intent
from transactions.states import FINAL_STATES, State

STOPPED_AFTER = 3  # intentions in a row that expired untaken
# How far back the run of expired intentions is read: a run that crosses midnight still counts.
LOOKBACK = dt.timedelta(hours=24)
# The expiry is the sweeper's: it fires at the store's waiting time, give or take a sweep.
_EXPIRY_SLACK = dt.timedelta(seconds=2)


class Status:
    STOPPED = "stopped"
    STUCK = "stuck"
    IDLE = "idle"
    OK = "ok"
    DISABLED = "disabled"


_LABELS = {
    Status.STOPPED: "No toma intenciones",
    Status.STUCK: "Operaciones para revisar",
    Status.IDLE: "Sin actividad",
    Status.OK: "Bien",
    Status.DISABLED: "Deshabilitada",
}
_SEVERITY = {
    Status.STOPPED: 0,
    Status.STUCK: 1,
    Status.IDLE: 2,
    Status.OK: 3,
    Status.DISABLED: 4,
}


@dataclass
class TerminalHealth:
    """One terminal's health now. `expired_run` are the pks of the intentions that expired on
    it in a row, newest first."""

    terminal: Terminal
    status: str = Status.OK
    last_seen_at: dt.datetime | None = None
    taken_today: int = 0
    median_pickup: dt.timedelta | None = None
    stuck_count: int = 0
    expired_run: list[int] = field(default_factory=list)
    store_open: bool = True

    @property
    def store(self) -> Store:
        return self.terminal.store

    @property
    def label(self) -> str:
        return _LABELS[self.status]

    @property
    def severity(self) -> int:
        return _SEVERITY[self.status]

    @property
    def median_pickup_seconds(self) -> int | None:
        if self.median_pickup is None:
            return None
        return round(self.median_pickup.total_seconds())


def _last_seen():
    """The terminal's last sighting in its present store: the answer of the intention it last
    took, or the pick-up while that one is still open. One probe of `intent_terminal_taken`:
    a terminal takes one intention at a time, so the last taken one holds the last answer."""
    return Subquery(
        Intent.objects.filter(
            terminal=OuterRef("pk"), store_id=OuterRef("store_id"), taken_at__isnull=False
        )
        .order_by("-taken_at")
        .annotate(seen=Coalesce("finished_at", "taken_at"))
        .values("seen")[:1]
    )


def _last_taken():
    """When the terminal last took an intention in its present store (the same probe)."""
    return Subquery(
        Intent.objects.filter(
            terminal=OuterRef("pk"), store_id=OuterRef("store_id"), taken_at__isnull=False
        )
        .order_by("-taken_at")
        .values("taken_at")[:1]
    )


def _expired_untaken(offer: Mapping[str, Any], store: Store) -> bool:
    """Whether an offered intention ran out its waiting time with nobody taking it (the sweeper
    cancels it), as opposed to a cashier cancelling it on purpose a moment after sending it."""
    if offer["intent__state"] != State.CANCELLED or offer["intent__taken_at"] is not None:
        return False
    asked = offer["intent__cancel_requested_at"]
    started = offer["intent__sent_at"] or offer["intent__created_at"]
    if asked is None or started is None:
        return False
    waited = dt.timedelta(seconds=store.pending_timeout_seconds) - _EXPIRY_SLACK
    return asked - started >= waited


def terminal_health_list(*, terminals, now: dt.datetime | None = None) -> list[TerminalHealth]:
    """The health of these terminals (a queryset the caller scoped), worst first, then by store
    and label. Four queries."""
    now = now or timezone.now()
    rows: list[Terminal] = list(
        terminals.select_related("store", "store__merchant")
        .annotate(last_seen=_last_seen(), last_taken=_last_taken())
        .order_by("store__name", "label", "terminal_id")
    )
    if not rows:
        return []
    by_pk = {t.pk: TerminalHealth(terminal=t, last_seen_at=t.last_seen) for t in rows}  # type: ignore[attr-defined]
    store_ids = {t.store_id for t in rows}
    day_start = {
        t.store_id: dt.datetime.combine(
            now.astimezone(t.store.tzinfo).date(), dt.time.min, tzinfo=t.store.tzinfo
        )
        for t in rows
    }

    # Today's pick-ups of each terminal, as waits computed by the database (one interval per
    # row, not four timestamps): a range of `intent_terminal_taken` per terminal.
    earliest_day = min(day_start.values())
    waits = (
        Intent.objects.filter(
            terminal_id__in=list(by_pk), store_id__in=store_ids, taken_at__gte=earliest_day
        )
        .annotate(
            wait=ExpressionWrapper(
                F("taken_at") - Coalesce("sent_at", "created_at"), output_field=DurationField()
            )
        )
        .values_list("terminal_id", "store_id", "taken_at", "wait")
    )
    pickups: dict[int, list[float]] = {}  # seconds from sending to pick-up, taken today
    for terminal_id, store_id, taken_at, wait in waits:
        if taken_at is not None and taken_at >= day_start[store_id]:
            pickups.setdefault(terminal_id, []).append(max(wait.total_seconds(), 0.0))

    # What was offered to each terminal since it last took something (within the last day),
    # newest first: a healthy terminal has next to nothing there, a stopped one its run.
    since_last_take = Q(pk__in=[])
    for health in by_pk.values():
        last = health.terminal.last_taken  # type: ignore[attr-defined]
        since_last_take |= Q(
            terminal_id=health.terminal.pk,
            intent__created_at__gte=max(last, now - LOOKBACK) if last else now - LOOKBACK,
        )
    offers = (
        Intent.offered_terminals.through.objects.filter(
            since_last_take, intent__store_id__in=store_ids
        )
        .values(
            "terminal_id",
            "intent_id",
            "intent__terminal_id",
            "intent__state",
            "intent__created_at",
            "intent__sent_at",
            "intent__taken_at",
            "intent__cancel_requested_at",
        )
        .order_by("-intent__created_at", "-intent_id")
    )
    run_over: set[int] = set()
    for offer in offers:
        health = by_pk[offer["terminal_id"]]
        store = health.terminal.store
        if health.terminal.pk in run_over or offer["intent__state"] not in FINAL_STATES:
            continue  # the run is counted among the intentions that are over
        if _expired_untaken(offer, store):
            health.expired_run.append(offer["intent_id"])
        elif offer["intent__terminal_id"] == health.terminal.pk:
            run_over.add(health.terminal.pk)  # it took one: the run (if any) ends here
        # Taken by another terminal, or withdrawn by a person: says nothing about this one.

    # What needs a person on each terminal: from the open problems of the stores (the
    # `intent_attention` partial index, as small as they are) to their offers, not from a
    # terminal's whole history of offers.
    problems = Intent.objects.filter(store_id__in=store_ids).filter(
        Q(state=State.IN_DOUBT) | Q(needs_attention=True)
    )
    stuck = (
        Intent.offered_terminals.through.objects.filter(
            terminal_id__in=list(by_pk), intent_id__in=problems.values("pk")
        )
        .values("terminal_id")
        .annotate(n=Count("intent_id"))
        .order_by()
    )
    for row in stuck:
        by_pk[row["terminal_id"]].stuck_count = row["n"]

    for health in by_pk.values():
        times = pickups.get(health.terminal.pk, [])
        health.taken_today = len(times)
        health.median_pickup = dt.timedelta(seconds=statistics.median(times)) if times else None
        health.status = _status(health, now)
    return sorted(by_pk.values(), key=lambda h: h.severity)  # stable: store and label order kept


def _status(health: TerminalHealth, now: dt.datetime) -> str:
    terminal, store = health.terminal, health.terminal.store
    window = dt.timedelta(minutes=store.idle_alert_minutes)
    # Open now, and open all along the window: the night the store was closed is not idleness.
    health.store_open = store.is_open_at(now) and store.is_open_at(now - window)
    if not terminal.enabled:
        return Status.DISABLED
    if len(health.expired_run) >= STOPPED_AFTER:
        return Status.STOPPED
    # A stuck operation can be flagged only because a person must look at it: it still counts.
    if health.stuck_count:
        return Status.STUCK
    if health.store_open and (health.last_seen_at is None or now - health.last_seen_at >= window):
        return Status.IDLE
    return Status.OK
