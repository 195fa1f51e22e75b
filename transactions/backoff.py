"""How often an intent is polled: the backoff schedule (no database, no network)."""

from datetime import timedelta

from django.utils import timezone

from transactions.states import State

# A `created` row older than this was orphaned by a crash between commit and provider call
# (the call itself times out well before: connect + read timeouts).
CREATED_GRACE_SECONDS = 45
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
        return timedelta(seconds=2 if age < IN_DOUBT_FAST_SEARCH else 300)
    if state == State.CREATED:
        return timedelta(seconds=CREATED_GRACE_SECONDS)
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
