"""The business day (issue 13, item 1): an operation belongs to the store-local day of the
provider's transaction time, written by the engine with the final state.

Buenos Aires is UTC-3 all year: 27/11 23:50 there is 28/11 02:50 UTC, and 28/11 00:10 there is
28/11 03:10 UTC; both are the same UTC day but two business days.
"""

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest

from tests.factories import make_intent
from transactions.events import Actor
from transactions.gateway.types import IntentAnswer
from transactions.reporting.daily import daily_report
from transactions.states import Kind, State
from transactions.transitions import intent_record_answer, intent_transition

pytestmark = pytest.mark.django_db

BA = zoneinfo.ZoneInfo("America/Argentina/Buenos_Aires")
DAY = dt.date(2026, 11, 27)


def ba(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=BA)


def _confirm(intent, *, status_date: dt.datetime | None, amount="100.00") -> None:
    answer = IntentAnswer(
        kind="payment",
        provider_id=intent.provider_id or "prov-x",
        status="CONFIRMED",
        status_date=status_date,
        card_brand="VISA",
        payment_type="CREDIT",
        authorized_amount=Decimal(amount),
        batch_number=3,
        authorization_code="A1",
    )
    assert intent_record_answer(intent, answer)


def test_a_day_that_crosses_midnight_in_buenos_aires_but_not_in_utc(store_a, terminal_a):
    late = make_intent(store_a, terminal=terminal_a, state=State.PROCESSING)
    early = make_intent(store_a, terminal=terminal_a, state=State.PROCESSING)
    _confirm(late, status_date=ba(27, 23, 50), amount="100.00")
    _confirm(early, status_date=ba(28, 0, 10), amount="30.00")
    late.refresh_from_db()
    early.refresh_from_db()
    # The same UTC day...
    assert late.transacted_at.astimezone(dt.UTC).date() == dt.date(2026, 11, 28)
    assert early.transacted_at.astimezone(dt.UTC).date() == dt.date(2026, 11, 28)
    # ...two business days.
    assert (late.business_day, early.business_day) == (DAY, dt.date(2026, 11, 28))
    on_27 = daily_report(stores=[store_a], day=DAY).overall
    on_28 = daily_report(stores=[store_a], day=dt.date(2026, 11, 28)).overall
    assert (on_27.approved_count, on_27.approved_amount) == (1, Decimal("100.00"))
    assert (on_28.approved_count, on_28.approved_amount) == (1, Decimal("30.00"))


def test_an_in_doubt_sale_found_the_next_day_belongs_to_the_day_it_was_paid(
    store_a, terminal_a, time_machine
):
    time_machine.move_to(ba(27, 23, 55), tick=False)
    intent = make_intent(store_a, terminal=terminal_a, state=State.IN_DOUBT)
    time_machine.move_to(ba(28, 9, 0), tick=False)
    # The provider's answer carries the moment it was approved, the night before.
    _confirm(intent, status_date=ba(27, 23, 56))
    intent.refresh_from_db()
    assert intent.finished_at.astimezone(BA).date() == dt.date(2026, 11, 28)  # learned today
    assert intent.business_day == DAY  # paid yesterday
    assert intent.transacted_at == ba(27, 23, 56)


def test_an_in_doubt_sale_resolved_by_a_person_keeps_the_day_it_was_sent(
    store_a, terminal_a, owner, time_machine
):
    time_machine.move_to(ba(27, 22, 0), tick=False)
    intent = make_intent(store_a, terminal=terminal_a, state=State.IN_DOUBT)
    time_machine.move_to(ba(28, 10, 0), tick=False)
    assert intent_transition(intent, to_state=State.APPROVED, actor=Actor(user=owner))
    intent.refresh_from_db()
    assert intent.business_day == DAY
    assert intent.transacted_at == ba(27, 22, 0)


def test_without_a_provider_date_the_day_is_when_the_portal_learned_it(
    store_a, terminal_a, time_machine
):
    time_machine.move_to(ba(27, 12, 0), tick=False)
    intent = make_intent(store_a, terminal=terminal_a, state=State.PROCESSING)
    _confirm(intent, status_date=None)
    intent.refresh_from_db()
    assert (intent.business_day, intent.transacted_at) == (DAY, ba(27, 12, 0))


def test_a_store_in_another_time_zone_uses_its_own_day(merchant, time_machine):
    from tests.factories import make_store, make_terminal

    madrid = make_store(merchant, name="Madrid", time_zone="Europe/Madrid")
    terminal = make_terminal(madrid)
    intent = make_intent(madrid, terminal=terminal, state=State.PROCESSING)
    # 23:30 in Buenos Aires is 03:30 the next day in Madrid.
    _confirm(intent, status_date=ba(27, 23, 30))
    intent.refresh_from_db()
    assert intent.business_day == dt.date(2026, 11, 28)


def test_intents_that_are_not_final_have_no_business_day(store_a, terminal_a):
    for state in (State.PENDING, State.PROCESSING, State.IN_DOUBT):
        assert make_intent(store_a, terminal=terminal_a, state=state).business_day is None
    reversal = make_intent(store_a, kind=Kind.REVERSAL, state=State.PENDING, amount=None)
    assert reversal.business_day is None


def test_the_migration_backfills_the_business_day_of_existing_rows(store_a, terminal_a):
    import importlib

    from django.apps import apps

    from transactions.models import Intent

    migration = importlib.import_module("transactions.migrations.0011_intent_business_day")
    late = make_intent(store_a, terminal=terminal_a, state=State.APPROVED, finished_at=ba(27, 23))
    dated = make_intent(
        store_a,
        terminal=terminal_a,
        state=State.DECLINED,
        finished_at=ba(28, 9),
        provider_status_at=ba(27, 23, 59),
    )
    live = make_intent(store_a, terminal=terminal_a, state=State.PROCESSING)
    Intent.objects.update(transacted_at=None, business_day=None)  # as before the migration

    migration.backfill_business_day(apps, None)

    late.refresh_from_db()
    dated.refresh_from_db()
    live.refresh_from_db()
    # 23:00 in Buenos Aires is the 28th in UTC: the day is the store's.
    assert (late.transacted_at, late.business_day) == (ba(27, 23), DAY)
    assert (dated.transacted_at, dated.business_day) == (ba(27, 23, 59), DAY)
    assert (live.transacted_at, live.business_day) == (None, None)
