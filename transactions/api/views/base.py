"""The base of every POS API view: API-key auth, per-key throttle, JSON only, problem+json, and
the idempotent POST that runs at most once per Idempotency-Key and replays its answer.

Every lookup is scoped to the key's store (404 outside it); every error is problem+json (see
`transactions.api.problems`).
"""

import json
import uuid
from contextvars import ContextVar

from django.db import DatabaseError
from django.db.models import prefetch_related_objects
from django.http import Http404
from rest_framework import exceptions, serializers, status
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from transactions import selectors, services
from transactions.api.auth import ApiKeyAuthentication, HasPosClient
from transactions.api.idempotency import (
    HEADER,
    idempotency_claim,
    idempotency_finish,
    idempotency_forget_if_abandoned,
    idempotency_key_is_valid,
    idempotency_link,
    idempotency_release,
    idempotency_release_unless_linked,
    refusal_is_retryable,
    request_fingerprint,
)
from transactions.api.models import IdempotencyRecord
from transactions.api.problems import ApiProblem, problem_exception_handler
from transactions.errors import Code, IntentRuleError
from transactions.intent_document import intent_document
from transactions.models import Intent


class SafeJSONParser(JSONParser):
    """JSON that nests too deep is bad input (400), not a crash: Python's parser raises
    RecursionError, which DRF does not turn into a ParseError."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON demasiado anidado.") from exc


class PosApiView(APIView):
    """Base of every POS API view: API-key auth, per-key throttle, JSON only, problem+json."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasPosClient]
    renderer_classes = [JSONRenderer]
    parser_classes = [SafeJSONParser]

    def get_throttles(self):
        from transactions.api.throttling import PosClientRateThrottle

        return [PosClientRateThrottle()]

    def get_exception_handler(self):
        # Ours regardless of the project-wide setting: the API's error shape is its contract.
        return problem_exception_handler

    @property
    def pos_client(self):
        return self.request.auth

    def intent_or_404(self, public_id: str, *, kind: str | None = None) -> Intent:
        intent = selectors.intent_get_for_pos(
            pos_client=self.pos_client, public_id=public_uuid_or_404(public_id)
        )
        if kind is not None and intent.kind != kind:
            raise Http404("Intención no encontrada")
        return intent


def public_uuid_or_404(public_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(public_id)
    except ValueError as exc:
        raise Http404("Intención no encontrada") from exc


# Exceptions that mean "nothing ran": the idempotency key is released, not answered.
_NOTHING_RAN = (serializers.ValidationError, Http404, exceptions.NotFound, ApiProblem)


class IdempotentPostMixin:
    """Runs `perform_post` at most once per Idempotency-Key and replays its answer."""

    def perform_post(self, request, *args, **kwargs) -> tuple[Response, int | None]:
        raise NotImplementedError

    def post(self, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if not key:
            raise ApiProblem(
                Code.IDEMPOTENCY_KEY_MISSING,
                "Todo POST necesita el encabezado Idempotency-Key (p. ej. un UUID nuevo por "
                "operación).",
                field=HEADER,
            )
        if not idempotency_key_is_valid(key):
            raise ApiProblem(
                Code.IDEMPOTENCY_KEY_INVALID,
                "Idempotency-Key: de 1 a 255 caracteres ASCII visibles, sin espacios.",
                field=HEADER,
            )
        fingerprint = request_fingerprint(
            method=request.method, path=request.path, data=request.data
        )
        record, claimed = idempotency_claim(
            pos_client=self.pos_client,
            key=key,
            method=request.method,
            path=request.path,
            fingerprint=fingerprint,
        )
        if not claimed and idempotency_forget_if_abandoned(record=record):
            # The request that held the key died before creating anything: start over.
            record, claimed = idempotency_claim(
                pos_client=self.pos_client,
                key=key,
                method=request.method,
                path=request.path,
                fingerprint=fingerprint,
            )
        if not claimed:
            return self._answer_existing(record, fingerprint)
        answered: dict = {}

        def store_answer(intent: Intent) -> None:
            # In the transaction that records the provider's answer: the key's answer (the
            # intent's document, as `intent_response` answers it) commits with it.
            data = intent_document(intent=intent)
            idempotency_finish(
                record=record,
                status_code=status.HTTP_201_CREATED,
                body=_json_body(data),
                content_type="application/json",
                intent_id=intent.pk,
            )
            answered.update(intent=intent, updated_at=intent.updated_at, data=data)

        token = _answered_document.set(answered)
        try:
            with (
                services.intent_created_listener(
                    lambda intent: idempotency_link(record=record, intent=intent)
                ),
                services.intent_answered_listener(store_answer),
            ):
                response, intent_id = self.perform_post(request, *args, **kwargs)
        except _NOTHING_RAN:
            idempotency_release(record=record)
            raise
        except IntentRuleError as exc:
            response = problem_exception_handler(exc, self.get_exception_handler_context())
            if refusal_is_retryable(exc.code):
                # Nothing was created at the provider and the same request may succeed later
                # (the provider was down, the terminal busy): answered, but not the key's final
                # answer, so the POS's retry with the same key runs again.
                idempotency_release(record=record)
                return response
            # Any other refusal by the rules is the request's answer: a replay gets it again.
            intent_id = exc.intent_id
        except Exception:
            # Unexpected (a crash, the database cut): never make it the key's permanent answer.
            # If an intent was committed, its key was linked in the same transaction and keeps
            # pointing at it (a replay answers that intent); otherwise the key is freed. This
            # runs on a fresh connection when the request's own one died.
            idempotency_release_unless_linked(record=record)
            raise
        finally:
            _answered_document.reset(token)
        stored = getattr(response, "stored_data", response.data)
        if (
            answered
            and stored is answered["data"]
            and response.status_code == status.HTTP_201_CREATED
            and intent_id == answered["intent"].pk
        ):
            return response  # the key's answer is this very document, already committed
        body = _json_body(stored)
        try:
            idempotency_finish(
                record=record,
                status_code=response.status_code,
                body=body,
                content_type=response.content_type or "application/json",
                intent_id=intent_id,
            )
        except DatabaseError:
            # The answer could not be stored (the database went away after the work was done):
            # a key linked to its intent keeps answering it; one that created nothing is freed
            # instead of being held "in progress" until it is forgotten.
            idempotency_release_unless_linked(record=record)
            raise
        return response

    def _answer_existing(self, record: IdempotencyRecord, fingerprint: str) -> Response:
        if record.fingerprint != fingerprint:
            raise ApiProblem(
                Code.IDEMPOTENCY_KEY_REUSED,
                "Este Idempotency-Key ya se usó con otro pedido (otra ruta o cuerpo). Use una "
                "clave nueva para cada operación.",
                field=HEADER,
            )
        if record.state == IdempotencyRecord.State.IN_PROGRESS and record.intent_id:
            # Still running (or its process died mid-call) but the intent exists: answer what is
            # known of it instead of making the POS wait or guess.
            intent = Intent.objects.get(pk=record.intent_id)
            response, _ = intent_response(intent, status.HTTP_201_CREATED)
            response.headers["Idempotent-Replayed"] = "true"
            return response
        if record.state == IdempotencyRecord.State.IN_PROGRESS:
            raise ApiProblem(
                Code.IDEMPOTENCY_REQUEST_IN_PROGRESS,
                "Un pedido con este Idempotency-Key todavía está en curso. Reintente en un "
                "momento.",
                headers={"Retry-After": "1"},
            )
        return Response(
            record.response_body,
            status=record.response_status,
            content_type=record.response_content_type or None,
            headers={"Idempotent-Replayed": "true"},
        )


def _json_body(data):
    """What a key's stored answer holds: the answer as its JSON reads back."""
    return json.loads(JSONRenderer().render(data) or b"null")


# The document an idempotent POST stored as its key's answer in the answer's own transaction
# (`IdempotentPostMixin.post`): `intent_response` answers that very object for the same intent,
# unchanged since, so the mixin can tell the stored answer is the one sent.
_answered_document: ContextVar[dict | None] = ContextVar("answered_document", default=None)


def intent_response(
    intent: Intent, status_code: int, *, reload: bool = True
) -> tuple[Response, int]:
    """The intent's JSON. `reload=False` for an intent that is up to date in memory: one the
    create pipeline returns (every write it made is applied to the object too, and the offered
    terminals it inserted are remembered) or one just read; otherwise the row is re-read."""
    answered = _answered_document.get()
    if (
        not reload
        and answered
        and answered["intent"] is intent
        and answered["updated_at"] == intent.updated_at
    ):
        data = answered["data"]
    else:
        if reload:
            intent = (
                Intent.objects.select_related("terminal", "original")
                .prefetch_related("offered_terminals")
                .get(pk=intent.pk)
            )
        else:
            prefetch_related_objects([intent], "offered_terminals")
        data = intent_document(intent=intent)
    # 202: a refund or reversal waiting for approval (maker-checker) has a Location too.
    created = status_code in (status.HTTP_201_CREATED, status.HTTP_202_ACCEPTED)
    headers = {"Location": data["links"]["self"]} if created else {}
    return Response(data, status=status_code, headers=headers), intent.pk


def valid_input(serializer_class, data, *, store) -> dict:
    serializer = serializer_class(data=data, context={"store": store})
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
