"""Issue 11 item 5: a `created` row whose process died is in doubt after ONE grace period, even
when the sweeper first claims it a moment before that period ends (its `next_poll_at` was taken
before its `created_at`, or rounded down)."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from tests.factories import make_intent
from transactions import sweeper
from transactions.backoff import created_grace_seconds
from transactions.models import Intent
from transactions.states import State

T0 = datetime(2026, 11, 27, 15, 0, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


def test_a_created_row_claimed_just_before_its_grace_ends_is_in_doubt_a_second_later(store_a):
    grace = timedelta(seconds=created_grace_seconds())
    with time_machine.travel(T0, tick=False):
        intent = make_intent(store_a, state=State.CREATED)
    # As create_row left it: the grace counted from a moment before the row's created_at.
    Intent.objects.filter(pk=intent.pk).update(
        next_poll_at=T0 + grace - timedelta(milliseconds=400)
    )

    with time_machine.travel(T0 + grace - timedelta(milliseconds=400), tick=False):
        assert sweeper.sweep_once(concurrency=1) == 1
    intent.refresh_from_db()
    assert intent.state == State.CREATED  # not yet: 0.4 s of grace left

    with time_machine.travel(T0 + grace + timedelta(seconds=1), tick=False):
        assert sweeper.sweep_once(concurrency=1) == 1
    intent.refresh_from_db()
    assert intent.state == State.IN_DOUBT
