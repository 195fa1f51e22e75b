"""Every refusal answers its stable code as problem+json and leaves no row behind."""

import pytest

from tests.factories import make_intent
from tests.transactions.api.support import API, post
from transactions.models import Batch, Intent, IntentEvent


def _payment(terminal_obj, **overrides):
    body = {"terminal": str(terminal_obj.public_id), "amount": "1500.00"}
    body.update(overrides)
    return body


def _refused(response, status: int, code: str, field: str | None = None):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code, body
    if field:
        assert field in [e["field"] for e in body["errors"]], body
    return body


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        ("-1.00", "amount_invalid"),
        ("0", "amount_invalid"),
        ("0.00", "amount_invalid"),
        ("10.005", "amount_invalid"),
        ("abc", "amount_invalid"),
        ("", "amount_invalid"),
        ("1e3", "amount_invalid"),
        ("NaN", "amount_invalid"),
        (" 10.00", "amount_invalid"),
        ("10,50", "amount_invalid"),
        (1500, "amount_invalid"),  # a JSON number: money travels as text
        (15.5, "amount_invalid"),
        (None, "amount_invalid"),
        (True, "amount_invalid"),
        ("99999999999.00", "amount_too_large"),
        ("9" * 40, "amount_invalid"),
    ],
)
def test_bad_amounts(api_a, terminal_a, credential, amount, code):
    response = post(api_a, "/payments", _payment(terminal_a, amount=amount))
    _refused(response, 400, code, "amount")
    assert Intent.objects.count() == 0
    assert IntentEvent.objects.count() == 0


def test_missing_amount(api_a, terminal_a, credential):
    _refused(
        post(api_a, "/payments", {"terminal": str(terminal_a.public_id)}),
        400,
        "amount_invalid",
        "amount",
    )


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"installments": 0}, "installments_invalid", "installments"),
        ({"installments": 99}, "installments_invalid", "installments"),
        ({"installments": "dos"}, "installments_invalid", "installments"),
        ({"brand": "XX"}, "brand_invalid", "brand"),
        ({"method": "cash"}, "method_invalid", "method"),
        ({"print_copies": "ALL"}, "text_invalid", "print_copies"),
        ({"menu_text": "x" * 41}, "text_invalid", "menu_text"),
        ({"reference": "r" * 65}, "text_invalid", "reference"),
        ({"reference": "a\x00b"}, "text_invalid", "reference"),
        ({"terminal": "not-a-uuid"}, "terminal_not_in_store", "terminal"),
        ({"terminal": "7b0e0b1c-1a1a-4b4b-8c8c-000000000000"}, "terminal_not_in_store", "terminal"),
        ({"terminals": []}, "terminal_not_in_store", "terminals"),
    ],
)
def test_bad_payment_fields(api_a, terminal_a, credential, overrides, code, field):
    body = _payment(terminal_a, **overrides)
    if "terminals" in overrides:
        body.pop("terminal")
    _refused(post(api_a, "/payments", body), 400, code, field)
    assert Intent.objects.count() == 0


def test_lone_surrogates_are_refused_not_a_500(api_a, terminal_a, credential):
    raw = '{"terminal": "TERMINAL", "amount": "1.00", "reference": "\\ud800"}'.replace(
        "TERMINAL", str(terminal_a.public_id)
    )
    response = api_a.post(
        f"{API}/payments", raw, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-s"
    )
    _refused(response, 400, "text_invalid", "reference")
    assert Intent.objects.count() == 0


def test_terminal_and_terminals_together_are_refused(api_a, terminal_a, credential):
    body = _payment(terminal_a, terminals=[str(terminal_a.public_id)])
    _refused(post(api_a, "/payments", body), 400, "terminal_not_in_store", "terminal")


@pytest.mark.parametrize("body", [[], "texto", 3])
def test_body_that_is_not_an_object(api_a, credential, body):
    response = api_a.post(f"{API}/payments", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    _refused(response, 400, "validation_error")


def test_malformed_json(api_a, credential):
    response = api_a.post(
        f"{API}/payments", "{nope", content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-2"
    )
    _refused(response, 400, "invalid_json")


def test_form_bodies_are_415(api_a, credential):
    response = api_a.post(f"{API}/payments", {"amount": "1"}, HTTP_IDEMPOTENCY_KEY="k-3")
    _refused(response, 415, "unsupported_media_type")


def test_disabled_terminal(api_a, terminal_a, credential):
    terminal_a.enabled = False
    terminal_a.save()
    _refused(post(api_a, "/payments", _payment(terminal_a)), 409, "terminal_disabled", "terminal")
    assert Intent.objects.count() == 0


def test_reversal_of_a_declined_payment(api_a, store_a, terminal_a, credential):
    declined = make_intent(store_a, terminal=terminal_a, state="declined")
    _refused(post(api_a, f"/payments/{declined.public_id}/reversal"), 409, "reversal_not_allowed")
    assert Intent.objects.count() == 1


def test_reversal_after_the_batch_closed(api_a, store_a, terminal_a, credential):
    from django.utils import timezone

    payment = make_intent(store_a, terminal=terminal_a, state="approved", batch_number=7)
    closing = make_intent(store_a, terminal=terminal_a, kind="settlement", state="approved")
    Batch.objects.create(
        terminal=terminal_a, batch_number=7, settlement=closing, closed_at=timezone.now()
    )
    _refused(post(api_a, f"/payments/{payment.public_id}/reversal"), 409, "batch_closed")
    assert Intent.objects.count() == 2


def test_refund_above_the_balance(api_a, store_a, terminal_a, credential):
    payment = make_intent(store_a, terminal=terminal_a, state="approved", amount="1000.00")
    body = {
        "terminal": str(terminal_a.public_id),
        "amount": "1000.01",
        "original": str(payment.public_id),
    }
    _refused(post(api_a, "/refunds", body), 422, "refund_exceeds_balance", "amount")
    assert Intent.objects.count() == 1


def test_cancel_of_a_final_intent(api_a, store_a, terminal_a, credential):
    approved = make_intent(store_a, terminal=terminal_a, state="approved")
    _refused(post(api_a, f"/intents/{approved.public_id}/cancel"), 409, "not_cancellable")
    approved.refresh_from_db()
    assert approved.state == "approved"


def test_wait_out_of_range(api_a, store_a, terminal_a, credential):
    intent = make_intent(store_a, terminal=terminal_a, state="approved")
    for wait in ("31", "-1", "abc", "1.5"):
        response = api_a.get(f"{API}/intents/{intent.public_id}", {"wait": wait})
        _refused(response, 400, "validation_error", "wait")


def test_list_filters_are_validated(api_a, credential):
    for query in ({"kind": "nope"}, {"terminal": "x"}, {"created_from": "ayer"}):
        _refused(api_a.get(f"{API}/intents", query), 400, "validation_error")


def test_date_filters_with_odd_offsets_are_not_a_500(api_a, credential):
    ok = api_a.get(f"{API}/intents", {"created_from": "1343-05-28T04:15:58.905-20:34"})
    assert ok.status_code == 200
    too_early = api_a.get(f"{API}/intents", {"created_to": "0001-01-01T00:00:00+05:00"})
    _refused(too_early, 400, "validation_error", "created_to")


def test_wrong_method_is_405_problem(api_a, credential):
    response = api_a.put(f"{API}/payments", {}, format="json")
    _refused(response, 405, "method_not_allowed")


def test_each_input_serializer_binds_fields_of_its_own(store_a):
    """Fields are copied per serializer (shallow, for speed): each instance's are bound to it,
    the declared ones stay unbound, and a list's child is bound to its own copy of the list."""
    from transactions.api.serializers import PaymentInputSerializer

    first = PaymentInputSerializer(data={}, context={"store": store_a})
    second = PaymentInputSerializer(data={}, context={"store": store_a})
    declared = PaymentInputSerializer._declared_fields
    for name in declared:
        assert first.fields[name] is not second.fields[name] is not declared[name]
        assert first.fields[name].parent is first and second.fields[name].parent is second
        assert getattr(declared[name], "parent", None) is None
    assert first.fields["terminals"].child.parent is first.fields["terminals"]
    assert first.fields["terminals"].child is not declared["terminals"].child


def test_validation_errors_are_the_same_for_every_request(api_a, terminal_a, fake_provider):
    """A refusal does not leave anything on the shared declared fields that changes the next
    request's answer."""
    for _ in range(2):
        response = post(api_a, "/payments", _payment(terminal_a, amount="abc", installments=0))
        body = _refused(response, 400, "amount_invalid", "amount")
        assert {e["field"] for e in body["errors"]} == {"amount", "installments"}
    ok = post(api_a, "/payments", _payment(terminal_a, amount="10.00"))
    assert ok.status_code == 201, ok.json()
