"""A full card number in a provider answer never reaches the database, the API document or the
CSV export (issue 11 #19): every stored field of the answer is masked to BIN + last four, not
only the raw answer."""

import copy
import json

import pytest
from django.urls import reverse

from tests.factories import make_intent
from transactions.gateway.types import IntentAnswer
from transactions.intent_document import intent_document
from transactions.models import Intent, IntentEvent
from transactions.states import State
from transactions.transitions import intent_record_answer, mask_card_numbers

pytestmark = pytest.mark.django_db

PAN = "4111111111111111"  # Luhn-valid
PAN_SPACED = "4111 1111 1111 1111"
MASKED = "411111******1111"


def _answer(reference: str) -> IntentAnswer:
    body = {
        "payment_request_data": {"ecr_transaction_id": reference},
        "payment_data": {
            "payment_id": "476ca6c9-2f1e-4f7e-9b0c-5c3b2f7d1a10",
            "payment_status": "CONFIRMED",
            "payment_type": "CREDIT",
            "terminal_id": "38011128",
            "authorized_payment_amount": "100000",
            "installments_number": 1,
            "card_brand_product": "VI",
            "card_brand": "VISA",
            "bin": "411111",
            "last_four_digits": "1111",
            "transaction_receipt": int(PAN),
            "batch_number": 1,
            "acquirer_response_code": "00",
            "acquirer_additional_message": f"APROBADA TARJETA {PAN_SPACED}",
            "authorization_code": PAN,
            "client_receipt_detail": f"ALMACEN\nVISA {PAN}\nGRACIAS",
            "merchant_receipt_detail": "ALMACEN\nVISA 4111-1111-1111-1111\nFIRMA",
        },
    }
    return IntentAnswer.parse("payment", copy.deepcopy(body))


def _no_pan(text: str) -> bool:
    """No full card number, however it is spaced or dashed."""
    return PAN not in text.replace(" ", "").replace("-", "")


def test_the_mask_keeps_bin_and_last_four_and_leaves_other_numbers():
    assert mask_card_numbers(f"VISA {PAN}") == f"VISA {MASKED}"
    assert mask_card_numbers("ticket 4111111111111112 lote 12") == (
        "ticket 4111111111111112 lote 12"  # not Luhn-valid: not a card number
    )


def test_no_stored_field_keeps_a_full_card_number(store_a, terminal_a, client_for, manager_a):
    intent = make_intent(store_a, terminal=terminal_a, state=State.PROCESSING)
    assert intent_record_answer(intent, _answer(intent.ecr_transaction_id))
    stored = Intent.objects.get(pk=intent.pk)
    assert stored.state == State.APPROVED
    row = {field.attname: getattr(stored, field.attname) for field in Intent._meta.concrete_fields}
    text = json.dumps(row, default=str)
    assert _no_pan(text), text
    assert MASKED in stored.client_receipt and MASKED in stored.response_message
    events = json.dumps(list(IntentEvent.objects.filter(intent=stored).values()), default=str)
    assert _no_pan(events)

    assert _no_pan(json.dumps(intent_document(intent=stored), default=str))
    response = client_for(manager_a).get(reverse("dashboard:intent_export_csv"))
    body = (
        b"".join(response.streaming_content).decode()
        if response.streaming
        else response.content.decode()
    )
    assert response.status_code == 200 and stored.authorization_code in body
    assert _no_pan(body)


def test_a_provider_error_that_echoes_a_card_number_is_stored_masked(db):
    import httpx

    from tests.transactions.gateway.support import GW_CUIT, FakePrisma, make_credential
    from transactions.gateway import GatewayError, PrismaGateway
    from transactions.models import GatewayCall

    fake = FakePrisma().on(
        "GET",
        "/payments/pay-1",
        httpx.Response(
            400, json={"errors": [{"code": "X", "title": f"tarjeta {PAN_SPACED} rechazada"}]}
        ),
    )
    gateway = PrismaGateway(make_credential(), transport=httpx.MockTransport(fake))
    with pytest.raises(GatewayError) as exc:
        gateway.payment_get(cuit=GW_CUIT, payment_id="pay-1")
    assert _no_pan(exc.value.message)
    assert _no_pan(json.dumps(list(GatewayCall.objects.values()), default=str))
