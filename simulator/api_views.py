"""The provider's HTTP API: OAuth, liveness and the four families (contract §1-§4).

Plain Django views returning JSON; 200 on success (creates included), errors in the contract's
shape. Every call goes through `api_endpoint`, which in this order: counts the call, sleeps
`latency_ms`, answers 500/503 for a fraction `error_rate` of calls (before doing anything), checks
the method (405) and the Bearer token (401), runs the view, and finally drops the answer for a
fraction `drop_rate` of successful calls (the state change is already committed).

A dropped ("lost") answer, also used by the autopilot's magic cents .55 on creates: the view shuts
the client's TCP connection down (shutdown(SHUT_RDWR) on the request's socket) without writing a
byte, so an httpx client sees `httpx.RemoteProtocolError` ("Server disconnected without sending a
response."). When the socket cannot be reached (Django's test client, ASGI) the view sleeps
`lost_answer_sleep_ms` (default 30 s, past the client's read timeout) and then answers
504 text/plain `Gateway Timeout`.

Search (`POST .../payments/searches?cuit_cuil=`; the real body is unknown, this is ours):

    {"date_from": "2026-11-27T00:00:00-03:00",   # required, ISO-8601; no offset = Argentina
     "date_to":   "2026-11-27T23:59:59-03:00",   # required, window at most 31 days
     "ecr_transaction_id": "POS7-000004411",     # optional, exact match
     "terminal_id": "38011128"}                  # optional: offered to or taken by it

answers 200 `{"payments": [{"payment_request_data": ..., "payment_data": ...}, ...]}` with the
payments of the credential's merchant and environment requested in the window (by
`payment_request_date`), newest first, at most 200. An optional `subnet_acquirer_id` in the query
must match the credential.
"""

import base64
import binascii
import contextlib
import json
import secrets
import socket
import time
from datetime import timedelta
from functools import wraps

from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from simulator import answers, engine, services, validation
from simulator.errors import SimError, error_response, unauthorized
from simulator.models import SimCredential, SimIntention, SimToken

Kind = SimIntention.Kind


# --- The envelope every call goes through ---------------------------------------------------


def _peek_ecr_transaction_id(request) -> str | None:
    """The create's reference, for the counters; best effort (the body may be invalid)."""
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(body, dict):
        return None
    for wrapper in ("payment_request_data", "reversal_request_data"):
        if isinstance(body.get(wrapper), dict):
            return body[wrapper].get("ecr_transaction_id")
    return body.get("ecr_transaction_id")


def _authenticate(request) -> SimCredential:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized()
    found = (
        SimToken.objects.filter(access_token=token.strip(), expires_at__gt=timezone.now())
        .select_related("credential")
        .first()
    )
    if found is None:
        raise unauthorized()
    return found.credential


def _client_socket(request):
    """The TCP socket of this request, when the WSGI server lets us reach it."""
    environ = request.environ
    if environ.get("gunicorn.socket") is not None:
        return environ["gunicorn.socket"]
    # Django's runserver and live server: wsgi.input is a LimitedStream over the socket's rfile.
    try:
        rfile = environ["wsgi.input"]._read.__self__
        sock = rfile.raw._sock
    except (AttributeError, KeyError):
        return None
    return sock if isinstance(sock, socket.socket) else None


def lost_answer(request, sleep_ms: int) -> HttpResponse:
    """Make sure the client never receives this answer (the state change stays)."""
    sock = _client_socket(request)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        # Nothing reaches the client any more; the server fails quietly writing this.
        return HttpResponse(status=504)
    time.sleep(sleep_ms / 1000)
    return HttpResponse("Gateway Timeout", status=504, content_type="text/plain; charset=utf-8")


def api_endpoint(operation: str, *, methods: tuple[str, ...], auth: bool = True):
    def decorator(view):
        @csrf_exempt
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            state = services.state_get()
            is_create = operation in services.CREATE_OPERATIONS
            if is_create and auth and request.method in methods:
                # A create is counted only once its token is accepted: one refused with 401
                # reached nothing (the portal renews its token and sends it again), so the
                # counters' "creates per ecr_transaction_id" stay the creates that could act.
                try:
                    request.sim_credential = _authenticate(request)
                except SimError as error:
                    return error_response(error, plain_text=state.plain_text_errors)
            services.call_record(
                operation=operation,
                ecr_transaction_id=_peek_ecr_transaction_id(request) if is_create else None,
                intention_id=kwargs.get("pk"),
            )
            if state.latency_ms:
                time.sleep(state.latency_ms / 1000)
            if state.error_rate > 0:
                dice = services.roll()
                if dice < state.error_rate:
                    status = 500 if dice < state.error_rate / 2 else 503
                    title = "Error interno" if status == 500 else "Servicio no disponible"
                    return error_response(
                        SimError(status, title), plain_text=state.plain_text_errors
                    )
            try:
                if request.method not in methods:
                    raise SimError(405, "Método no soportado")
                if auth and not hasattr(request, "sim_credential"):
                    request.sim_credential = _authenticate(request)
                response = view(request, *args, **kwargs)
            except SimError as error:
                return error_response(error, plain_text=state.plain_text_errors)
            lose = getattr(request, "sim_lose_answer", False)
            if not lose and response.status_code < 300 and state.drop_rate > 0:
                lose = services.roll() < state.drop_rate
            if lose:
                return lost_answer(request, state.lost_answer_sleep_ms)
            return response

        return wrapper

    return decorator


def _answer(request, body: dict, *, lose: bool = False) -> JsonResponse:
    request.sim_lose_answer = lose
    return JsonResponse(body)


# --- OAuth and liveness -------------------------------------------------------------------


def _oauth_refused() -> SimError:
    return SimError(401, "CREDENTIAL NO EXIST", code="OAU-401")


@api_endpoint("token", methods=("GET",), auth=False)
def access_token(request):
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if request.GET.get("grant_type") != "client_credentials" or scheme.lower() != "basic":
        raise _oauth_refused()
    try:
        public_key, _, secret_key = base64.b64decode(encoded).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise _oauth_refused() from None
    credential = SimCredential.objects.filter(public_key=public_key).first()
    if credential is None or not secrets.compare_digest(credential.secret_key, secret_key):
        raise _oauth_refused()
    now = timezone.now()
    ttl = services.state_get().token_ttl_seconds
    token = SimToken.objects.create(
        access_token=secrets.token_urlsafe(32),
        credential=credential,
        issued_at=now,
        expires_at=now + timedelta(seconds=ttl),
    )
    return JsonResponse(
        {
            "token_type": "Bearer",
            "access_token": token.access_token,
            "expires_in": ttl,
            "scope": "paystore_terminals",
            "apiKey": credential.public_key,
        }
    )


@api_endpoint("liveness", methods=("GET",))
def liveness(request):
    return JsonResponse({"status": "UP"})


# --- Payments ------------------------------------------------------------------------------


@api_endpoint("payment_create", methods=("POST",))
def payment_create(request):
    credential = request.sim_credential
    validation.check_cuit(request, credential)
    data = validation.json_body(request).get("payment_request_data")
    clean = validation.payment_request(data, credential)
    with engine.locked():
        now = timezone.now()
        engine.advance_due(now)
        intention, lose = engine.payment_create(
            credential=credential, request_data=data, clean=clean, now=now
        )
        body = answers.payment_answer(intention)
    return _answer(request, body, lose=lose)


def _read(request, kind: str, pk: str) -> SimIntention:
    credential = request.sim_credential
    validation.check_query(request, credential)
    with engine.locked():
        engine.advance_due(timezone.now())
        return engine.intention_get(credential=credential, kind=kind, pk=pk)


def _cancel(request, kind: str, pk: str) -> SimIntention:
    credential = request.sim_credential
    validation.check_query(request, credential)
    with engine.locked():
        now = timezone.now()
        engine.advance_due(now)
        intention = engine.intention_get(credential=credential, kind=kind, pk=pk)
        return engine.intention_cancel(intention=intention, now=now)


@api_endpoint("payment_get", methods=("GET",))
def payment_get(request, pk):
    return _answer(request, answers.payment_answer(_read(request, Kind.PAYMENT, pk)))


@api_endpoint("payment_cancel", methods=("PUT",))
def payment_cancel(request, pk):
    return _answer(request, answers.payment_answer(_cancel(request, Kind.PAYMENT, pk)))


@api_endpoint("payment_search", methods=("POST",))
def payment_search(request):
    credential = request.sim_credential
    validation.check_cuit(request, credential)
    if "subnet_acquirer_id" in request.GET:
        validation.check_subnet(request.GET["subnet_acquirer_id"], credential)
    criteria = validation.search_request(validation.json_body(request))
    with engine.locked():
        engine.advance_due(timezone.now())
        found = engine.payments_search(credential=credential, **criteria)
        body = {"payments": [answers.payment_answer(intention) for intention in found]}
    return _answer(request, body)


# --- Reversals -----------------------------------------------------------------------------


@api_endpoint("reversal_create", methods=("POST",))
def reversal_create(request):
    credential = request.sim_credential
    validation.check_cuit(request, credential)
    data = validation.json_body(request).get("reversal_request_data")
    clean = validation.reversal_request(data, credential)
    with engine.locked():
        now = timezone.now()
        engine.advance_due(now)
        intention, lose = engine.reversal_create(
            credential=credential, request_data=data, clean=clean, now=now
        )
        body = answers.reversal_answer(intention, with_payment=False)
    return _answer(request, body, lose=lose)


@api_endpoint("reversal_get", methods=("GET",))
def reversal_get(request, pk):
    intention = _read(request, Kind.REVERSAL, pk)
    return _answer(request, answers.reversal_answer(intention, with_payment=True))


@api_endpoint("reversal_cancel", methods=("PUT",))
def reversal_cancel(request, pk):
    intention = _cancel(request, Kind.REVERSAL, pk)
    return _answer(request, answers.reversal_answer(intention, with_payment=True))


# --- Refunds -------------------------------------------------------------------------------


@api_endpoint("refund_create", methods=("POST",))
def refund_create(request):
    credential = request.sim_credential
    validation.check_cuit(request, credential)
    data = validation.json_body(request)
    clean = validation.refund_request(data, credential)
    with engine.locked():
        now = timezone.now()
        engine.advance_due(now)
        intention, lose = engine.refund_create(
            credential=credential, request_data=data, clean=clean, now=now
        )
        body = answers.refund_create_answer(intention)
    return _answer(request, body, lose=lose)


@api_endpoint("refund_get", methods=("GET",))
def refund_get(request, pk):
    return _answer(request, answers.refund_answer(_read(request, Kind.REFUND, pk)))


@api_endpoint("refund_cancel", methods=("PUT",))
def refund_cancel(request, pk):
    return _answer(request, answers.refund_answer(_cancel(request, Kind.REFUND, pk)))


# --- Settlements ---------------------------------------------------------------------------


@api_endpoint("settlement_create", methods=("POST",))
def settlement_create(request):
    credential = request.sim_credential
    query = validation.settlement_query(request, credential)
    with engine.locked():
        now = timezone.now()
        engine.advance_due(now)
        intention = engine.settlement_create(credential=credential, now=now, **query)
        body = answers.settlement_create_answer(intention)
    return _answer(request, body)


@api_endpoint("settlement_get", methods=("GET",))
def settlement_get(request, pk):
    return _answer(request, answers.settlement_answer(_read(request, Kind.SETTLEMENT, pk)))
