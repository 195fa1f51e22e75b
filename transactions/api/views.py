"""Thin views of the POS API: authenticate, parse, call a service or selector, serialize.

Every lookup is scoped to the key's store (404 outside it); every POST is idempotent (see
`transactions.api.idempotency`); every error is problem+json (see `transactions.api.problems`).
"""

import json
import uuid
from datetime import UTC

import django_filters
from django.db.models import prefetch_related_objects
from django.http import Http404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, serializers, status
from rest_framework.exceptions import ParseError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from transactions import selectors, services
from transactions.api import schema_docs as docs
from transactions.api.auth import ApiKeyAuthentication, HasPosClient
from transactions.api.idempotency import (
    HEADER,
    idempotency_claim,
    idempotency_finish,
    idempotency_forget_if_abandoned,
    idempotency_key_is_valid,
    idempotency_link,
    idempotency_release,
    request_fingerprint,
)
from transactions.api.models import IdempotencyRecord
from transactions.api.problems import ApiProblem, problem_exception_handler
from transactions.api.serializers import (
    IntentOutputSerializer,
    PaymentInputSerializer,
    PingSerializer,
    RefundInputSerializer,
    ReversalInputSerializer,
    SettlementInputSerializer,
    TerminalOutputSerializer,
    WaitQuerySerializer,
    WebhookCreatedSerializer,
    WebhookInputSerializer,
    WebhookOutputSerializer,
)
from transactions.errors import Code, IntentRuleError
from transactions.models import Intent
from transactions.states import Kind, State
from transactions.webhooks.models import WebhookEndpoint
from transactions.webhooks.selectors import webhook_endpoint_for_pos_client
from transactions.webhooks.services import (
    WebhookUrlInvalid,
    webhook_endpoint_delete,
    webhook_endpoint_register,
)


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
        try:
            uid = uuid.UUID(public_id)
        except ValueError as exc:
            raise Http404("Intención no encontrada") from exc
        intent = selectors.intent_get_for_pos(pos_client=self.pos_client, public_id=uid)
        if kind is not None and intent.kind != kind:
            raise Http404("Intención no encontrada")
        return intent


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
        try:
            with services.intent_created_listener(
                lambda intent: idempotency_link(record=record, intent=intent)
            ):
                response, intent_id = self.perform_post(request, *args, **kwargs)
        except _NOTHING_RAN:
            idempotency_release(record=record)
            raise
        except IntentRuleError as exc:
            # A refusal by the rules is the request's answer: a replay gets it again.
            response = problem_exception_handler(exc, self.get_exception_handler_context())
            intent = getattr(exc, "intent", None)
            intent_id = intent.pk if intent is not None else None
        except Exception:
            # Unexpected: never make it the key's permanent answer. If an intent was created,
            # the key keeps pointing at it (a replay answers that intent); otherwise it is freed.
            record.refresh_from_db(fields=["intent"])
            if record.intent_id is None:
                idempotency_release(record=record)
            raise
        stored = getattr(response, "stored_data", response.data)
        body = json.loads(JSONRenderer().render(stored) or b"null")
        idempotency_finish(
            record=record,
            status_code=response.status_code,
            body=body,
            content_type=response.content_type or "application/json",
            intent_id=intent_id,
        )
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
            response, _ = _intent_response(intent, status.HTTP_201_CREATED)
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


def _intent_response(
    intent: Intent, status_code: int, *, reload: bool = True
) -> tuple[Response, int]:
    """The intent's JSON. After a service call the row is re-read (the service changed it in
    several writes); a freshly selected row only needs its offered terminals."""
    if reload:
        intent = (
            Intent.objects.select_related("terminal", "original")
            .prefetch_related("offered_terminals")
            .get(pk=intent.pk)
        )
    else:
        prefetch_related_objects([intent], "offered_terminals")
    data = IntentOutputSerializer(intent).data
    headers = {"Location": data["links"]["self"]} if status_code == status.HTTP_201_CREATED else {}
    return Response(data, status=status_code, headers=headers), intent.pk


# --- Endpoints -------------------------------------------------------------------------------


class PingView(PosApiView):
    error_codes: tuple[Code, ...] = ()

    @extend_schema(
        operation_id="ping",
        summary="Comprobar la clave",
        description="Responde si la clave es válida. No consulta a Prisma.",
        responses={200: PingSerializer, **docs.problems(*error_codes)},
        tags=["Sistema"],
    )
    def get(self, request):
        return Response(
            {"ok": True, "store": self.pos_client.store.name, "pos_client": self.pos_client.name}
        )


class TerminalListView(PosApiView):
    error_codes: tuple[Code, ...] = ()

    @extend_schema(
        operation_id="terminals_list",
        summary="Terminales de la sucursal",
        description="Las terminales de la sucursal de la clave con su estado en vivo: `idle` "
        "(libre), `busy` (con una intención en curso, en `current_intent`) o `disabled`.",
        responses={200: TerminalOutputSerializer(many=True), **docs.problems(*error_codes)},
        tags=["Terminales"],
    )
    def get(self, request):
        states = selectors.terminal_states_for_store(store=self.pos_client.store)
        return Response(TerminalOutputSerializer(states, many=True).data)


class PaymentCreateView(IdempotentPostMixin, PosApiView):
    error_codes = (
        *docs.IDEMPOTENT_POST,
        Code.VALIDATION_ERROR,
        Code.AMOUNT_INVALID,
        Code.AMOUNT_TOO_LARGE,
        Code.INSTALLMENTS_INVALID,
        Code.BRAND_INVALID,
        Code.METHOD_INVALID,
        Code.TEXT_INVALID,
        Code.TERMINAL_NOT_IN_STORE,
        Code.TERMINAL_DISABLED,
        Code.REFERENCE_IN_USE,
        *docs.PROVIDER_CREATE,
    )

    @extend_schema(
        operation_id="payments_create",
        summary="Cobrar",
        description=docs.PAYMENT_CREATE,
        parameters=[docs.IDEMPOTENCY_PARAMETER],
        request=PaymentInputSerializer,
        responses={
            201: OpenApiResponse(IntentOutputSerializer, examples=[docs.INTENT_PENDING_EXAMPLE]),
            **docs.problems(*error_codes),
        },
        examples=[docs.PAYMENT_REQUEST_EXAMPLE, docs.PAYMENT_MULTI_REQUEST_EXAMPLE],
        tags=["Cobros"],
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    def perform_post(self, request, *args, **kwargs):
        store = self.pos_client.store
        data = _valid(PaymentInputSerializer, request.data, store=store)
        intent = services.payment_create(
            store=store,
            terminals=data["terminals"],
            amount=data["amount"],
            installments=data["installments"],
            brand=data["brand"],
            method=data["method"],
            reference=data["reference"],
            menu_text=data["menu_text"],
            print_copies=data["print_copies"],
            receipt_notes=data["notes"],
            pos_client=self.pos_client,
        )
        return _intent_response(intent, status.HTTP_201_CREATED)


class IntentFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=Kind.choices, help_text="payment, reversal, ...")
    state = django_filters.ChoiceFilter(choices=State.choices)
    terminal = django_filters.UUIDFilter(
        field_name="offered_terminals__public_id", help_text="UUID de una terminal."
    )
    reference = django_filters.CharFilter(field_name="reference", max_length=64)
    created_from = django_filters.IsoDateTimeFilter(
        method="filter_created", help_text="ISO 8601, inclusive."
    )
    created_to = django_filters.IsoDateTimeFilter(
        method="filter_created", help_text="ISO 8601, exclusive."
    )

    class Meta:
        model = Intent
        fields = ["kind", "state", "terminal", "reference", "created_from", "created_to"]

    def filter_created(self, queryset, name, value):
        # In UTC: Python accepts offsets up to ±24 h, PostgreSQL refuses beyond ±15:59 (found
        # by schemathesis), and a date near year 1 may not convert at all.
        try:
            value = value.astimezone(UTC)
        except OverflowError as exc:
            raise serializers.ValidationError(
                {name: serializers.ErrorDetail("Fecha fuera de rango.", code="invalid")}
            ) from exc
        lookup = "gte" if name == "created_from" else "lt"
        return queryset.filter(**{f"created_at__{lookup}": value})


class IntentPagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 200


class IntentListView(PosApiView, generics.ListAPIView):
    error_codes = (Code.VALIDATION_ERROR,)
    serializer_class = IntentOutputSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = IntentFilter
    pagination_class = IntentPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Intent.objects.none()
        return (
            selectors.intent_list_for_pos(pos_client=self.pos_client)
            .prefetch_related("offered_terminals")
            .order_by("-created_at", "-pk")
        )

    @extend_schema(
        operation_id="intents_list",
        summary="Buscar intenciones",
        description="Intenciones de la sucursal, de la más nueva a la más vieja, con filtros y "
        "paginación (`limit` hasta 200, `offset`).",
        responses={200: IntentOutputSerializer(many=True), **docs.problems(*error_codes)},
        tags=["Intenciones"],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class IntentDetailView(PosApiView):
    error_codes = (Code.VALIDATION_ERROR, Code.NOT_FOUND)

    @extend_schema(
        operation_id="intents_retrieve",
        summary="Ver una intención (con espera opcional)",
        description=docs.INTENT_RETRIEVE,
        parameters=[docs.PUBLIC_ID_PARAMETER, WaitQuerySerializer],
        responses={
            200: OpenApiResponse(IntentOutputSerializer, examples=[docs.INTENT_APPROVED_EXAMPLE]),
            **docs.problems(*error_codes),
        },
        tags=["Intenciones"],
    )
    def get(self, request, public_id: str):
        query = WaitQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        intent = self.intent_or_404(public_id)
        wait = query.validated_data["wait"]
        refreshed = bool(wait and not intent.is_final)
        if refreshed:
            intent = services.intent_refresh(intent=intent, wait=wait)
        response, _ = _intent_response(intent, status.HTTP_200_OK, reload=refreshed)
        return response


class IntentCancelView(IdempotentPostMixin, PosApiView):
    error_codes = (*docs.IDEMPOTENT_POST, Code.NOT_FOUND, Code.NOT_CANCELLABLE)

    @extend_schema(
        operation_id="intents_cancel",
        summary="Cancelar una intención en espera",
        description=docs.INTENT_CANCEL,
        parameters=[docs.PUBLIC_ID_PARAMETER, docs.IDEMPOTENCY_PARAMETER],
        request=None,
        responses={200: IntentOutputSerializer, **docs.problems(*error_codes)},
        tags=["Intenciones"],
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    def perform_post(self, request, public_id: str):
        intent = self.intent_or_404(public_id)
        intent = services.intent_cancel(intent=intent, pos_client=self.pos_client)
        return _intent_response(intent, status.HTTP_200_OK)


class PaymentReversalView(IdempotentPostMixin, PosApiView):
    error_codes = (
        *docs.IDEMPOTENT_POST,
        Code.VALIDATION_ERROR,
        Code.TEXT_INVALID,
        Code.NOT_FOUND,
        Code.REVERSAL_NOT_ALLOWED,
        Code.BATCH_CLOSED,
        Code.SETTLEMENT_IN_PROGRESS,
        *docs.PROVIDER_CREATE,
    )

    @extend_schema(
        operation_id="payments_reversal",
        summary="Anular un cobro",
        description=docs.REVERSAL_CREATE,
        parameters=[docs.PUBLIC_ID_PARAMETER, docs.IDEMPOTENCY_PARAMETER],
        request=ReversalInputSerializer,
        responses={
            201: IntentOutputSerializer,
            **docs.problems(*error_codes),
        },
        tags=["Cobros"],
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    def perform_post(self, request, public_id: str):
        payment = self.intent_or_404(public_id, kind=Kind.PAYMENT)
        data = _valid(ReversalInputSerializer, request.data, store=self.pos_client.store)
        intent = services.reversal_create(
            payment=payment,
            reference=data["reference"],
            menu_text=data["menu_text"],
            pos_client=self.pos_client,
        )
        return _intent_response(intent, status.HTTP_201_CREATED)


class RefundCreateView(IdempotentPostMixin, PosApiView):
    error_codes = (
        *docs.IDEMPOTENT_POST,
        Code.VALIDATION_ERROR,
        Code.AMOUNT_INVALID,
        Code.AMOUNT_TOO_LARGE,
        Code.BRAND_INVALID,
        Code.TEXT_INVALID,
        Code.TERMINAL_NOT_IN_STORE,
        Code.DOES_NOT_EXIST,
        Code.TERMINAL_DISABLED,
        Code.REFUND_NOT_ALLOWED,
        Code.REFUND_EXCEEDS_BALANCE,
        *docs.PROVIDER_CREATE,
    )

    @extend_schema(
        operation_id="refunds_create",
        summary="Devolver",
        description=docs.REFUND_CREATE,
        parameters=[docs.IDEMPOTENCY_PARAMETER],
        request=RefundInputSerializer,
        responses={
            201: IntentOutputSerializer,
            **docs.problems(*error_codes),
        },
        examples=[docs.REFUND_REQUEST_EXAMPLE],
        tags=["Devoluciones y cierres"],
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    def perform_post(self, request):
        store = self.pos_client.store
        data = _valid(RefundInputSerializer, request.data, store=store)
        intent = services.refund_create(
            store=store,
            terminal=data["terminal"],
            amount=data["amount"],
            original=data["original"],
            brand=data["brand"],
            reference=data["reference"],
            menu_text=data["menu_text"],
            pos_client=self.pos_client,
        )
        return _intent_response(intent, status.HTTP_201_CREATED)


class SettlementCreateView(IdempotentPostMixin, PosApiView):
    error_codes = (
        *docs.IDEMPOTENT_POST,
        Code.VALIDATION_ERROR,
        Code.TERMINAL_NOT_IN_STORE,
        Code.TERMINAL_DISABLED,
        Code.SETTLEMENT_IN_PROGRESS,
        *docs.PROVIDER_CREATE,
    )

    @extend_schema(
        operation_id="settlements_create",
        summary="Cerrar el lote de una terminal",
        description="Pide el cierre de lote de la terminal; el ticket de cierre llega en "
        "`receipts.merchant` cuando la intención termina.",
        parameters=[docs.IDEMPOTENCY_PARAMETER],
        request=SettlementInputSerializer,
        responses={
            201: IntentOutputSerializer,
            **docs.problems(*error_codes),
        },
        tags=["Devoluciones y cierres"],
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    def perform_post(self, request):
        data = _valid(SettlementInputSerializer, request.data, store=self.pos_client.store)
        intent = services.settlement_create(
            terminal=data["terminal"],
            print_receipt=data["print_receipt"],
            pos_client=self.pos_client,
        )
        return _intent_response(intent, status.HTTP_201_CREATED)


class WebhookView(IdempotentPostMixin, PosApiView):
    # One view, three operations: the codes each can answer (besides `docs.EVERY_OPERATION`).
    get_error_codes = (Code.NOT_FOUND,)
    post_error_codes = (*docs.IDEMPOTENT_POST, Code.VALIDATION_ERROR, Code.WEBHOOK_URL_INVALID)
    delete_error_codes = (Code.NOT_FOUND,)

    @extend_schema(
        operation_id="webhook_retrieve",
        summary="Ver el webhook",
        responses={200: WebhookOutputSerializer, **docs.problems(*get_error_codes)},
        tags=["Webhooks"],
    )
    def get(self, request):
        endpoint = webhook_endpoint_for_pos_client(pos_client=self.pos_client)
        if endpoint is None:
            raise Http404("Sin webhook")
        return Response(WebhookOutputSerializer(endpoint).data)

    @extend_schema(
        operation_id="webhook_register",
        summary="Registrar el webhook",
        description=docs.WEBHOOK_REGISTER,
        parameters=[docs.IDEMPOTENCY_PARAMETER],
        request=WebhookInputSerializer,
        responses={201: WebhookCreatedSerializer, **docs.problems(*post_error_codes)},
        tags=["Webhooks"],
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    def perform_post(self, request):
        data = _valid(WebhookInputSerializer, request.data, store=self.pos_client.store)
        try:
            endpoint, secret = webhook_endpoint_register(
                pos_client=self.pos_client, url=data["url"]
            )
        except WebhookUrlInvalid as exc:
            raise ApiProblem(Code.WEBHOOK_URL_INVALID, str(exc), field="url") from exc
        body = dict(WebhookCreatedSerializer({**_webhook_fields(endpoint), "secret": secret}).data)
        return _SecretResponse(body, status=status.HTTP_201_CREATED), None

    @extend_schema(
        operation_id="webhook_delete",
        summary="Borrar el webhook",
        description="Deja de enviar eventos; las entregas pendientes se descartan.",
        responses={204: None, **docs.problems(*delete_error_codes)},
        tags=["Webhooks"],
    )
    def delete(self, request):
        if not webhook_endpoint_delete(pos_client=self.pos_client):
            raise Http404("Sin webhook")
        return Response(status=status.HTTP_204_NO_CONTENT)


def _webhook_fields(endpoint: WebhookEndpoint) -> dict:
    return {
        "public_id": endpoint.public_id,
        "url": endpoint.url,
        "active": endpoint.active,
        "created_at": endpoint.created_at,
        "updated_at": endpoint.updated_at,
    }


class _SecretResponse(Response):
    """A response whose `secret` must not be stored as the idempotent answer: the stored copy
    (what a replay returns) has it as null, so no plaintext secret sits in the database."""

    @property
    def stored_data(self):
        return {**self.data, "secret": None}


def _valid(serializer_class, data, *, store) -> dict:
    serializer = serializer_class(data=data, context={"store": store})
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
