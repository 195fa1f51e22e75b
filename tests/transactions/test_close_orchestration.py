"""The daily automatic close: what waits on a terminal is cancelled, what is being paid is waited
for, what is in doubt is flagged; refusals and failed closes are retried with backoff; a store
still open at the end of the day is raised on the Lotes page and by e-mail, once."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from tests.factories import make_intent
from transactions.errors import Code, IntentRuleError
from transactions.models import Intent, StoreClose
from transactions.services import batches
from transactions.services.batches import IN_DOUBT_AT_CLOSE, close_backoff, store_batch_close_due
from transactions.states import Kind, State

pytestmark = pytest.mark.django_db
BA = ZoneInfo("America/Argentina/Buenos_Aires")
CLOSE_AT = dt.datetime(2026, 11, 27, 22, 5, tzinfo=BA)


@pytest.fixture
def provider(monkeypatch, store_a, store_b):
    """The close and cancel services as recorders: the close leaves a pending settlement row
    (as the real one would), the cancel marks the intent cancelled. Store B closes later."""
    store_a.batch_close_hour = 22
    store_a.save()
    store_b.batch_close_hour = 23
    store_b.save()
    log = {"closes": [], "cancels": [], "refuse": None}

    def settlement_create(*, terminal, **kwargs):
        log["closes"].append(terminal.terminal_id)
        if log["refuse"]:
            raise log["refuse"]
        return make_intent(
            terminal.store,
            terminal=terminal,
            kind=Kind.SETTLEMENT,
            state=State.PENDING,
            amount=None,
        )

    def intent_cancel(*, intent, **kwargs):
        log["cancels"].append(intent.pk)
        Intent.objects.filter(pk=intent.pk).update(state=State.CANCELLED)
        return intent

    monkeypatch.setattr(batches, "settlement_create", settlement_create)
    monkeypatch.setattr(batches, "intent_cancel", intent_cancel)
    return log


def run(moment: dt.datetime):
    with time_machine.travel(moment, tick=False):
        return store_batch_close_due(now=moment)


def sale(store, terminal, **kw):
    kw.setdefault("finished_at", CLOSE_AT - dt.timedelta(hours=5))
    return make_intent(store, terminal=terminal, state=State.APPROVED, **kw)


def record(store) -> StoreClose:
    return StoreClose.objects.get(store=store)


def test_an_empty_terminal_is_not_closed_and_the_day_is_done(provider, store_a, terminal_a):
    assert run(CLOSE_AT) == []
    assert provider["closes"] == []
    assert record(store_a).closed_at is not None


def test_a_terminal_with_sales_is_closed_once(provider, store_a, terminal_a):
    sale(store_a, terminal_a)
    assert [t.terminal_id for t, _ in run(CLOSE_AT)] == ["11111111"]
    assert run(CLOSE_AT + dt.timedelta(minutes=5)) == [], "the close is in flight"
    Intent.objects.filter(kind=Kind.SETTLEMENT).update(
        state=State.APPROVED, finished_at=CLOSE_AT + dt.timedelta(minutes=6)
    )
    run(CLOSE_AT + dt.timedelta(minutes=10))
    assert provider["closes"] == ["11111111"]
    assert record(store_a).closed_at is not None


def test_waiting_intentions_are_cancelled_and_the_close_retried_later(
    provider, store_a, terminal_a
):
    sale(store_a, terminal_a)
    waiting = make_intent(store_a, offered_terminals=[terminal_a], state=State.PENDING)
    results = run(CLOSE_AT)
    assert provider["cancels"] == [waiting.pk] and provider["closes"] == []
    assert results[0][1].code == Code.TERMINAL_BUSY
    day = record(store_a)
    assert day.attempts == 1 and day.next_attempt_at == CLOSE_AT + dt.timedelta(minutes=5)
    assert "se cancelaron 1 intenciones" in day.last_problem
    assert run(CLOSE_AT + dt.timedelta(minutes=2)) == [], "backoff: not before 5 minutes"
    run(CLOSE_AT + dt.timedelta(minutes=5))
    assert provider["closes"] == ["11111111"]


def test_a_sale_being_paid_is_waited_for_not_cancelled(provider, store_a, terminal_a):
    make_intent(store_a, terminal=terminal_a, state=State.PROCESSING)
    run(CLOSE_AT)
    assert provider["cancels"] == [] and provider["closes"] == []
    assert "1 operaciones en curso" in record(store_a).last_problem


def test_an_in_doubt_sale_is_flagged_and_does_not_block(provider, store_a, terminal_a):
    sale(store_a, terminal_a)
    doubt = make_intent(store_a, terminal=terminal_a, state=State.IN_DOUBT)
    run(CLOSE_AT)
    doubt.refresh_from_db()
    assert doubt.needs_attention and doubt.attention_reason == IN_DOUBT_AT_CLOSE
    assert provider["closes"] == ["11111111"]


def test_refusals_back_off_longer_each_time(provider, store_a, terminal_a):
    sale(store_a, terminal_a)
    provider["refuse"] = IntentRuleError(Code.TERMINAL_BUSY, "La terminal está ocupada.")
    run(CLOSE_AT)
    assert record(store_a).next_attempt_at == CLOSE_AT + close_backoff(1)
    second = CLOSE_AT + close_backoff(1)
    run(second)
    day = record(store_a)
    assert day.attempts == 2 and day.next_attempt_at == second + dt.timedelta(minutes=10)
    assert "ocupada" in day.last_problem
    assert close_backoff(9) == dt.timedelta(minutes=60)


def test_a_failed_close_is_retried_after_the_backoff(provider, store_a, terminal_a):
    sale(store_a, terminal_a)
    with time_machine.travel(CLOSE_AT, tick=False):
        make_intent(
            store_a,
            terminal=terminal_a,
            kind=Kind.SETTLEMENT,
            state=State.FAILED,
            amount=None,
            finished_at=CLOSE_AT,
        )
    run(CLOSE_AT + dt.timedelta(minutes=2))
    assert provider["closes"] == [], "one failure: wait 5 minutes"
    run(CLOSE_AT + dt.timedelta(minutes=6))
    assert provider["closes"] == ["11111111"]


def test_a_store_still_open_at_the_end_of_the_day_is_raised_once(
    provider, store_a, terminal_a, owner, manager_a, cashier_a, client_for
):
    for person in (owner, manager_a, cashier_a):
        person.email = f"{person.username}@example.com"
        person.save()
    sale(store_a, terminal_a)
    provider["refuse"] = IntentRuleError(Code.TERMINAL_BUSY, "La terminal está ocupada.")
    run(CLOSE_AT)
    assert mail.outbox == [], "postponed, not yet raised"
    late = dt.datetime(2026, 11, 27, 23, 35, tzinfo=BA)
    run(late)
    run(late + dt.timedelta(minutes=5))
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["duenio@example.com", "encargado_a@example.com"]
    assert "Lotes sin cerrar en Sucursal A" in message.subject
    assert "ocupada" in message.body
    assert record(store_a).raised_at is not None
    with time_machine.travel(late, tick=False):
        body = client_for(owner).get(reverse("dashboard:batch_index")).content.decode()
    assert f'data-store-close="{store_a.public_id}"' in body
    assert "siguen abiertos al final del día" in body


def test_the_periodic_task_closes_and_looks_for_late_approvals(provider, store_a, terminal_a):
    from transactions.tasks import batch_close_due_task

    sale(store_a, terminal_a)
    with time_machine.travel(CLOSE_AT, tick=False):
        assert batch_close_due_task() == "1 cierres pedidos, 0 lotes registrados, 0 tardíos"
    assert provider["closes"] == ["11111111"]


def test_the_lotes_page_shows_a_postponed_close(provider, store_a, terminal_a, owner, client_for):
    sale(store_a, terminal_a)
    make_intent(store_a, offered_terminals=[terminal_a], state=State.PENDING)
    run(CLOSE_AT)
    with time_machine.travel(CLOSE_AT + dt.timedelta(minutes=1), tick=False):
        body = client_for(owner).get(reverse("dashboard:batch_index")).content.decode()
    assert "el cierre automático del 27/11/2026 se pospuso" in body
    assert "el próximo a las" in body and "se cancelaron 1 intenciones" in body
