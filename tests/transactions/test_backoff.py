"""The polling schedule."""

from datetime import UTC, datetime, timedelta

import pytest

from transactions.backoff import next_poll_at, next_poll_delay
from transactions.models import Intent
from transactions.states import Kind, State

NOW = datetime(2026, 11, 27, 15, 0, 0, 250000, tzinfo=UTC)


def _sent(state, age_seconds) -> Intent:
    """An unsaved payment in `state`, sent `age_seconds` before NOW. The schedule reads only the
    state and the times, so no row (and no database) is needed."""
    sent = NOW - timedelta(seconds=age_seconds)
    return Intent(kind=Kind.PAYMENT, state=state, sent_at=sent, created_at=sent)


@pytest.mark.parametrize(
    ("state", "age", "delay"),
    [
        (State.PENDING, 5, 1),
        (State.PROCESSING, 179, 1),
        (State.PROCESSING, 200, 3),
        (State.PROCESSING, 1000, 15),
        (State.PROCESSING, 7200, 60),
        (State.CANCELLING, 30, 1),
        (State.IN_DOUBT, 1, 3),
        (State.IN_DOUBT, 30, 30),  # the searches back off: the next when the age doubles
        (State.IN_DOUBT, 600, 300),
    ],
)
def test_fast_while_a_customer_is_likely_at_the_terminal_slower_after(state, age, delay):
    assert next_poll_delay(_sent(state, age), now=NOW) == timedelta(seconds=delay)


def test_next_poll_is_rounded_to_the_nearest_second_so_claims_batch_and_keep_cadence():
    # Claimed a quarter second after a whole second: the next poll is one second later.
    assert next_poll_at(_sent(State.PENDING, 5), now=NOW) == datetime(
        2026, 11, 27, 15, 0, 1, tzinfo=UTC
    )
    late = NOW.replace(microsecond=700000)
    assert next_poll_at(_sent(State.PENDING, 5), now=late) == datetime(
        2026, 11, 27, 15, 0, 2, tzinfo=UTC
    )
