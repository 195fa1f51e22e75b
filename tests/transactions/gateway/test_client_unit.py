"""The client's own logic over an httpx.MockTransport: wire shapes, error verdicts, retries,
token cache and lock, GatewayCall rows, and no secrets anywhere."""

import base64
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
import time_machine
from django.core.cache import cache

from stores.models import Credential, Store
from tests.factories import make_intent
from tests.transactions.gateway.support import (
    GW_CUIT,
    GW_PUBLIC_KEY,
    GW_SECRET,
    json_of,
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
    gateway_for,
)
from transactions.models import GatewayCall

PAY = "/v1/paystore_terminals/terminal_payments/payments"
REV = "/v1/paystore_terminals/terminal_reversals/reversals"
REF = "/v1/paystore_terminals/terminal_refunds/refunds"
SET = "/v1/paystore_terminals/terminal_settlements/settlements"
PID = "476ca6c9-2f1e-4f7e-9b0c-5c3b2f7d1a10"


def payment_answer(status="PAYMENT_REQUEST", payment_id=PID, **more):
    return httpx.Response(
        200,
        json={
            "payment_request_data": {"ecr_transaction_id": "REF-1"},
            "payment_data": {"payment_id": payment_id, "payment_status": status, **more},
        },
    )


def payment_request(**kw):
    base = {"amount": Decimal("1520.50"), "terminal_ids": ["38011128"], "menu_text": "Pedido 1"}
    return PaymentRequest(**{**base, **kw})


def errors_body(status, code, title):
    return {
        "errors": [{"status": str(status), "code": code, "title": title, "acquirer_message": None}]
    }


# --- Wire shapes of every operation -------------------------------------------------------------

REVERSAL_OK = httpx.Response(
    200, json={"reversal_data": {"payment_id": "rev-1", "reversal_status": "REVERSAL_REQUEST"}}
)
REFUND_OK = httpx.Response(
    200, json={"refund_request": {}, "refund_data": {"refund_id": "ref-1", "refund_status": "X"}}
)
SETTLEMENT_OK = httpx.Response(
    200, json={"settlements_data": {"settlement_id": "set-1", "settlement_status": "Y"}}
)

OPERATIONS = [
    # (call, method, path, expected query, expected body or None, answer)
    (
        lambda g: g.payment_create(cuit=GW_CUIT, request=payment_request(reference="REF-1")),
        "POST",
        PAY,
        {"cuit_cuil": GW_CUIT},
        "payment_request_data",
        payment_answer(),
    ),
    (
        lambda g: g.payment_get(cuit=GW_CUIT, payment_id=PID),
        "GET",
        f"{PAY}/{PID}",
        {"cuit_cuil": GW_CUIT, "subnet_acquirer_id": "9"},
        None,
        payment_answer(),
    ),
    (
        lambda g: g.payment_cancel(cuit=GW_CUIT, payment_id=PID),
        "PUT",
        f"{PAY}/{PID}/cancellations",
        {"cuit_cuil": GW_CUIT, "subnet_acquirer_id": "9"},
        None,
        payment_answer("UNDO_REQUEST"),
    ),
    (
        lambda g: g.payment_search(
            cuit=GW_CUIT,
            date_from=datetime(2026, 11, 27, 3, tzinfo=UTC),
            date_to=datetime(2026, 11, 28, 3, tzinfo=UTC),
            reference="REF-1",
        ),
        "POST",
        f"{PAY}/searches",
        {"cuit_cuil": GW_CUIT},
        {
            "ecr_transaction_id": "REF-1",
            "terminal_id": None,
            "date_from": "2026-11-27T03:00:00+00:00",
            "date_to": "2026-11-28T03:00:00+00:00",
        },
        httpx.Response(200, json={"payments": []}),
    ),
    (
        lambda g: g.reversal_create(
            cuit=GW_CUIT,
            request=ReversalRequest(payment_id=PID, terminal_ids=["38011128"], menu_text="Anular"),
        ),
        "POST",
        REV,
        {"cuit_cuil": GW_CUIT},
        "reversal_request_data",
        REVERSAL_OK,
    ),
    (
        lambda g: g.reversal_get(cuit=GW_CUIT, reversal_id="rev-1"),
        "GET",
        f"{REV}/rev-1",
        {"cuit_cuil": GW_CUIT, "subnet_acquirer_id": "9"},
        None,
        REVERSAL_OK,
    ),
    (
        lambda g: g.reversal_cancel(cuit=GW_CUIT, reversal_id="rev-1"),
        "PUT",
        f"{REV}/rev-1/cancellations",
        {"cuit_cuil": GW_CUIT, "subnet_acquirer_id": "9"},
        None,
        REVERSAL_OK,
    ),
    (
        lambda g: g.refund_create(
            cuit=GW_CUIT,
            request=RefundRequest(amount=Decimal("5"), terminal_ids=["38011128"], menu_text="Dev"),
        ),
        "POST",
        REF,
        {"cuit_cuil": GW_CUIT},
        "refund_amount",
        REFUND_OK,
    ),
    (
        lambda g: g.refund_get(cuit=GW_CUIT, refund_id="ref-1"),
        "GET",
        f"{REF}/ref-1",
        {"cuit_cuil": GW_CUIT, "subnet_acquirer_id": "9"},
        None,
        REFUND_OK,
    ),
    (
        lambda g: g.refund_cancel(cuit=GW_CUIT, refund_id="ref-1"),
        "PUT",
        f"{REF}/ref-1/cancellations",
        {"cuit_cuil": GW_CUIT, "subnet_acquirer_id": "9"},
        None,
        REFUND_OK,
    ),
    (
        lambda g: g.settlement_create(cuit=GW_CUIT, terminal_id="38011128"),
        "POST",
        SET,
        {
            "cuit_cuil": GW_CUIT,
            "subnet_acquirer_id": "9",
            "terminal_id": "38011128",
            "print_receipt": "true",
        },
        None,
        SETTLEMENT_OK,
    ),
    (
        lambda g: g.settlement_get(cuit=GW_CUIT, settlement_id="set-1"),
        "GET",
        f"{SET}/set-1",
        {"cuit_cuil": GW_CUIT, "subnet_acquirer_id": "9"},
        None,
        SETTLEMENT_OK,
    ),
]


@pytest.mark.parametrize(("call", "method", "path", "query", "body", "answer"), OPERATIONS)
def test_operation_wire_shape(fake_gateway, fake_prisma, call, method, path, query, body, answer):
    fake_prisma.on(method, path, answer)
    gateway = fake_gateway(base_url="https://api-homo.example.test/base/")
    call(gateway)
    [sent] = fake_prisma.business_requests()
    assert sent.method == method
    assert sent.url.host == "api-homo.example.test"
    assert sent.url.path == "/base" + path
    assert dict(sent.url.params) == query
    assert sent.headers["authorization"].startswith("Bearer tok-1")
    assert sent.headers["accept"] == "application/json"
    assert sent.headers["content-type"] == "application/json"
    sent_body = json_of(sent)
    if body is None:
        assert sent_body is None
    elif isinstance(body, str):
        assert body in sent_body  # the full bodies are checked field by field in test_types
        if body != "refund_amount":
            assert sent_body[body]["subnet_acquirer_id"] == "9"
        else:
            assert sent_body["subnet_acquirer_id"] == "9"
    else:
        assert sent_body == body
    row = GatewayCall.objects.exclude(operation="token").get()
    assert (row.method, row.path, row.http_status, row.outcome) == (method, path, 200, "ok")


def test_settlement_without_receipt(fake_gateway, fake_prisma):
    fake_prisma.on("POST", SET, SETTLEMENT_OK)
    fake_gateway().settlement_create(cuit=GW_CUIT, terminal_id="38011128", print_receipt=False)
    assert fake_prisma.business_requests()[0].url.params["print_receipt"] == "false"


def test_cuit_is_sent_dashed(fake_gateway, fake_prisma):
    fake_prisma.on("GET", PID, payment_answer())
    fake_gateway().payment_get(cuit="30712345671", payment_id=PID)
    assert fake_prisma.business_requests()[0].url.params["cuit_cuil"] == "30-71234567-1"


def test_bad_ids_never_reach_the_wire(fake_gateway, fake_prisma):
    gateway = fake_gateway()
    with pytest.raises(ValueError):
        gateway.payment_get(cuit=GW_CUIT, payment_id="../../oauth")
    with pytest.raises(ValueError):
        gateway.payment_get(cuit="no-cuit", payment_id=PID)
    assert fake_prisma.requests == []


def test_create_answer_is_parsed(fake_gateway, fake_prisma):
    fake_prisma.on("POST", PAY, payment_answer(terminal_id=None))
    answer = fake_gateway().payment_create(cuit=GW_CUIT, request=payment_request())
    assert answer.provider_id == PID
    assert answer.status == "PAYMENT_REQUEST"
    assert answer.reference == "REF-1"


@pytest.mark.parametrize(
    "body",
    [
        {"payments": [{"payment_data": {"payment_id": "a", "payment_status": "CONFIRMED"}}]},
        {"results": [{"payment_data": {"payment_id": "a", "payment_status": "CONFIRMED"}}]},
        {"data": [{"payment_id": "a", "payment_status": "CONFIRMED"}]},
        [
            {
                "payment_request_data": {},
                "payment_data": {"payment_id": "a", "payment_status": "CONFIRMED"},
            }
        ],
    ],
)
def test_search_answer_shapes(fake_gateway, fake_prisma, body):
    fake_prisma.on("POST", "/searches", httpx.Response(200, json=body))
    found = fake_gateway().payment_search(
        cuit=GW_CUIT, date_from=datetime(2026, 1, 1, tzinfo=UTC), date_to=datetime.now(UTC)
    )
    assert [(a.provider_id, a.status) for a in found] == [("a", "CONFIRMED")]


def test_search_refuses_naive_dates(fake_gateway):
    with pytest.raises(ValueError):
        fake_gateway().payment_search(
            cuit=GW_CUIT, date_from=datetime(2026, 1, 1), date_to=datetime(2026, 1, 2)
        )


def test_unknown_status_is_kept_verbatim(fake_gateway, fake_prisma):
    fake_prisma.on("GET", PID, payment_answer("QUANTUM_SUPERPOSITION", shiny_new_field=7))
    answer = fake_gateway().payment_get(cuit=GW_CUIT, payment_id=PID)
    assert answer.status == "QUANTUM_SUPERPOSITION"
    assert answer.extra["shiny_new_field"] == 7


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (httpx.Response(200, json={"status": "UP"}), True),
        (httpx.Response(200, text=""), True),
        (httpx.Response(200, text="OK"), True),
        (httpx.Response(200, json={"status": "DOWN"}), False),
        (httpx.Response(503, text="Service Unavailable"), False),
    ],
)
def test_liveness(fake_gateway, fake_prisma, answer, expected):
    fake_prisma.on("GET", "/health/liveness", answer)
    assert fake_gateway().liveness() is expected


# --- Error verdicts -----------------------------------------------------------------------------


def test_409_busy_is_a_definite_rejection(fake_gateway, fake_prisma):
    fake_prisma.on(
        "POST",
        PAY,
        httpx.Response(
            409, json=errors_body(409, "409", "La terminal tiene una operación pendiente")
        ),
    )
    with pytest.raises(ProviderRejected) as caught:
        fake_gateway().payment_create(cuit=GW_CUIT, request=payment_request())
    error = caught.value
    assert (error.http_status, error.code) == (409, "409")
    assert error.message == "La terminal tiene una operación pendiente"
    assert not error.retryable and not error.in_doubt
    assert len(fake_prisma.business_requests()) == 1
    assert GatewayCall.objects.exclude(operation="token").get().outcome == "error"


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (httpx.Response(503, text="Service Unavailable"), "Service Unavailable"),
        (
            httpx.Response(
                502, html="<html><body><h1>502 Bad Gateway</h1>\n<p>nginx</p></body></html>"
            ),
            "502 Bad Gateway nginx",
        ),
        (httpx.Response(500, json={"message": "NullPointerException"}), "NullPointerException"),
        (httpx.Response(500, json={"weird": [1]}), '{"weird": [1]}'),
        (httpx.Response(500, content=b""), "Prisma respondió HTTP 500 sin detalle"),
        (httpx.Response(500, text="x" * 1000), "x" * 299 + "…"),
    ],
)
def test_error_bodies_become_readable_messages(fake_gateway, fake_prisma, answer, message):
    fake_prisma.on("GET", PID, answer)
    with pytest.raises(GatewayError) as caught:
        fake_gateway().payment_get(cuit=GW_CUIT, payment_id=PID)
    assert caught.value.message == message
    assert caught.value.retryable


def test_errors_shape_with_acquirer_message(fake_gateway, fake_prisma):
    body = {
        "errors": [
            {
                "status": "400",
                "code": "PAY-400",
                "title": "payment_amount: formato inválido",
                "acquirer_message": "revise",
            }
        ]
    }
    fake_prisma.on("POST", PAY, httpx.Response(400, json=body))
    with pytest.raises(ProviderRejected) as caught:
        fake_gateway().payment_create(cuit=GW_CUIT, request=payment_request())
    assert caught.value.message == "payment_amount: formato inválido — revise"
    assert caught.value.code == "PAY-400"


def test_read_5xx_is_retried_once(fake_gateway, fake_prisma, sleeps):
    fake_prisma.on("GET", PID, httpx.Response(503, text="busy"), payment_answer("CONFIRMED"))
    answer = fake_gateway().payment_get(cuit=GW_CUIT, payment_id=PID)
    assert answer.status == "CONFIRMED"
    assert len(fake_prisma.business_requests()) == 2
    assert sleeps == [0.25]
    rows = GatewayCall.objects.filter(operation="payment_get").order_by("pk")
    assert list(rows.values_list("outcome", "http_status")) == [
        ("retryable", 503),
        ("ok", 200),
    ]


def test_read_5xx_twice_gives_up_retryable(fake_gateway, fake_prisma):
    fake_prisma.on("GET", PID, httpx.Response(500, text="boom"))
    with pytest.raises(GatewayError) as caught:
        fake_gateway().payment_get(cuit=GW_CUIT, payment_id=PID)
    assert caught.value.retryable and not caught.value.in_doubt
    assert len(fake_prisma.business_requests()) == 2


def test_retry_after_is_honoured_up_to_two_seconds(fake_gateway, fake_prisma, sleeps):
    fake_prisma.on(
        "GET", PID, httpx.Response(429, headers={"Retry-After": "1.5"}), payment_answer()
    )
    fake_gateway().payment_get(cuit=GW_CUIT, payment_id=PID)
    assert sleeps == [1.5]


def test_long_retry_after_goes_back_to_the_caller(fake_gateway, fake_prisma, sleeps):
    fake_prisma.on("GET", PID, httpx.Response(503, headers={"Retry-After": "30"}))
    with pytest.raises(GatewayError) as caught:
        fake_gateway().payment_get(cuit=GW_CUIT, payment_id=PID)
    assert caught.value.retryable and caught.value.retry_after == 30
    assert len(fake_prisma.business_requests()) == 1
    assert sleeps == []


def raising(exc_type):
    def answer(request):
        raise exc_type("simulated", request=request)

    return answer


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(500, text="Internal Server Error"),
        httpx.Response(503, text="Service Unavailable", headers={"Retry-After": "1"}),
        raising(httpx.ReadTimeout),
        raising(httpx.RemoteProtocolError),
        raising(httpx.ReadError),
        raising(httpx.WriteTimeout),
    ],
)
def test_create_that_may_have_arrived_is_in_doubt_and_never_resent(
    fake_gateway, fake_prisma, sleeps, answer
):
    fake_prisma.on("POST", PAY, answer, payment_answer())
    with pytest.raises(GatewayError) as caught:
        fake_gateway().payment_create(cuit=GW_CUIT, request=payment_request())
    assert caught.value.in_doubt and not caught.value.retryable
    assert len(fake_prisma.business_requests()) == 1
    assert sleeps == []
    assert GatewayCall.objects.exclude(operation="token").get().outcome == "in_doubt"


@pytest.mark.parametrize("exc_type", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout])
def test_create_that_was_not_sent_is_retryable_but_not_retried(fake_gateway, fake_prisma, exc_type):
    fake_prisma.on("POST", PAY, raising(exc_type), payment_answer())
    with pytest.raises(GatewayError) as caught:
        fake_gateway().payment_create(cuit=GW_CUIT, request=payment_request())
    assert caught.value.retryable and not caught.value.in_doubt
    assert caught.value.http_status is None
    assert len(fake_prisma.business_requests()) == 1
    assert GatewayCall.objects.exclude(operation="token").get().outcome == "retryable"


@pytest.mark.parametrize(
    "body", [{"payment_data": {"payment_status": "PAYMENT_REQUEST"}}, "<html>ok</html>"]
)
def test_create_answer_without_an_id_is_in_doubt(fake_gateway, fake_prisma, body):
    answer = (
        httpx.Response(200, json=body) if isinstance(body, dict) else httpx.Response(200, text=body)
    )
    fake_prisma.on("POST", PAY, answer)
    with pytest.raises(GatewayError) as caught:
        fake_gateway().payment_create(cuit=GW_CUIT, request=payment_request())
    assert caught.value.in_doubt
    row = GatewayCall.objects.exclude(operation="token").get()
    assert (row.http_status, row.outcome) == (200, "in_doubt")


def test_read_connect_error_is_retried_once(fake_gateway, fake_prisma):
    fake_prisma.on("GET", PID, raising(httpx.ConnectError), payment_answer())
    assert fake_gateway().payment_get(cuit=GW_CUIT, payment_id=PID).provider_id == PID
    assert len(fake_prisma.business_requests()) == 2


def test_read_timeout_on_a_read_is_retryable_but_not_waited_again(fake_gateway, fake_prisma):
    fake_prisma.on("GET", PID, raising(httpx.ReadTimeout), payment_answer())
    with pytest.raises(GatewayError) as caught:
        fake_gateway().payment_get(cuit=GW_CUIT, payment_id=PID)
    assert caught.value.retryable and not caught.value.in_doubt
    assert len(fake_prisma.business_requests()) == 1


def test_cancel_is_never_retried(fake_gateway, fake_prisma):
    fake_prisma.on("PUT", "/cancellations", httpx.Response(503, text="x"), payment_answer())
    with pytest.raises(GatewayError) as caught:
        fake_gateway().payment_cancel(cuit=GW_CUIT, payment_id=PID)
    assert not caught.value.in_doubt
    assert len(fake_prisma.business_requests()) == 1


# --- Token --------------------------------------------------------------------------------------


def test_token_request_and_cache(fake_gateway, fake_prisma):
    fake_prisma.on("GET", PID, payment_answer())
    gateway = fake_gateway()
    for _ in range(5):
        gateway.payment_get(cuit=GW_CUIT, payment_id=PID)
    assert fake_prisma.tokens_issued == 1
    token_request = fake_prisma.requests[0]
    assert token_request.method == "GET"
    assert token_request.url.path == "/v1/oauth/accesstoken"
    assert dict(token_request.url.params) == {"grant_type": "client_credentials"}
    expected = base64.b64encode(f"{GW_PUBLIC_KEY}:{GW_SECRET}".encode()).decode()
    assert token_request.headers["authorization"] == f"Basic {expected}"
    assert GatewayCall.objects.filter(operation="token", outcome="ok").count() == 1


def test_token_is_shared_between_gateways_of_one_credential(fake_prisma, db, sleeps):
    credential = make_credential()
    transport = httpx.MockTransport(fake_prisma)
    first = PrismaGateway(credential, transport=transport)
    second = PrismaGateway(credential, transport=transport)
    assert first.token() == second.token()
    assert fake_prisma.tokens_issued == 1


def test_changed_secret_gets_a_new_token(fake_prisma, db):
    credential = make_credential()
    transport = httpx.MockTransport(fake_prisma)
    before = PrismaGateway(credential, transport=transport).token()
    credential.set_secret("another-secret-value")
    credential.save()
    after = PrismaGateway(credential, transport=transport).token()
    assert before != after
    assert fake_prisma.tokens_issued == 2


def test_token_is_renewed_shortly_before_expiry(fake_gateway, fake_prisma):
    fake_prisma.on("GET", PID, payment_answer())
    gateway = fake_gateway()
    with time_machine.travel(datetime(2026, 11, 27, 12, tzinfo=UTC), tick=False) as traveller:
        gateway.payment_get(cuit=GW_CUIT, payment_id=PID)
        traveller.shift(timedelta(seconds=3500))
        gateway.payment_get(cuit=GW_CUIT, payment_id=PID)
        assert fake_prisma.tokens_issued == 1
        traveller.shift(timedelta(seconds=45))  # 3545 s: inside the last minute of 3599
        gateway.payment_get(cuit=GW_CUIT, payment_id=PID)
        assert fake_prisma.tokens_issued == 2


def test_a_token_read_once_is_used_without_asking_the_cache_again(
    fake_gateway, fake_prisma, monkeypatch
):
    """The shared cache is read once per token (its expiry is kept with it), not on every
    provider call; when that entry would have ended, the cache is asked again."""
    fake_prisma.on("GET", PID, payment_answer())
    gateway = fake_gateway()
    reads: list[str] = []
    cache_get = type(gateway)._cache_get
    monkeypatch.setattr(
        type(gateway), "_cache_get", lambda self, key: reads.append(key) or cache_get(self, key)
    )
    with time_machine.travel(datetime(2026, 11, 27, 12, tzinfo=UTC), tick=False) as traveller:
        gateway.payment_get(cuit=GW_CUIT, payment_id=PID)  # fetches and stores the token
        reads.clear()
        for _ in range(5):
            gateway.payment_get(cuit=GW_CUIT, payment_id=PID)
        assert reads == [] and fake_prisma.tokens_issued == 1
        traveller.shift(timedelta(seconds=3545))  # the cache entry has ended (3599 - 60 s)
        gateway.payment_get(cuit=GW_CUIT, payment_id=PID)
        assert gateway._token_key in reads and fake_prisma.tokens_issued == 2


def test_a_token_from_another_process_is_remembered_until_its_entry_ends(fake_prisma, db):
    credential = make_credential()
    transport = httpx.MockTransport(fake_prisma)
    first = PrismaGateway(credential, transport=transport)
    second = PrismaGateway(credential, transport=transport)
    with time_machine.travel(datetime(2026, 11, 27, 12, tzinfo=UTC), tick=False) as traveller:
        token = first.token()
        assert second.token() == token  # from the shared cache
        cache.delete(first._token_key)  # the entry is gone: the remembered token still serves
        assert second.token() == token and fake_prisma.tokens_issued == 1
        traveller.shift(timedelta(seconds=3545))  # past the end of the entry it was read from
        assert second.token() != token and fake_prisma.tokens_issued == 2


def test_the_previous_releases_bare_token_entry_is_not_read(fake_gateway, fake_prisma):
    """The entry's format changed (token and expiry): it has a key of its own, so during a
    rolling deploy neither release reads the other's value as a token."""
    gateway = fake_gateway()
    old_key = gateway._token_key.replace(":v2:", ":")
    assert old_key != gateway._token_key
    cache.set(old_key, "token-of-the-previous-release", 600)
    assert gateway.token() != "token-of-the-previous-release"
    assert fake_prisma.tokens_issued == 1
    assert cache.get(old_key) == "token-of-the-previous-release", "left to that release"
    token, until = cache.get(gateway._token_key)
    assert token == gateway.token() and until > time.time()


def test_a_remembered_token_the_provider_revoked_is_renewed_once(fake_gateway, fake_prisma):
    fake_prisma.on("GET", PID, payment_answer())
    gateway = fake_gateway()
    gateway.payment_get(cuit=GW_CUIT, payment_id=PID)
    fake_prisma.revoke_all()  # e.g. renewed by another process
    gateway.payment_get(cuit=GW_CUIT, payment_id=PID)
    gateway.payment_get(cuit=GW_CUIT, payment_id=PID)
    assert fake_prisma.tokens_issued == 2
    assert len(fake_prisma.business_requests()) == 4  # one refused with 401, then replayed


def test_401_renews_the_token_once_and_replays(fake_gateway, fake_prisma):
    fake_prisma.on("POST", PAY, payment_answer())
    gateway = fake_gateway()
    gateway.token()
    fake_prisma.revoke_all()
    answer = gateway.payment_create(cuit=GW_CUIT, request=payment_request())
    assert answer.provider_id == PID
    assert fake_prisma.tokens_issued == 2
    assert len(fake_prisma.business_requests()) == 2  # the refused one and the replay
    outcomes = list(
        GatewayCall.objects.filter(operation="payment_create")
        .order_by("pk")
        .values_list("http_status", "outcome")
    )
    assert outcomes == [(401, "retryable"), (200, "ok")]


def test_401_after_renewal_is_an_authentication_failure(fake_gateway, fake_prisma):
    fake_prisma.on("GET", PID, httpx.Response(401, json=errors_body(401, "401", "no")))
    with pytest.raises(AuthenticationFailed) as caught:
        fake_gateway().payment_get(cuit=GW_CUIT, payment_id=PID)
    assert not caught.value.retryable and not caught.value.in_doubt
    assert len(fake_prisma.business_requests()) == 2
    assert fake_prisma.tokens_issued == 2


def test_wrong_keys(fake_gateway, fake_prisma):
    fake_prisma.token_status = 401
    gateway = fake_gateway()
    with pytest.raises(AuthenticationFailed) as caught:
        gateway.payment_create(cuit=GW_CUIT, request=payment_request())
    assert caught.value.code == "OAU-401"
    assert "CREDENTIAL NO EXIST" in caught.value.message
    assert fake_prisma.business_requests() == []
    assert len(fake_prisma.requests) == 1  # a 401 on the token is not repeated


def test_one_token_request_at_a_time_across_threads(db, fake_prisma):
    credential = make_credential()
    started = threading.Event()

    def slow(request):
        started.set()
        time.sleep(0.2)
        return fake_prisma(request)

    gateway = PrismaGateway(credential, transport=httpx.MockTransport(slow))
    gateway._record = lambda *args, **kwargs: None  # rows are not the point; threads + SQLite
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(gateway.token())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert len(results) == 8 and len(set(results)) == 1
    assert fake_prisma.tokens_issued == 1


def test_another_process_holding_the_token_lock_is_waited_for(db, fake_prisma):
    credential = make_credential()
    gateway = PrismaGateway(credential, transport=httpx.MockTransport(fake_prisma))
    cache.add(gateway._token_lock_key, 1, timeout=10)  # "another process" is fetching

    def other_process_finishes():
        time.sleep(0.2)
        cache.set(gateway._token_key, "token-from-elsewhere", 60)
        cache.delete(gateway._token_lock_key)

    threading.Thread(target=other_process_finishes).start()
    assert gateway.token() == "token-from-elsewhere"
    assert fake_prisma.tokens_issued == 0


# --- Records and secrets ------------------------------------------------------------------------


def test_call_rows_link_the_intent(fake_gateway, fake_prisma, gw_merchant):
    gateway = fake_gateway()
    store = Store.objects.create(merchant=gw_merchant, name="Centro", code="centro-gw")
    credential = Credential.objects.get(pk=gateway.credential_id)
    intent = make_intent(store, credential=credential, amount=Decimal("1"))
    fake_prisma.on("GET", PID, payment_answer())
    gateway.payment_get(cuit=GW_CUIT, payment_id=PID, intent_id=intent.pk)
    row = GatewayCall.objects.get(operation="payment_get")
    assert row.intent_id == intent.pk
    assert row.credential_id == gateway.credential_id
    assert row.duration_ms >= 0
    assert GatewayCall.objects.get(operation="token").intent_id is None  # serves many intents


def test_secrets_and_tokens_never_reach_rows_or_logs(fake_gateway, fake_prisma, caplog):
    caplog.set_level(logging.DEBUG)

    def echo_token(request):
        # A provider that echoes the Authorization header back in an error.
        return httpx.Response(500, text=f"bad header {request.headers['authorization']}")

    fake_prisma.on("GET", PID, payment_answer())
    fake_prisma.on("POST", PAY, echo_token)
    gateway = fake_gateway()
    gateway.payment_get(cuit=GW_CUIT, payment_id=PID)
    fake_prisma.revoke_all()
    gateway.payment_get(cuit=GW_CUIT, payment_id=PID)
    with pytest.raises(GatewayError) as caught:
        gateway.payment_create(cuit=GW_CUIT, request=payment_request())
    tokens = fake_prisma.valid_tokens | {
        r.headers.get("authorization", "").removeprefix("Bearer ") for r in fake_prisma.requests
    }
    tokens.discard("")
    basic = base64.b64encode(f"{GW_PUBLIC_KEY}:{GW_SECRET}".encode()).decode()
    rows = " ".join(
        f"{r.operation} {r.method} {r.path} {r.error}" for r in GatewayCall.objects.all()
    )
    assert GatewayCall.objects.count() >= 5
    assert caplog.records, "the gateway must log its calls"
    for haystack in (rows, caplog.text, str(caught.value), repr(caught.value), repr(gateway)):
        assert GW_SECRET not in haystack
        assert basic not in haystack
        for token in tokens:
            assert token.removeprefix("Basic ") not in haystack
    assert "***" in str(caught.value)


# --- gateway_for --------------------------------------------------------------------------------


def test_gateway_for_reuses_and_rebuilds(db):
    credential = make_credential()
    first = gateway_for(credential)
    assert gateway_for(credential) is first
    credential.name = "otro nombre"
    credential.save()
    assert gateway_for(credential) is not first


def test_gateway_client_has_explicit_timeouts(db, settings):
    settings.ECR_GATEWAY_CONNECT_TIMEOUT_MS = 1500
    settings.ECR_GATEWAY_READ_TIMEOUT_MS = 7000
    gateway = PrismaGateway(make_credential())
    timeout = gateway._client.timeout
    assert (timeout.connect, timeout.read, timeout.pool) == (1.5, 7.0, 1.5)
    gateway.close()
