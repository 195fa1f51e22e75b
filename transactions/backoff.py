"""How often an intent is polled: the backoff schedule (no database, no network)."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from transactions.states import State


def created_grace_seconds() -> int:
    """How old a `created` row must be before the sweeper treats its process as dead.

    It must outlast the slowest honest create: waiting for another caller's token request, a
    token fetch, the create, and after a 401 one more token fetch and create (each bounded by the
    connect + read timeouts). A slower answer is still adopted (see `services.pipeline.send`).
    """
    one_call_ms = settings.ECR_GATEWAY_CONNECT_TIMEOUT_MS + settings.ECR_GATEWAY_READ_TIMEOUT_MS
    return 4 * one_call_ms // 1000 + 15


# How long an in-doubt create keeps being searched for quickly before a person is asked.
IN_DOUBT_FAST_SEARCH = timedelta(minutes=2)


def next_poll_delay(intent, *, now=None, state: str | None = None) -> timedelta:
    """The backoff schedule: fast while a customer is likely at the terminal, slower after.

    `state` overrides the intent's own (to schedule the state it is about to enter).
    """
    now = now or timezone.now()
    state = state or intent.state
    if state == State.IN_DOUBT:
        age = now - intent.created_at
        # Each look is up to two searches: every 3 s while the customer may be at the terminal.
        return timedelta(seconds=3 if age < IN_DOUBT_FAST_SEARCH else 300)
    if state == State.CREATED:
        return timedelta(seconds=created_grace_seconds())
    started = intent.sent_at or intent.created_at
    age = (now - started).total_seconds()
    if state == State.CANCELLING:
        return timedelta(seconds=1 if age < 600 else 15)
    if age < 180:
        return timedelta(seconds=1)
    if age < 600:
        return timedelta(seconds=3)
    if age < 3600:
        return timedelta(seconds=15)
    return timedelta(seconds=60)


def next_poll_at(intent, *, now=None, state: str | None = None):
    """When to poll next: the schedule's delay, rounded to the nearest whole second.

    The rounding puts intents due at the same instant, so one sweeper claim (one write) serves
    them all. Rounding to the nearest (not up) keeps the cadence: a claim made a little after a
    whole second still schedules the next poll one second later, not two. Every delay is at
    least a second, so the result is always at least half a second ahead.
    """
    now = now or timezone.now()
    moment = now + next_poll_delay(intent, now=now, state=state)
    rounded = moment.replace(microsecond=0)
    if moment.microsecond >= 500_000:
        rounded += timedelta(seconds=1)
    return rounded
