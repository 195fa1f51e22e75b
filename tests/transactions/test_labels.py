"""Spanish names of provider values, and the timeline's folded idle reads (issue 12, item 10)."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.urls import reverse
from django.utils import timezone

from stores.models import Store
from tests.factories import make_intent
from transactions import labels
from transactions.models import GatewayCall, IntentEvent
from transactions.states import PROVIDER_STATUS_MAP, State


def test_every_status_of_the_contract_has_a_spanish_name():
    statuses = {status for by_kind in PROVIDER_STATUS_MAP.values() for status in by_kind}
    missing = {s for s in statuses if labels.provider_status_label(s) == s}
    assert not missing


@pytest.mark.parametrize(
    "function, raw, label",
    [
        (labels.payment_type_label, "CREDIT", "Crédito"),
        (labels.payment_type_label, "DEBIT", "Débito"),
        (labels.entry_mode_label, "CHIP_CONTACTLESS", "Sin contacto"),
        (labels.entry_mode_label, "CHIP", "Chip"),
        (labels.provider_status_label, "CONFIRMED", "Confirmada"),
        (labels.provider_status_label, "REVERSED", "Anulada"),
        (labels.provider_status_label, "PAYMENT_REQUEST", "Esperando en la terminal"),
        (labels.actor_label, "sweeper", "sistema (seguimiento)"),
        (labels.actor_label, "", "sistema"),
        (labels.operation_label, "payment_get", "Consulta del cobro"),
        (labels.time_zone_label, "America/Argentina/Cordoba", "Córdoba"),
        (
            labels.time_zone_label,
            "America/Argentina/Buenos_Aires",
            "Buenos Aires (hora de Argentina)",
        ),
    ],
)
def test_raw_values_read_in_spanish(function, raw, label):
    assert function(raw) == label


def test_an_unknown_value_is_shown_as_it_came_never_hidden():
    assert labels.provider_status_label("NEW_THING") == "NEW_THING"
    assert labels.entry_mode_label("") == ""


def test_every_store_time_zone_has_a_readable_name():
    for value, _raw in Store._meta.get_field("time_zone").choices:
        assert "/" not in labels.time_zone_label(value)
        assert "_" not in labels.time_zone_label(value)


def _call(at, method="GET", status=200, outcome="ok", idle_reads=0):
    return (
        "call",
        at,
        SimpleNamespace(method=method, http_status=status, outcome=outcome, idle_reads=idle_reads),
    )


def test_six_idle_reads_fold_into_one_line_and_the_read_before_a_change_stays():
    t0 = timezone.now()
    tick = [t0 + timedelta(seconds=n) for n in range(20)]
    event = ("event", tick[9], SimpleNamespace())
    timeline = [
        _call(tick[0], method="POST", status=201),
        *[_call(tick[n]) for n in range(1, 7)],
        _call(tick[7]),  # the read that saw the approval
        event,
        _call(tick[10], status=None, outcome="retryable"),
    ]
    folded = labels.fold_idle_reads(timeline)
    kinds = [row[0] for row in folded]
    assert kinds == ["call", "idle", "call", "event", "call"]
    idle = folded[1][2]
    assert idle.count == 6 and idle.text == "6 consultas sin cambios"
    assert idle.first_at == tick[1] and idle.last_at == tick[6]


def test_a_single_read_is_not_folded_but_a_sampled_one_counts_its_reads():
    t0 = timezone.now()
    assert labels.fold_idle_reads([_call(t0)])[0][0] == "call"
    folded = labels.fold_idle_reads([_call(t0, idle_reads=12)])
    assert folded[0][0] == "idle" and folded[0][2].text == "12 consultas sin cambios"


@pytest.mark.django_db
def test_the_intent_page_shows_spanish_values_and_folds_idle_reads(
    client_for, manager_a, store_a, terminal_a
):
    payment = make_intent(
        store_a,
        terminal=terminal_a,
        state=State.APPROVED,
        payment_type="CREDIT",
        entry_mode="CHIP_CONTACTLESS",
    )
    for _ in range(6):
        GatewayCall.objects.create(
            intent=payment,
            operation="payment_get",
            method="GET",
            path="/p",
            http_status=200,
            outcome=GatewayCall.Outcome.OK,
        )
    IntentEvent.objects.create(
        intent=payment,
        type=IntentEvent.Type.STATE,
        from_state=State.PENDING,
        to_state=State.APPROVED,
        provider_status="CONFIRMED",
        actor_label="sweeper",
    )
    body = (
        client_for(manager_a)
        .get(reverse("dashboard:intent_detail", args=[payment.public_id]))
        .content.decode()
    )
    for word in [
        "Crédito",
        "Sin contacto",
        "Confirmada",
        "sistema (seguimiento)",
        "5 consultas sin cambios",
        "Consulta del cobro",
    ]:
        assert word in body, word
    for raw in [">CREDIT<", ">CHIP_CONTACTLESS<", ">CONFIRMED<", ">sweeper<", "payment_get</"]:
        assert raw not in body, raw
    assert body.count("timeline-call-ok") == 1  # the read just before the change
    assert body.count("timeline-call-idle") == 1


@pytest.mark.django_db
def test_the_store_form_offers_zones_by_their_names(client_for, owner, store_a):
    body = (
        client_for(owner)
        .get(reverse("dashboard:store_edit", args=[store_a.public_id]))
        .content.decode()
    )
    assert ">Córdoba</option>" in body
    assert 'value="America/Argentina/Cordoba"' in body
    assert ">America/Argentina/Cordoba<" not in body


def test_reads_only_counted_before_a_change_are_shown_before_it():
    t0 = timezone.now()
    changed = _call(t0, idle_reads=7)
    event = ("event", t0 + timedelta(seconds=1), SimpleNamespace())
    cancel = _call(t0 + timedelta(seconds=2), method="PUT", idle_reads=3)
    folded = labels.fold_idle_reads([changed, event, cancel])
    assert [row[0] for row in folded] == ["idle", "call", "event", "idle", "call"]
    assert folded[0][2].count == 7 and folded[3][2].count == 3
