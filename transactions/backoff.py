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
# The first gap between two searches of an in-doubt create; the gaps then double (below).
IN_DOUBT_FIRST_GAP = timedelta(seconds=3)
IN_DOUBT_SLOW_GAP = timedelta(seconds=300)

# The states a watcher (a POS long-poll, an open page: `services.watch.intent_refresh`) reads
# from the provider at its own pace. The sweeper leaves these alone while watched; every other
# state (a created row, an in-doubt create to search for) stays on the sweeper's schedule
# whoever watches it.
WATCHER_POLLED_STATES = (State.PENDING, State.PROCESSING, State.CANCELLING)


def next_poll_delay(intent, *, now=None, state: str | None = None) -> timedelta:
    """The backoff schedule: fast while a customer is likely at the terminal, slower after.

    `state` overrides the intent's own (to schedule the state it is about to enter).
    """
    now = now or timezone.now()
    state = state or intent.state
    if state == State.IN_DOUBT:
        return _in_doubt_delay(now - intent.created_at)
    if state == State.CREATED:
        # The rest of the grace period, not a whole one: a row claimed a moment before its
        # grace ended (its `next_poll_at` was taken before its `created_at`, or rounded down)
        # is looked at again as soon as it ends, not a second grace period later.
        remaining = timedelta(seconds=created_grace_seconds()) - (now - intent.created_at)
        return max(remaining, timedelta(seconds=1))
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


def _in_doubt_delay(age: timedelta) -> timedelta:
    """The searches of an in-doubt create back off: the next look when its age has doubled (at
    least `IN_DOUBT_FIRST_GAP` later), and one look just past the 2-minute mark, where the
    resolver raises it to a person; then one every 5 minutes.

    Each look is up to two provider searches. A create put in doubt about 2 s after it was sent
    is looked at near 2, 5, 10, 20, 40 and 80 s (at most 12 searches in its first 2 minutes)
    and at 121 s, instead of every 3 s (80 searches): at a 10 % 5xx rate about one payment in
    ten goes in doubt, and the searches must not become most of the provider traffic.
    """
    if age >= IN_DOUBT_FAST_SEARCH:
        return IN_DOUBT_SLOW_GAP
    doubled = max(IN_DOUBT_FIRST_GAP, age)
    # One second past the mark: the rounding of `next_poll_at` moves a look at most 0.5 s.
    past_the_mark = IN_DOUBT_FAST_SEARCH - age + timedelta(seconds=1)
    return min(doubled, past_the_mark)


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
