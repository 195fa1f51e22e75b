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


def test_each_csv_row_reads_what_the_intent_shows(client_for, owner, store_a, terminal_a):
    """The export reads rows straight from the cursor; each must say what the intent itself
    says on the page: kind and status labels (follow-ups, "no recibida"), local time, amounts,
    empty terminal and batch, formula-like text defused."""
    from decimal import Decimal

    from transactions.money import format_decimal_es
    from transactions.reporting.exports import spreadsheet_text
    from transactions.states import Followup, Kind, Resolution

    payment = make_intent(
        store_a,
        terminal=terminal_a,
        state=State.APPROVED,
        amount=Decimal("1520.50"),
        installments=3,
        card_brand="VISA",
        card_last_four="0010",
        authorization_code="A1",
        ticket_number="77",
        batch_number=12,
        reference="+SUM(A1)",
        provider_status="CONFIRMED",
        followup_status=Followup.PARTIALLY_REFUNDED,
    )
    make_intent(
        store_a,
        terminal=terminal_a,
        kind=Kind.REFUND,
        state=State.APPROVED,
        original=payment,
        amount=Decimal("20.00"),
    )
    make_intent(store_a, state=State.FAILED, resolution=Resolution.NOT_RECEIVED)
    make_intent(store_a, terminal=terminal_a, kind=Kind.SETTLEMENT, state=State.APPROVED)
    make_intent(store_a, terminal=terminal_a, state=State.PENDING, amount=Decimal("0.99"))

    text = b"".join(
        client_for(owner).get(reverse("dashboard:intent_export_csv")).streaming_content
    ).decode()
    rows = {line.split(";", 1)[0]: line for line in text.lstrip("\ufeff").splitlines()[1:]}
    intents = Intent.objects.select_related("store", "terminal")
    assert len(rows) == intents.count() == 5
    for intent in intents:
        expected = [
            str(intent.public_id),
            timezone.localtime(intent.created_at).strftime("%d/%m/%Y %H:%M:%S"),
            spreadsheet_text(intent.store.name),
            intent.terminal.terminal_id if intent.terminal else "",
            intent.get_kind_display(),
            intent.status_label,
            format_decimal_es(intent.amount, thousands=False),
            "" if intent.installments is None else str(intent.installments),
            spreadsheet_text(intent.card_brand),
            intent.card_last_four or "",
            intent.authorization_code or "",
            intent.ticket_number or "",
            str(intent.batch_number or ""),
            spreadsheet_text(intent.reference),
            spreadsheet_text(intent.provider_status),
        ]
        assert rows[str(intent.public_id)].split(";") == expected, intent.kind
    assert ";Devuelta parcialmente;" in rows[str(payment.public_id)]
    assert ";'+SUM(A1);" in rows[str(payment.public_id)]
