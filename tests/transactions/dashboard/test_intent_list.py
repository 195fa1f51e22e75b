"""Intents list: scope, filters, pagination, CSV export."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import make_intent
from transactions.models import Intent
from transactions.states import State

pytestmark = pytest.mark.django_db

URL = "/intenciones/"


def _ids(response):
    return {str(i.public_id) for i in response.context["page"].object_list}


def test_list_is_scoped(client_for, manager_a, finance, payment_a, payment_b):
    assert _ids(client_for(manager_a).get(URL)) == {str(payment_a.public_id)}
    assert _ids(client_for(finance).get(URL)) == {
        str(payment_a.public_id),
        str(payment_b.public_id),
    }


def test_list_of_an_outsider_is_empty(client_for, outsider, payment_a):
    assert _ids(client_for(outsider).get(URL)) == set()


def test_filters(client_for, owner, store_a, terminal_a, payment_a, payment_b):
    declined = make_intent(store_a, terminal=terminal_a, state="declined", reference="PED-77")
    client = client_for(owner)
    assert _ids(client.get(URL, {"state": "declined"})) == {str(declined.public_id)}
    assert _ids(client.get(URL, {"reference": "ped-7"})) == {str(declined.public_id)}
    assert _ids(client.get(URL, {"last_four": payment_a.card_last_four})) == {
        str(payment_a.public_id)
    }
    assert _ids(client.get(URL, {"store": str(payment_b.store.public_id)})) == {
        str(payment_b.public_id)
    }
    assert str(payment_a.public_id) in _ids(
        client.get(URL, {"terminal": str(terminal_a.public_id), "kind": "payment"})
    )
    assert str(payment_b.public_id) not in _ids(
        client.get(URL, {"terminal": str(terminal_a.public_id)})
    )


def test_date_filters_use_local_days(client_for, owner, payment_a):
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    Intent.objects.filter(pk=payment_a.pk).update(created_at=timezone.now() - dt.timedelta(days=1))
    client = client_for(owner)
    assert _ids(client.get(URL, {"date_from": timezone.localdate().isoformat()})) == set()
    assert _ids(
        client.get(URL, {"date_from": yesterday.isoformat(), "date_to": yesterday.isoformat()})
    ) == {str(payment_a.public_id)}


def test_a_store_outside_scope_is_not_a_valid_filter(client_for, manager_a, store_b, payment_b):
    response = client_for(manager_a).get(URL, {"store": str(store_b.public_id)})
    assert response.status_code == 200
    assert str(payment_b.public_id) not in response.content.decode()


def test_pagination(client_for, owner, store_a, terminal_a):
    for _ in range(55):
        make_intent(store_a, terminal=terminal_a, state=State.APPROVED)
    client = client_for(owner)
    first = client.get(URL, {"state": "approved"})
    assert len(first.context["page"].object_list) == 50
    body = first.content.decode()
    assert "state=approved&amp;page=2" in body
    second = client.get(URL, {"state": "approved", "page": 2})
    assert len(second.context["page"].object_list) == 5


def test_csv_export_streams_es_ar_decimals(client_for, finance, payment_a, payment_b):
    response = client_for(finance).get(reverse("dashboard:intent_export_csv"))
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8")
    lines = text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("id;fecha;sucursal")
    assert len(lines) == 3
    row = next(line for line in lines if str(payment_a.public_id) in line)
    assert ";1234,56;" in row
    assert ";Aprobada;" in row


def test_csv_export_respects_scope_and_filters(client_for, manager_a, payment_a, payment_b):
    text = b"".join(
        client_for(manager_a).get(reverse("dashboard:intent_export_csv")).streaming_content
    ).decode()
    assert str(payment_a.public_id) in text
    assert str(payment_b.public_id) not in text
    text = b"".join(
        client_for(manager_a)
        .get(reverse("dashboard:intent_export_csv"), {"state": "declined"})
        .streaming_content
    ).decode()
    assert str(payment_a.public_id) not in text


def test_csv_export_defuses_formulas(client_for, owner, store_a, terminal_a):
    make_intent(store_a, terminal=terminal_a, state=State.APPROVED, reference="=HYPERLINK(1)")
    text = b"".join(
        client_for(owner).get(reverse("dashboard:intent_export_csv")).streaming_content
    ).decode()
    assert ";'=HYPERLINK(1);" in text
