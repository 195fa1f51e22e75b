"""The receipt of an approved payment, reversal or refund (issue 12, item 14): the printable page,
"Enviar por e-mail" (validated, limited, audited) and what it never shows of the card."""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import make_intent
from transactions.models import IntentEvent
from transactions.services import receipts as receipt_service
from transactions.states import Kind, State

pytestmark = pytest.mark.django_db


def _approved(store, terminal, **fields):
    fields.setdefault("amount", Decimal("1234.56"))
    fields.setdefault("card_brand", "VISA")
    fields.setdefault("card_bin", "450799")
    fields.setdefault("card_last_four", "4242")
    fields.setdefault("authorization_code", "AUT123")
    fields.setdefault("ticket_number", "0042")
    fields.setdefault("batch_number", 7)
    fields.setdefault("installments", 3)
    # 15:04:05 UTC is 12:04:05 in Buenos Aires (UTC-3, no daylight saving).
    fields.setdefault("finished_at", dt.datetime(2026, 3, 5, 15, 4, 5, tzinfo=dt.UTC))
    fields.setdefault(
        "client_receipt", "TARJETA 4507 99XX XXXX 4242\nVENCE 12/29\nTITULAR JUANA PEREZ"
    )
    return make_intent(store, terminal=terminal, state=State.APPROVED, **fields)


def _url(intent, name="dashboard:intent_receipt"):
    return reverse(name, args=[intent.public_id])


def test_the_receipt_shows_the_ticket_in_es_ar_and_buenos_aires_time(
    client_for, cashier_a, store_a, terminal_a, merchant
):
    payment = _approved(store_a, terminal_a)
    response = client_for(cashier_a).get(_url(payment))
    assert response.status_code == 200
    page = response.content.decode()
    for expected in (
        "Comprobante de pago",
        merchant.legal_name,
        merchant.cuit,
        "Sucursal A",
        "Caja A1 (11111111)",
        "05/03/2026",
        "12:04:05",
        "VISA •••• 4242",
        "3 cuotas",
        "AUT123",
        "0042",
        "$ 1.234,56",
        'data-action="print"',
        "Enviar por e-mail",
    ):
        assert expected in page, expected
    # The linked stylesheet holds the print rules that leave the ticket alone on the page.
    assert 'href="/static/css/extras.css"' in page
    css = (Path(settings.BASE_DIR) / "static/css/extras.css").read_text()
    print_rules = css.split("@media print", 1)[1]
    assert ".topbar" in print_rules and ".receipt-actions" in print_rules
    # Never more of the card than brand and last four: not the BIN, not the provider's text.
    assert "450799" not in page and "4507" not in page and "JUANA" not in page


def test_a_reversal_receipt_names_the_card_and_amount_of_its_payment(
    client_for, manager_a, store_a, terminal_a
):
    payment = _approved(store_a, terminal_a)
    reversal = make_intent(
        store_a,
        terminal=terminal_a,
        kind=Kind.REVERSAL,
        state=State.APPROVED,
        original=payment,
        amount=None,
        ticket_number="0043",
        authorization_code="AUT999",
    )
    page = client_for(manager_a).get(_url(reversal)).content.decode()
    assert "Comprobante de anulación" in page
    assert "VISA •••• 4242" in page and "$ 1.234,56" in page
    assert "0042" in page  # the original payment's cupón


@pytest.mark.parametrize("state", [State.PENDING, State.DECLINED, State.IN_DOUBT])
def test_what_did_not_move_money_has_no_receipt(client_for, owner, store_a, terminal_a, state):
    intent = make_intent(store_a, terminal=terminal_a, state=state)
    client = client_for(owner)
    assert client.get(_url(intent)).status_code == 404
    response = client.post(_url(intent, "dashboard:intent_receipt_send"), {"email": "a@b.com"})
    assert response.status_code == 404
    assert mail.outbox == []


def test_the_intent_page_links_to_the_receipt_only_when_there_is_one(
    client_for, owner, store_a, terminal_a
):
    client = client_for(owner)
    approved = _approved(store_a, terminal_a)
    declined = make_intent(store_a, terminal=terminal_a, state=State.DECLINED)
    page = client.get(reverse("dashboard:intent_detail", args=[approved.public_id]))
    assert _url(approved) in page.content.decode()
    page = client.get(reverse("dashboard:intent_detail", args=[declined.public_id]))
    assert _url(declined) not in page.content.decode()


def test_sending_by_email_sends_the_receipt_text_and_audits_it(
    client_for, cashier_a, store_a, terminal_a
):
    payment = _approved(store_a, terminal_a)
    response = client_for(cashier_a).post(
        _url(payment, "dashboard:intent_receipt_send"), {"email": " cliente@example.com "}
    )
    assert response.status_code == 302 and response.url == _url(payment)
    (message,) = mail.outbox
    assert message.to == ["cliente@example.com"]
    assert "Comprobante de pago" in message.subject and "$ 1.234,56" in message.subject
    for expected in ("VISA •••• 4242", "12:04:05", "AUT123", "0042", "3 cuotas", "$ 1.234,56"):
        assert expected in message.body, expected
    assert "450799" not in message.body and "JUANA" not in message.body
    (event,) = IntentEvent.objects.filter(intent=payment, type=IntentEvent.Type.RECEIPT)
    assert event.actor_user == cashier_a
    assert "cliente@example.com" in event.message
    # The state is untouched: a receipt is a note in the history.
    assert event.from_state == event.to_state == State.APPROVED


@pytest.mark.parametrize("email", ["", "no-es-un-mail", "a@b", "x" * 300 + "@example.com"])
def test_a_bad_address_is_a_spanish_form_error_and_nothing_is_sent(
    client_for, cashier_a, store_a, terminal_a, email
):
    payment = _approved(store_a, terminal_a)
    response = client_for(cashier_a).post(
        _url(payment, "dashboard:intent_receipt_send"), {"email": email}
    )
    assert response.status_code == 422
    assert "e-mail" in response.content.decode()
    assert mail.outbox == []
    assert not IntentEvent.objects.filter(type=IntentEvent.Type.RECEIPT).exists()


def test_sending_is_limited_per_receipt_and_per_person(
    client_for, cashier_a, store_a, terminal_a, monkeypatch
):
    client = client_for(cashier_a)
    payment = _approved(store_a, terminal_a)
    url = _url(payment, "dashboard:intent_receipt_send")
    for i in range(receipt_service.SENDS_PER_INTENT):
        assert client.post(url, {"email": f"c{i}@example.com"}).status_code == 302
    response = client.post(url, {"email": "otra@example.com"})
    assert response.status_code == 429
    assert "última hora" in response.content.decode()
    assert len(mail.outbox) == receipt_service.SENDS_PER_INTENT

    # Per person, across receipts.
    monkeypatch.setattr(receipt_service, "SENDS_PER_USER", receipt_service.SENDS_PER_INTENT + 1)
    other = _approved(store_a, terminal_a)
    other_url = _url(other, "dashboard:intent_receipt_send")
    assert client.post(other_url, {"email": "c@example.com"}).status_code == 302
    assert client.post(other_url, {"email": "c@example.com"}).status_code == 429
    assert IntentEvent.objects.filter(type=IntentEvent.Type.RECEIPT).count() == (
        receipt_service.SENDS_PER_INTENT + 1
    )


def test_an_old_send_does_not_count_against_the_limit(client_for, cashier_a, store_a, terminal_a):
    client = client_for(cashier_a)
    payment = _approved(store_a, terminal_a)
    url = _url(payment, "dashboard:intent_receipt_send")
    for i in range(receipt_service.SENDS_PER_INTENT):
        client.post(url, {"email": f"c{i}@example.com"})
    IntentEvent.objects.filter(type=IntentEvent.Type.RECEIPT).update(
        created_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    )
    assert client.post(url, {"email": "nueva@example.com"}).status_code == 302


def test_a_mail_server_failure_is_said_and_not_audited(
    client_for, cashier_a, store_a, terminal_a, monkeypatch
):
    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr(receipt_service, "send_mail", refuse)
    payment = _approved(store_a, terminal_a)
    response = client_for(cashier_a).post(
        _url(payment, "dashboard:intent_receipt_send"), {"email": "c@example.com"}
    )
    assert response.status_code == 503
    assert "No se pudo enviar el correo" in response.content.decode()
    assert not IntentEvent.objects.filter(type=IntentEvent.Type.RECEIPT).exists()


def test_finance_prints_but_does_not_send(client_for, finance, store_a, terminal_a):
    payment = _approved(store_a, terminal_a)
    client = client_for(finance)
    page = client.get(_url(payment)).content.decode()
    assert 'data-action="print"' in page and "Enviar por e-mail" not in page
    response = client.post(_url(payment, "dashboard:intent_receipt_send"), {"email": "c@x.com"})
    assert response.status_code == 403 and mail.outbox == []


def test_the_receipt_page_costs_the_same_whatever_the_history(
    client_for, owner, store_a, terminal_a, django_assert_max_num_queries
):
    payment = _approved(store_a, terminal_a)
    client = client_for(owner)
    with CaptureQueriesContext(connection) as few:
        client.get(_url(payment))
    for _ in range(20):
        _approved(store_a, terminal_a)
        make_intent(store_a, terminal=terminal_a, state=State.IN_DOUBT)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(_url(payment)).status_code == 200
    assert len(few.captured_queries) <= 10


def test_the_live_box_of_an_approved_charge_offers_the_receipt(
    client_for, cashier_a, store_a, terminal_a
):
    payment = _approved(store_a, terminal_a)
    pending = make_intent(store_a, terminal=terminal_a, state=State.PENDING)
    client = client_for(cashier_a)
    live = client.get(reverse("dashboard:intent_live", args=[payment.public_id]))
    assert _url(payment) in live.content.decode()
    live = client.get(reverse("dashboard:intent_live", args=[pending.public_id]))
    assert "comprobante" not in live.content.decode()
