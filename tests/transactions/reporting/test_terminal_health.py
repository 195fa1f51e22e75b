"""Terminal health (issue 12, item 17): last seen, today's median pick-up, "sin actividad" within
opening hours, the alert of a terminal that stopped taking intentions, and the fleet page."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from stores.models import Terminal
from tests import factories
from tests.factories import make_intent
from transactions import tasks
from transactions.models import Intent, IntentEvent
from transactions.reporting.terminal_health import STOPPED_AFTER, Status, terminal_health_list
from transactions.services.health import terminal_alerts_raise
from transactions.states import State

pytestmark = pytest.mark.django_db

BA = dt.timezone(dt.timedelta(hours=-3))  # Buenos Aires: UTC-3 all year
NOW = dt.datetime(2026, 3, 5, 15, 0, tzinfo=BA)  # a Thursday at 15:00, the store open 9 to 21


def _intent(store, terminal, *, created, state, pickup=None, answer=None, expired=False, **kw):
    """An intention offered to `terminal`, sent at `created`; taken `pickup` seconds later and
    answered `answer` seconds after that; or `expired`: the store's wait ran out untaken."""
    fields = {"sent_at": created}
    if pickup is not None:
        fields["taken_at"] = created + dt.timedelta(seconds=pickup)
        if answer is not None:
            fields["finished_at"] = fields["taken_at"] + dt.timedelta(seconds=answer)
    if expired:
        wait = dt.timedelta(seconds=store.pending_timeout_seconds)
        fields["cancel_requested_at"] = created + wait
        fields["finished_at"] = created + wait + dt.timedelta(seconds=3)
    fields.update(kw)
    intent = make_intent(
        store,
        terminal=terminal if pickup is not None else None,
        offered_terminals=[terminal],
        state=state,
        **fields,
    )
    # `created_at` is set on insert: moved to the moment the story needs.
    Intent.objects.filter(pk=intent.pk).update(created_at=created)
    return intent


def _health(terminals=None, now=NOW):
    return {
        h.terminal.pk: h
        for h in terminal_health_list(terminals=terminals or Terminal.objects.all(), now=now)
    }


def test_last_seen_and_the_median_pick_up_of_today(store_a, terminal_a):
    morning = NOW - dt.timedelta(hours=5)
    for i, pickup in enumerate([4, 10, 6]):
        _intent(
            store_a,
            terminal_a,
            created=morning + dt.timedelta(minutes=10 * i),
            state=State.APPROVED,
            pickup=pickup,
            answer=20,
        )
    # Yesterday's slow one does not count in today's median.
    _intent(
        store_a,
        terminal_a,
        created=NOW - dt.timedelta(days=1),
        state=State.APPROVED,
        pickup=90,
        answer=5,
    )
    health = _health()[terminal_a.pk]
    assert health.taken_today == 3
    assert health.median_pickup == dt.timedelta(seconds=6)
    assert health.median_pickup_seconds == 6
    last = morning + dt.timedelta(minutes=20, seconds=6 + 20)
    assert health.last_seen_at == last  # the answer of the last one it took
    assert health.status == Status.IDLE  # nothing for hours, the store open all along


def test_a_terminal_that_lets_intentions_expire_has_stopped_and_comes_first(
    store_a, terminal_a, terminal_b
):
    _intent(
        store_a,
        terminal_a,
        created=NOW - dt.timedelta(minutes=40),
        state=State.APPROVED,
        pickup=5,
        answer=10,
    )
    for minutes in (30, 20, 10):
        _intent(
            store_a,
            terminal_a,
            created=NOW - dt.timedelta(minutes=minutes),
            state=State.CANCELLED,
            expired=True,
        )
    _intent(store_a, terminal_a, created=NOW - dt.timedelta(minutes=1), state=State.PENDING)
    fleet = terminal_health_list(terminals=Terminal.objects.all(), now=NOW)
    assert fleet[0].terminal == terminal_a
    assert fleet[0].status == Status.STOPPED and len(fleet[0].expired_run) == STOPPED_AFTER
    assert fleet[0].label == "No toma intenciones"


def test_taking_one_ends_the_run_and_a_cashiers_quick_cancel_does_not_count(store_a, terminal_a):
    for minutes in (50, 45):
        _intent(
            store_a,
            terminal_a,
            created=NOW - dt.timedelta(minutes=minutes),
            state=State.CANCELLED,
            expired=True,
        )
    _intent(
        store_a,
        terminal_a,
        created=NOW - dt.timedelta(minutes=30),
        state=State.APPROVED,
        pickup=3,
        answer=8,
    )
    _intent(
        store_a,
        terminal_a,
        created=NOW - dt.timedelta(minutes=20),
        state=State.CANCELLED,
        expired=True,
    )
    # Sent and cancelled by the cashier 5 s later: the customer left, the terminal is fine.
    sent = NOW - dt.timedelta(minutes=10)
    _intent(
        store_a,
        terminal_a,
        created=sent,
        state=State.CANCELLED,
        cancel_requested_at=sent + dt.timedelta(seconds=5),
        finished_at=sent + dt.timedelta(seconds=6),
    )
    health = _health()[terminal_a.pk]
    assert len(health.expired_run) == 1
    assert health.status == Status.OK


def test_stuck_operations_and_disabled_terminals(store_a, terminal_a, terminal_b):
    _intent(store_a, terminal_a, created=NOW - dt.timedelta(minutes=5), state=State.IN_DOUBT)
    _intent(
        store_a,
        terminal_a,
        created=NOW - dt.timedelta(minutes=1),
        state=State.APPROVED,
        pickup=2,
        answer=2,
    )
    Terminal.objects.filter(pk=terminal_b.pk).update(enabled=False)
    health = _health()
    assert health[terminal_a.pk].status == Status.STUCK and health[terminal_a.pk].stuck_count == 1
    assert health[terminal_b.pk].status == Status.DISABLED


@pytest.mark.parametrize(
    ("local_time", "idle"),
    [
        (dt.time(15, 0), True),  # open since 9, nothing since yesterday
        (dt.time(9, 30), False),  # opened half an hour ago: below the 60 minutes
        (dt.time(23, 0), False),  # closed: silence is normal
        (dt.time(7, 0), False),
    ],
)
def test_sin_actividad_only_counts_within_opening_hours(store_a, terminal_a, local_time, idle):
    now = dt.datetime.combine(NOW.date(), local_time, tzinfo=BA)
    _intent(
        store_a,
        terminal_a,
        created=now - dt.timedelta(days=1),
        state=State.APPROVED,
        pickup=3,
        answer=3,
    )
    health = _health(now=now)[terminal_a.pk]
    assert (health.status == Status.IDLE) is idle
    assert health.store_open is (local_time == dt.time(15, 0))


def test_the_idle_window_and_hours_are_the_stores_setting(store_a, terminal_a):
    _intent(
        store_a,
        terminal_a,
        created=NOW - dt.timedelta(minutes=40),
        state=State.APPROVED,
        pickup=3,
        answer=3,
    )
    assert _health()[terminal_a.pk].status == Status.OK  # 40 min < 60
    store_a.idle_alert_minutes = 30
    store_a.save()
    assert _health()[terminal_a.pk].status == Status.IDLE
    # Open through the night (22 to 6): 03:00 is open; 15:00 is not.
    store_a.opens_at, store_a.closes_at = dt.time(22), dt.time(6)
    store_a.save()
    assert _health()[terminal_a.pk].status == Status.OK
    night = dt.datetime(2026, 3, 6, 3, 0, tzinfo=BA)
    assert _health(now=night)[terminal_a.pk].status == Status.IDLE


def test_a_whole_fleet_in_four_queries(merchant, store_a, terminal_a, django_assert_num_queries):
    def fill(store, terminal):
        _intent(
            store,
            terminal,
            created=NOW - dt.timedelta(hours=1),
            state=State.APPROVED,
            pickup=3,
            answer=3,
        )
        _intent(
            store,
            terminal,
            created=NOW - dt.timedelta(minutes=30),
            state=State.CANCELLED,
            expired=True,
        )
        _intent(store, terminal, created=NOW - dt.timedelta(minutes=5), state=State.IN_DOUBT)

    fill(store_a, terminal_a)
    with django_assert_num_queries(4):
        terminal_health_list(terminals=Terminal.objects.all(), now=NOW)
    for _ in range(3):
        store = factories.make_store(merchant)
        for _ in range(3):
            fill(store, factories.make_terminal(store))
    with django_assert_num_queries(4):
        fleet = terminal_health_list(terminals=Terminal.objects.all(), now=NOW)
    assert len(fleet) == 10 and all(h.status == Status.STUCK for h in fleet)


# --- The alert ---------------------------------------------------------------------------------


def _expire(store, terminal, count, start):
    return [
        _intent(
            store,
            terminal,
            created=start + dt.timedelta(minutes=5 * i),
            state=State.CANCELLED,
            expired=True,
        )
        for i in range(count)
    ]


def test_a_stopped_terminal_raises_its_newest_expired_intention_once(
    store_a, terminal_a, terminal_b
):
    expired = _expire(store_a, terminal_a, STOPPED_AFTER, NOW - dt.timedelta(minutes=30))
    _expire(store_a, terminal_b, STOPPED_AFTER - 1, NOW - dt.timedelta(minutes=30))
    assert terminal_alerts_raise(now=NOW) == 1
    newest = Intent.objects.get(pk=expired[-1].pk)
    assert newest.needs_attention
    assert "no toma intenciones" in newest.attention_reason
    assert Intent.objects.filter(needs_attention=True).count() == 1
    # Run again (django-q2 delivers at least once), even after a person marked it reviewed.
    assert terminal_alerts_raise(now=NOW) == 0
    Intent.objects.filter(pk=newest.pk).update(needs_attention=False)
    assert terminal_alerts_raise(now=NOW + dt.timedelta(minutes=1)) == 0
    assert IntentEvent.objects.filter(type=IntentEvent.Type.ATTENTION).count() == 1


def test_a_new_run_after_it_took_one_is_raised_again(store_a, terminal_a):
    _expire(store_a, terminal_a, STOPPED_AFTER, NOW - dt.timedelta(hours=2))
    assert terminal_alerts_raise(now=NOW - dt.timedelta(minutes=90)) == 1
    _intent(
        store_a,
        terminal_a,
        created=NOW - dt.timedelta(minutes=60),
        state=State.APPROVED,
        pickup=3,
        answer=3,
    )
    assert terminal_alerts_raise(now=NOW) == 0
    second = _expire(store_a, terminal_a, STOPPED_AFTER, NOW - dt.timedelta(minutes=40))
    assert terminal_alerts_raise(now=NOW) == 1
    assert Intent.objects.get(pk=second[-1].pk).needs_attention


def test_the_alert_runs_on_a_schedule(store_a, terminal_a):
    from transactions.schedules import SCHEDULES

    assert ("ecr-terminal-health", "transactions.tasks.terminal_health_task", 5) in SCHEDULES
    _expire(store_a, terminal_a, STOPPED_AFTER, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30))
    assert tasks.terminal_health_task().startswith("1 ")
    assert Intent.objects.filter(needs_attention=True).count() == 1


# --- The fleet page -------------------------------------------------------------------------


def test_the_fleet_page_lists_the_users_terminals_worst_first(
    client_for, owner, manager_a, store_a, store_b, terminal_a, terminal_b
):
    recent = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)
    _expire(store_b, terminal_b, STOPPED_AFTER, recent)
    response = client_for(owner).get(reverse("dashboard:terminal_fleet"))
    assert response.status_code == 200
    fleet = response.context["fleet"]
    assert [h.terminal for h in fleet][:1] == [terminal_b]
    page = response.content.decode()
    assert "No toma intenciones" in page
    assert page.index('data-terminal="22222222"') < page.index('data-terminal="11111111"')

    mine = client_for(manager_a).get(reverse("dashboard:terminal_fleet")).context["fleet"]
    assert [h.terminal for h in mine] == [terminal_a]


def test_the_fleet_page_costs_the_same_with_more_stores_and_terminals(
    client_for, owner, merchant, store_a, terminal_a
):
    client = client_for(owner)
    url = reverse("dashboard:terminal_fleet")
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for _ in range(3):
        store = factories.make_store(merchant)
        for _ in range(2):
            terminal = factories.make_terminal(store)
            _intent(
                store,
                terminal,
                created=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=9),
                state=State.APPROVED,
                pickup=2,
                answer=2,
            )
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200
    assert len(many.captured_queries) == len(few.captured_queries) <= 10


def test_the_owner_sets_opening_hours_and_the_idle_alert(client_for, owner, store_a):
    response = client_for(owner).post(
        reverse("dashboard:store_edit", args=[store_a.public_id]),
        {
            "name": store_a.name,
            "code": store_a.code,
            "time_zone": store_a.time_zone,
            "environment": store_a.environment,
            "batch_close_hour": "22",
            "pending_timeout_seconds": "120",
            "opens_at": "08:30",
            "closes_at": "20:00",
            "idle_alert_minutes": "45",
        },
    )
    assert response.status_code == 302
    store_a.refresh_from_db()
    assert (store_a.opens_at, store_a.closes_at, store_a.idle_alert_minutes) == (
        dt.time(8, 30),
        dt.time(20),
        45,
    )
    refused = client_for(owner).post(
        reverse("dashboard:store_edit", args=[store_a.public_id]),
        {
            "name": store_a.name,
            "code": store_a.code,
            "time_zone": store_a.time_zone,
            "environment": store_a.environment,
            "batch_close_hour": "22",
            "pending_timeout_seconds": "120",
            "idle_alert_minutes": "1",
        },
    )
    assert refused.status_code == 422
    store_a.refresh_from_db()
    assert store_a.idle_alert_minutes == 45
