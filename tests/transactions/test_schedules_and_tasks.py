"""Schedules are created idempotently; the daily batch close runs once per terminal per day."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django_q.models import Schedule

from tests.factories import make_intent
from transactions.models import Intent
from transactions.schedules import SCHEDULES
from transactions.services import store_batch_close_due
from transactions.states import Kind, State
from transactions.tasks import sweeper_task

BA = ZoneInfo("America/Argentina/Buenos_Aires")


@pytest.mark.django_db
def test_ensure_schedules_twice_gives_the_same_schedules():
    call_command("ensure_schedules")
    call_command("ensure_schedules")
    assert Schedule.objects.count() == len(SCHEDULES)
    watchdog = Schedule.objects.get(name="ecr-sweeper-watchdog")
    assert watchdog.func == "transactions.tasks.sweeper_task"
    assert watchdog.minutes == 1


@pytest.mark.django_db(transaction=True)
def test_daily_close_waits_for_the_hour_and_runs_once(sim, store_a, store_b, terminal_a):
    # Something to close on terminal A (an empty batch is not closed: nothing to close).
    make_intent(
        store_a,
        terminal=terminal_a,
        state=State.APPROVED,
        finished_at=datetime(2026, 11, 27, 12, 0, tzinfo=BA),
    )
    store_a.batch_close_hour = 22
    store_a.save()
    store_b.batch_close_hour = 23
    store_b.save()
    with time_machine.travel(datetime(2026, 11, 27, 21, 30, tzinfo=BA)):
        assert store_batch_close_due(now=datetime(2026, 11, 27, 21, 30, tzinfo=BA)) == []
    at_22 = datetime(2026, 11, 27, 22, 5, tzinfo=BA)
    with time_machine.travel(at_22, tick=True):
        results = store_batch_close_due(now=at_22)
        assert [t for t, _ in results] == [terminal_a]
        assert store_batch_close_due(now=at_22) == [], "only once a day per terminal"
    assert Intent.objects.filter(kind=Kind.SETTLEMENT).count() == 1


@pytest.mark.django_db
def test_sweeper_task_runs_a_bounded_loop(settings):
    settings.ECR_SWEEPER_CHAIN = False
    assert sweeper_task(seconds=0) == "0 consultas"


@pytest.mark.django_db
def test_token_warmup_skips_retired_credentials(store_a, credential, monkeypatch):
    from stores.services import credential_retire
    from transactions import tasks

    warmed = []

    class FakeGateway:
        def __init__(self, credential):
            self.credential = credential

        def token(self):
            warmed.append(self.credential.pk)
            return "token"

    monkeypatch.setattr("transactions.gateway.gateway_for", FakeGateway)
    assert tasks.token_warmup_task() == 1
    credential_retire(credential=credential)
    warmed.clear()
    assert tasks.token_warmup_task() == 0, "a retired credential is never used again"
    assert warmed == []
