"""Contract tests: the real gateway against the simulator over real HTTP (a live server).

Every operation of the contract, and every fault the simulator can inject: token caching,
renewal on 401 and on expiry, 5xx on reads retried once, lost create answers in doubt and never
re-sent, 409 busy, plain-text errors. Secrets and tokens never reach a GatewayCall row or a log.
"""

import logging
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.transactions.gateway.support import (
    GW_CUIT,
    GW_PUBLIC_KEY,
    GW_SECRET,
    TERMINAL_1,
    TERMINAL_2,
    make_credential,
)
from transactions.gateway import (
    AuthenticationFailed,
    GatewayError,
    PaymentRequest,
    PrismaGateway,
    ProviderRejected,
    RefundRequest,
    ReversalRequest,
)
from transactions.models import GatewayCall

FINAL = {
    "CONFIRMED",
    "DECLINED",
    "UNDONE",
    "ERROR",
    "REVERSED",
    "REVERSAL_DECLINED",
    "REVERSAL_ERROR",
    "REVERSAL_UNDONE",
}


def ref() -> str:
    return f"T-{uuid.uuid4().hex[:10]}"


def pay(amount: str, terminal: str = TERMINAL_1, **kw) -> PaymentRequest:
    return PaymentRequest(
        amount=Decimal(amount), terminal_ids=[terminal], menu_text="Pedido test", **kw
    )


def poll(read, *, until=lambda answer: answer.status in FINAL, timeout: float = 8.0):
    deadline = time.monotonic() + timeout
    while True:
        answer = read()
        if until(answer) or time.monotonic() > deadline:
            return answer
        time.sleep(0.05)


def autopilot_on(sim) -> None:
    sim.control.autopilot(enabled=True, pick_delay_ms=0, processing_ms=0)


def confirmed_payment(sim, terminal: str = TERMINAL_1, card: str = "visa_credito"):
    created = sim.gateway.payment_create(cuit=GW_CUIT, request=pay("1520.50", terminal))
    sim.control.act(terminal, "pick")
    sim.control.act(terminal, "pay", card=card)
    return sim.gateway.payment_get(cuit=GW_CUIT, payment_id=created.provider_id)


# --- Token and liveness -------------------------------------------------------------------------


def test_token_and_liveness(sim):
    assert sim.gateway.token() == sim.issued_tokens[0]
    assert sim.gateway.liveness() is True
    assert sim.control.counters()["tokens_issued"] == 1


def test_wrong_keys_are_an_authentication_failure(sim):
    wrong = PrismaGateway(make_credential(base_url=sim.control.base_url, secret="not-the-secret"))
    with pytest.raises(AuthenticationFailed) as caught:
        wrong.liveness()
    assert caught.value.http_status == 401
    assert caught.value.code == "OAU-401"
    assert "CREDENTIAL NO EXIST" in caught.value.message
    wrong.close()


def test_token_is_cached_across_calls(sim):
    created = sim.gateway.payment_create(cuit=GW_CUIT, request=pay("10.00"))
    for _ in range(10):
        sim.gateway.payment_get(cuit=GW_CUIT, payment_id=created.provider_id)
    counters = sim.control.counters()
    assert counters["tokens_issued"] == 1
    assert counters["reads_by_intention_id"][created.provider_id] == 10


def test_token_renewed_once_after_revocation(sim):
    created = sim.gateway.payment_create(cuit=GW_CUIT, request=pay("10.00"))
    sim.control.faults(revoke_tokens=True)
    answer = sim.gateway.payment_get(cuit=GW_CUIT, payment_id=created.provider_id)
    assert answer.status == "PAYMENT_REQUEST"
    assert sim.control.counters()["tokens_issued"] == 2
    rows = GatewayCall.objects.filter(operation="payment_get").order_by("pk")
    assert list(rows.values_list("http_status", "outcome")) == [(401, "retryable"), (200, "ok")]


def test_token_renewed_on_expiry(sim):
    sim.control.faults(token_ttl_seconds=1)
    created = sim.gateway.payment_create(cuit=GW_CUIT, request=pay("10.00"))
    time.sleep(1.3)
    answer = sim.gateway.payment_get(cuit=GW_CUIT, payment_id=created.provider_id)
    assert answer.provider_id == created.provider_id
    assert sim.control.counters()["tokens_issued"] == 2
    assert not GatewayCall.objects.exclude(outcome="ok").exists()


def test_ecr_check_command(sim):
    out = StringIO()
    call_command("ecr_check", credential=str(sim.credential.public_id), stdout=out)
    text = out.getvalue()
    assert "Token obtenido" in text
    assert "Prisma está disponible" in text
    assert GW_SECRET not in text
    assert all(token not in text for token in sim.issued_tokens)


def test_ecr_check_command_fails_with_wrong_keys(sim):
    wrong = make_credential(base_url=sim.control.base_url, secret="not-the-secret")
    out = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("ecr_check", credential=str(wrong.pk), stdout=out)
    assert "No se pudo obtener un token" in str(caught.value)
    assert "not-the-secret" not in str(caught.value) + out.getvalue()


def test_ecr_check_command_unknown_credential(sim):
    with pytest.raises(CommandError):
        call_command("ecr_check", credential="999999", stdout=StringIO())


# --- Payments -----------------------------------------------------------------------------------


def test_payment_created_picked_paid_and_read_back_confirmed(sim):
    reference = ref()
    created = sim.gateway.payment_create(
        cuit=GW_CUIT,
        request=pay("1520.50", TERMINAL_1, reference=reference, installments=3),
    )
    assert created.kind == "payment"
    assert created.status == "PAYMENT_REQUEST"
    assert created.provider_id
    assert created.request_date is not None and created.request_date.tzinfo is not None
    assert created.terminal_id is None
    assert sim.control.counters()["creates_by_ecr_transaction_id"] == {reference: 1}

    sim.control.act(TERMINAL_1, "pick")
    taken = sim.gateway.payment_get(cuit=GW_CUIT, payment_id=created.provider_id)
    assert taken.status == "PROCESSING_PAYMENT"
    assert taken.terminal_id == TERMINAL_1

    sim.control.act(TERMINAL_1, "pay", card="visa_credito")
    answer = sim.gateway.payment_get(cuit=GW_CUIT, payment_id=created.provider_id)
    assert answer.status == "CONFIRMED"
    assert answer.terminal_id == TERMINAL_1
    assert answer.authorized_amount == Decimal("1520.50")
    assert answer.installments == 3
    assert answer.payment_type == "CREDIT"
    assert answer.acquirer_id == "PRISMA"
    assert answer.card_brand_product == "VI"
    assert answer.card_brand == "VISA"
    assert answer.entry_mode == "CHIP_CONTACTLESS"
    assert (answer.bin, answer.last_four) == ("450799", "0010")
    assert answer.authorization_code
    assert answer.ticket_number
    assert isinstance(answer.batch_number, int)
    assert answer.response_code == "00"
    assert answer.client_receipt and answer.merchant_receipt
    assert answer.reference == reference
    assert answer.status_date >= answer.request_date
    assert "GOMEZ" not in repr(answer.raw) + repr(answer.extra)  # card holder redacted

    found = sim.gateway.payment_search(
        cuit=GW_CUIT,
        date_from=datetime.now(UTC) - timedelta(hours=1),
        date_to=datetime.now(UTC) + timedelta(minutes=1),
        reference=reference,
    )
    assert [(a.provider_id, a.status) for a in found] == [(created.provider_id, "CONFIRMED")]


def test_payment_declined_by_autopilot(sim):
    autopilot_on(sim)
    created = sim.gateway.payment_create(cuit=GW_CUIT, request=pay("10.51"))
    answer = poll(lambda: sim.gateway.payment_get(cuit=GW_CUIT, payment_id=created.provider_id))
    assert answer.status == "DECLINED"


def test_qr_payment(sim):
    created = sim.gateway.payment_create(
        cuit=GW_CUIT, request=pay("99.00", TERMINAL_2, method="QR_CODE")
    )
    sim.control.act(TERMINAL_2, "pick")
    sim.control.act(TERMINAL_2, "qr")
    answer = sim.gateway.payment_get(cuit=GW_CUIT, payment_id=created.provider_id)
    assert answer.status == "CONFIRMED"
    assert answer.entry_mode == "QR_CODE"


def test_payment_cancel_of_a_waiting_intention(sim):
    created = sim.gateway.payment_create(cuit=GW_CUIT, request=pay("10.00"))
    cancelled = sim.gateway.payment_cancel(cuit=GW_CUIT, payment_id=created.provider_id)
    assert cancelled.provider_id == created.provider_id
    assert cancelled.status in {"UNDO_REQUEST", "UNDONE"}
    answer = poll(lambda: sim.gateway.payment_get(cuit=GW_CUIT, payment_id=created.provider_id))
    assert answer.status == "UNDONE"


def test_payment_get_unknown_id_is_404(sim):
    with pytest.raises(ProviderRejected) as caught:
        sim.gateway.payment_get(cuit=GW_CUIT, payment_id=str(uuid.uuid4()))
    assert caught.value.http_status == 404
    assert not caught.value.retryable and not caught.value.in_doubt


def test_terminal_busy_answers_409(sim):
    sim.gateway.payment_create(cuit=GW_CUIT, request=pay("10.00", TERMINAL_1))
    with pytest.raises(ProviderRejected) as caught:
        sim.gateway.payment_create(cuit=GW_CUIT, request=pay("11.00", TERMINAL_1))
    assert caught.value.http_status == 409
    assert caught.value.code
    assert caught.value.message
    assert not caught.value.in_doubt and not caught.value.retryable


def test_magic_cents_56_is_409_busy_not_in_doubt(sim):
    autopilot_on(sim)
    reference = ref()
    with pytest.raises(ProviderRejected) as caught:
        sim.gateway.payment_create(cuit=GW_CUIT, request=pay("10.56", reference=reference))
    assert caught.value.http_status == 409
    assert not caught.value.in_doubt
    assert sim.control.counters()["creates_by_ecr_transaction_id"] == {reference: 1}


# --- Reversals, refunds, settlements ------------------------------------------------------------


def test_reversal_create_get_and_cancel(sim):
    payment = confirmed_payment(sim)
    assert payment.status == "CONFIRMED"
    reversal = sim.gateway.reversal_create(
        cuit=GW_CUIT,
        request=ReversalRequest(
            payment_id=payment.provider_id,
            terminal_ids=[TERMINAL_1],
            menu_text="Anulación test",
            reference="REV-1",
        ),
    )
    assert reversal.kind == "reversal"
    assert reversal.status == "REVERSAL_REQUEST"
    assert reversal.provider_id

    sim.control.act(TERMINAL_1, "pick")
    sim.control.act(TERMINAL_1, "pay")
    done = sim.gateway.reversal_get(cuit=GW_CUIT, reversal_id=reversal.provider_id)
    assert done.status == "REVERSED"
    assert done.reversed_payment is not None
    assert done.reversed_payment.provider_id == payment.provider_id
    assert done.reference == "REV-1"

    # A second payment, reversed and then the reversal cancelled while still waiting.
    second = confirmed_payment(sim, TERMINAL_2, card="mastercard")
    pending = sim.gateway.reversal_create(
        cuit=GW_CUIT,
        request=ReversalRequest(
            payment_id=second.provider_id, terminal_ids=[TERMINAL_2], menu_text="Anular 2"
        ),
    )
    cancelled = sim.gateway.reversal_cancel(cuit=GW_CUIT, reversal_id=pending.provider_id)
    assert cancelled.status in {"UNDO_REVERSAL_REQUEST", "REVERSAL_UNDONE"}
    final = poll(lambda: sim.gateway.reversal_get(cuit=GW_CUIT, reversal_id=pending.provider_id))
    assert final.status == "REVERSAL_UNDONE"


def test_refund_create_get_and_cancel(sim):
    refund = sim.gateway.refund_create(
        cuit=GW_CUIT,
        request=RefundRequest(
            amount=Decimal("500.00"),
            terminal_ids=[TERMINAL_1],
            menu_text="Devolución test",
            reference="DEV-1",
        ),
    )
    assert refund.kind == "refund"
    assert refund.status == "REFUND_REQUEST"
    sim.control.act(TERMINAL_1, "pick")
    sim.control.act(TERMINAL_1, "pay", card="amex")
    done = sim.gateway.refund_get(cuit=GW_CUIT, refund_id=refund.provider_id)
    assert done.status == "CONFIRMED"
    assert done.ticket_number
    assert isinstance(done.batch_number, int)
    assert done.authorization_code

    pending = sim.gateway.refund_create(
        cuit=GW_CUIT,
        request=RefundRequest(amount=Decimal("1"), terminal_ids=[TERMINAL_2], menu_text="Dev 2"),
    )
    cancelled = sim.gateway.refund_cancel(cuit=GW_CUIT, refund_id=pending.provider_id)
    assert cancelled.status in {"UNDO_REQUEST", "UNDONE"}
    final = poll(lambda: sim.gateway.refund_get(cuit=GW_CUIT, refund_id=pending.provider_id))
    assert final.status == "UNDONE"


@pytest.mark.parametrize("print_receipt", [True, False])
def test_settlement_create_and_get(sim, print_receipt):
    payment = confirmed_payment(sim)
    settlement = sim.gateway.settlement_create(
        cuit=GW_CUIT, terminal_id=TERMINAL_1, print_receipt=print_receipt
    )
    assert settlement.kind == "settlement"
    assert settlement.provider_id
    done = poll(
        lambda: sim.gateway.settlement_get(cuit=GW_CUIT, settlement_id=settlement.provider_id)
    )
    assert done.status == "CONFIRMED"
    assert done.terminal_id == TERMINAL_1
    assert done.batch_number == payment.batch_number
    assert done.merchant_receipt  # the closing ticket
    # The next payment lands in the next batch.
    assert confirmed_payment(sim).batch_number == payment.batch_number + 1


# --- Faults -------------------------------------------------------------------------------------


def test_5xx_on_reads_is_retried_once(sim):
    created = sim.gateway.payment_create(cuit=GW_CUIT, request=pay("10.00"))
    sim.control.faults(error_rate=1.0)
    with pytest.raises(GatewayError) as caught:
        sim.gateway.payment_get(cuit=GW_CUIT, payment_id=created.provider_id)
    assert caught.value.retryable and not caught.value.in_doubt
    assert caught.value.http_status in (500, 503)
    rows = GatewayCall.objects.filter(operation="payment_get")
    assert rows.count() == 2  # the call and exactly one retry
    assert set(rows.values_list("outcome", flat=True)) == {"retryable"}


def test_5xx_on_reads_then_recovery(sim):
    created = sim.gateway.payment_create(cuit=GW_CUIT, request=pay("10.00"))
    # With error_rate 0.5 and a fixed seed, some read fails and its single retry succeeds.
    sim.control.faults(error_rate=0.5, seed=7)
    answers = [
        sim.gateway.payment_get(cuit=GW_CUIT, payment_id=created.provider_id) for _ in range(3)
    ]
    assert all(answer.status == "PAYMENT_REQUEST" for answer in answers)


def test_plain_text_error_body_becomes_a_readable_message(sim):
    created = sim.gateway.payment_create(cuit=GW_CUIT, request=pay("10.00"))
    sim.control.faults(error_rate=1.0, plain_text_errors=True)
    with pytest.raises(GatewayError) as caught:
        sim.gateway.payment_get(cuit=GW_CUIT, payment_id=created.provider_id)
    message = caught.value.message
    assert message and "{" not in message and "<" not in message
    assert len(message) <= 300


def test_5xx_on_a_create_is_in_doubt_and_not_resent(sim):
    sim.gateway.token()
    sim.control.faults(error_rate=1.0)
    reference = ref()
    with pytest.raises(GatewayError) as caught:
        sim.gateway.payment_create(cuit=GW_CUIT, request=pay("10.00", reference=reference))
    assert caught.value.in_doubt and not caught.value.retryable
    assert sim.control.counters()["creates_by_ecr_transaction_id"] == {reference: 1}


def test_lost_create_answer_is_in_doubt_never_resent_and_found_by_search(sim):
    sim.gateway.token()  # the token answer must not be the one dropped
    sim.control.faults(drop_rate=1.0, lost_answer_sleep_ms=500)
    reference = ref()
    with pytest.raises(GatewayError) as caught:
        sim.gateway.payment_create(cuit=GW_CUIT, request=pay("10.00", reference=reference))
    assert caught.value.in_doubt and not caught.value.retryable
    assert caught.value.http_status in (None, 504)
    sim.control.faults(drop_rate=0.0)
    assert sim.control.counters()["creates_by_ecr_transaction_id"] == {reference: 1}
    row = GatewayCall.objects.get(operation="payment_create")
    assert row.outcome == "in_doubt"
    # What the resolver does next: look for it instead of sending it again.
    found = sim.gateway.payment_search(
        cuit=GW_CUIT,
        date_from=datetime.now(UTC) - timedelta(hours=1),
        date_to=datetime.now(UTC) + timedelta(minutes=1),
        reference=reference,
    )
    assert len(found) == 1 and found[0].status == "PAYMENT_REQUEST"
    assert found[0].reference == reference  # the resolver matches on this echo


def test_magic_cents_55_lost_answer_is_in_doubt(sim):
    autopilot_on(sim)
    sim.control.faults(lost_answer_sleep_ms=500)
    reference = ref()
    with pytest.raises(GatewayError) as caught:
        sim.gateway.payment_create(cuit=GW_CUIT, request=pay("10.55", reference=reference))
    assert caught.value.in_doubt
    assert sim.control.counters()["creates_by_ecr_transaction_id"] == {reference: 1}
    found = sim.gateway.payment_search(
        cuit=GW_CUIT,
        date_from=datetime.now(UTC) - timedelta(hours=1),
        date_to=datetime.now(UTC) + timedelta(minutes=1),
        reference=reference,
    )
    assert len(found) == 1
    answer = poll(lambda: sim.gateway.payment_get(cuit=GW_CUIT, payment_id=found[0].provider_id))
    assert answer.status == "CONFIRMED"


def test_lost_read_answer_is_retried(sim):
    created = sim.gateway.payment_create(cuit=GW_CUIT, request=pay("10.00"))
    sim.control.faults(drop_rate=0.5, seed=3, lost_answer_sleep_ms=500)
    for _ in range(4):
        try:
            answer = sim.gateway.payment_get(cuit=GW_CUIT, payment_id=created.provider_id)
        except GatewayError as error:
            assert error.retryable and not error.in_doubt
        else:
            assert answer.status == "PAYMENT_REQUEST"


# --- Secrets ------------------------------------------------------------------------------------


def test_secrets_and_tokens_absent_from_rows_and_logs(sim, caplog):
    caplog.set_level(logging.DEBUG)
    created = sim.gateway.payment_create(cuit=GW_CUIT, request=pay("10.00", reference=ref()))
    sim.control.faults(revoke_tokens=True)
    sim.gateway.payment_get(cuit=GW_CUIT, payment_id=created.provider_id)
    sim.control.faults(error_rate=1.0, plain_text_errors=True)
    with pytest.raises(GatewayError):
        sim.gateway.payment_get(cuit=GW_CUIT, payment_id=created.provider_id)
    sim.control.faults(error_rate=0.0)
    call_command("ecr_check", credential=str(sim.credential.pk), stdout=StringIO())
    assert len(sim.issued_tokens) >= 2
    rows = GatewayCall.objects.all()
    assert rows.count() >= 6
    text = " ".join(f"{r.operation} {r.method} {r.path} {r.error}" for r in rows)
    for haystack in (text, caplog.text):
        assert GW_SECRET not in haystack
        assert "Basic " not in haystack and "Bearer " not in haystack
        for token in sim.issued_tokens:
            assert token not in haystack
    assert GW_PUBLIC_KEY  # public, allowed; only named here to document the difference
    assert all(not row.path.startswith("http") for row in rows)
