"""The webhook body's `data`: pinned to the document the POS API answers for the same intent."""

import datetime as dt
import uuid
from decimal import Decimal

from django.utils import timezone

from tests import factories
from transactions.api.serializers import IntentOutputSerializer
from transactions.models import Intent
from transactions.webhooks.services import webhook_event_body


def intent_webhook_payload(*, intent: Intent) -> dict:
    """The `data` of the webhook body of an event of this intent."""
    at = dt.datetime(2026, 3, 2, 16, 0, tzinfo=dt.UTC)
    body = webhook_event_body(
        delivery_id=uuid.UUID(int=7), event="intent.final", intent=intent, at=at
    )
    assert body["id"] == str(uuid.UUID(int=7)) and body["event"] == "intent.final"
    assert body["created_at"] == "2026-03-02T16:00:00+00:00"
    return body["data"]


def _approved_payment(store, terminal, credential) -> Intent:
    pos_client, _ = factories.make_pos_client(store, name="Caja central")
    intent = factories.make_intent(
        store,
        credential=credential,
        kind="payment",
        state="approved",
        terminal=terminal,
        amount=Decimal("1500.00"),
        authorized_amount=Decimal("1500.00"),
        installments=3,
        reference="pedido-77",
        menu_text="Mesa 4",
        provider_id="prov-123",
        provider_status="CONFIRMED",
        requested_by_pos=pos_client,
        card_brand="VISA",
        card_brand_code="1",
        card_last_four="4242",
        payment_type="CREDIT",
        entry_mode="CHIP",
        authorization_code="AB12",
        ticket_number="0042",
        batch_number=7,
        response_code="00",
        response_message="APROBADA",
        client_receipt="ticket cliente",
        merchant_receipt="ticket comercio",
    )
    moment = dt.datetime(2026, 3, 2, 15, 4, 5, tzinfo=dt.UTC)
    Intent.objects.filter(pk=intent.pk).update(
        created_at=moment, updated_at=moment, taken_at=moment, finished_at=moment
    )
    intent.refresh_from_db()
    return intent


def test_the_payload_of_an_approved_payment_is_pinned(store_a, terminal_a, credential):
    intent = _approved_payment(store_a, terminal_a, credential)
    local = timezone.localtime(dt.datetime(2026, 3, 2, 15, 4, 5, tzinfo=dt.UTC)).isoformat()
    terminal = {
        "id": str(terminal_a.public_id),
        "terminal_id": "11111111",
        "label": "Caja A1",
    }
    url = f"/api/v1/intents/{intent.public_id}"
    payload = intent_webhook_payload(intent=intent)
    assert payload == {
        "id": str(intent.public_id),
        "kind": "payment",
        "state": "approved",
        "display_status": "approved",
        "display_status_label": "Aprobada",
        "is_final": True,
        "provider_status": "CONFIRMED",
        "provider_id": "prov-123",
        "amount": "1500.00",
        "authorized_amount": "1500.00",
        "installments": 3,
        "method": "card",
        "brand_restriction": "",
        "change_amount": "0.00",
        "qr_benefit_code": None,
        "approval_expires_at": None,
        "reference": "pedido-77",
        "menu_text": "Mesa 4",
        "print_copies": "BOTH",
        "terminal": terminal,
        "offered_terminals": [terminal],
        "card": {
            "brand": "VISA",
            "brand_code": "1",
            "last_four": "4242",
            "payment_type": "CREDIT",
            "entry_mode": "CHIP",
        },
        "authorization_code": "AB12",
        "ticket_number": "0042",
        "batch_number": 7,
        "response_code": "00",
        "response_message": "APROBADA",
        "receipts": {"client": "ticket cliente", "merchant": "ticket comercio"},
        "original_id": None,
        "needs_attention": False,
        "created_at": local,
        "updated_at": local,
        "taken_at": local,
        "finished_at": local,
        "links": {
            "self": url,
            "wait": f"{url}?wait=30",
            "reversal": f"/api/v1/payments/{intent.public_id}/reversal",
        },
    }
    # The order of the keys is the document's order too (receivers may log it as is).
    assert list(payload)[:3] == ["id", "kind", "state"] and list(payload)[-1] == "links"


def test_a_settlement_has_no_amount_and_no_card(store_a, terminal_a, credential):
    # Closed on one terminal, never offered to any (a close is not picked at a terminal).
    intent = factories.make_intent(
        store_a,
        credential=credential,
        kind="settlement",
        state="approved",
        terminal=terminal_a,
        offered_terminals=[],
    )
    payload = intent_webhook_payload(intent=intent)
    assert (payload["amount"], payload["card"], payload["offered_terminals"]) == (None, None, [])
    assert set(payload["links"]) == {"self", "wait"}


def test_the_payload_is_the_document_the_api_answers(store_a, terminal_a, credential):
    intent = _approved_payment(store_a, terminal_a, credential)
    assert intent_webhook_payload(intent=intent) == IntentOutputSerializer(intent).data
