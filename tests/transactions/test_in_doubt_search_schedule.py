"""Issue 11 items 3 and 4: an in-doubt create is searched on one schedule whether or not a POS
watches it, the schedule backs off (a budget of searches), and the person is asked at the
2-minute mark whether or not that search worked."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from tests.factories import make_intent
from transactions import resolver, sweeper
from transactions.backoff import IN_DOUBT_FAST_SEARCH, next_poll_at
from transactions.gateway import GatewayError
from transactions.models import Intent
from transactions.states import Kind, State

T0 = datetime(2026, 11, 27, 15, 0, 0, tzinfo=UTC)


def _looks_in_doubt(put_in_doubt_after: float, horizon: timedelta) -> list[float]:
    """The ages (seconds since created) at which the sweeper looks at an in-doubt create put in
    doubt `put_in_doubt_after` seconds after it was created, as the schedule sets them."""
    intent = Intent(kind=Kind.PAYMENT, state=State.IN_DOUBT, created_at=T0)
    moment = T0 + timedelta(seconds=put_in_doubt_after + 2)  # the pipeline's first look
    looks = []
    while moment - T0 <= horizon:
        looks.append((moment - T0).total_seconds())
        moment = next_poll_at(intent, now=moment)
    return looks


@pytest.mark.parametrize("in_doubt_after", [0.3, 1.7, 10, 70])
def test_an_in_doubt_create_costs_at_most_a_dozen_searches_in_its_first_two_minutes(
    in_doubt_after,
):
    looks = _looks_in_doubt(in_doubt_after, IN_DOUBT_FAST_SEARCH + timedelta(seconds=10))
    early = [age for age in looks if age < IN_DOUBT_FAST_SEARCH.total_seconds()]
    # Each look is up to two searches (by reference, then the terminal's list).
    assert 2 * len(early) <= 12, looks
    # ...and one look lands just past the 2-minute mark, where a person is asked.
    assert any(120 <= age <= 122 for age in looks), looks


def test_after_two_minutes_an_in_doubt_create_is_searched_every_five_minutes():
    intent = Intent(kind=Kind.PAYMENT, state=State.IN_DOUBT, created_at=T0)
    moment = T0 + timedelta(seconds=121)
    assert next_poll_at(intent, now=moment) - moment == timedelta(seconds=300)


@pytest.mark.django_db
def test_the_two_minute_flag_is_raised_even_when_that_search_fails(store_a, monkeypatch):
    intent = make_intent(store_a, state=State.IN_DOUBT)
    Intent.objects.filter(pk=intent.pk).update(
        created_at=intent.created_at - timedelta(seconds=121)
    )
    intent.refresh_from_db()

    def provider_down(_intent):
        raise GatewayError("503 Servicio no disponible", http_status=503, retryable=True)

    monkeypatch.setattr(resolver, "_candidates", provider_down)
    assert resolver.intent_find_in_doubt(intent) is False
    intent.refresh_from_db()
    assert intent.needs_attention
    assert "No se pudo buscar en Prisma" in intent.attention_reason


@pytest.mark.django_db
def test_a_failed_search_before_the_mark_raises_nobody(store_a, monkeypatch):
    intent = make_intent(store_a, state=State.IN_DOUBT)

    def provider_down(_intent):
        raise GatewayError("503", http_status=503, retryable=True)

    monkeypatch.setattr(resolver, "_candidates", provider_down)
    resolver.intent_find_in_doubt(intent)
    intent.refresh_from_db()
    assert not intent.needs_attention


@pytest.mark.django_db
def test_a_watched_in_doubt_create_is_claimed_by_the_sweeper_like_an_unwatched_one(store_a):
    with time_machine.travel(T0, tick=False):
        due = T0 - timedelta(seconds=1)
        watched = T0 + timedelta(seconds=30)
        in_doubt = make_intent(
            store_a, state=State.IN_DOUBT, next_poll_at=due, watched_until=watched
        )
        created = make_intent(store_a, state=State.CREATED, next_poll_at=due, watched_until=watched)
        pending = make_intent(store_a, state=State.PENDING, next_poll_at=due, watched_until=watched)

        claimed = set(sweeper.claim_due())

    assert in_doubt.pk in claimed and created.pk in claimed
    # A pending one is read by its watcher twice a second: the sweeper leaves it alone.
    assert pending.pk not in claimed
