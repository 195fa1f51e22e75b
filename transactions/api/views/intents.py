"""Reading intents (list, detail with long poll) and cancelling one."""

from datetime import UTC

import django_filters
from django.http import Http404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response

from transactions import selectors, services
from transactions.api import schema_docs as docs
from transactions.api.serializers import (
    IntentOutputSerializer,
    WaitQuerySerializer,
)
from transactions.api.views.base import (
    IdempotentPostMixin,
    PosApiView,
    intent_response,
    public_uuid_or_404,
)
from transactions.errors import Code
from transactions.intent_document import intent_document, intent_document_get_for_pos
from transactions.models import Intent
from transactions.states import Kind, State


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
        wait = 0
        if "wait" in request.query_params:  # the plain poll skips building the serializer
            query = WaitQuerySerializer(data=request.query_params)
            query.is_valid(raise_exception=True)
            wait = query.validated_data["wait"]
        # One query: only what the document shows (the hot path of every till's polling).
        intent = intent_document_get_for_pos(
            pos_client=self.pos_client, public_id=public_uuid_or_404(public_id)
        )
        if intent is None:
            raise Http404("Intención no encontrada")
        if wait and not intent.is_final:
            # The long poll needs the whole row; it re-reads it after waiting anyway.
            intent = services.intent_refresh(intent=self.intent_or_404(public_id), wait=wait)
            response, _ = intent_response(intent, status.HTTP_200_OK)
            return response
        return Response(intent_document(intent=intent))


class IntentCancelView(IdempotentPostMixin, PosApiView):
    error_codes = (
        *docs.IDEMPOTENT_POST,
        Code.NOT_FOUND,
        Code.NOT_CANCELLABLE,
        Code.KEY_ACTION_NOT_ALLOWED,
    )

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
        return intent_response(intent, status.HTTP_200_OK)
