"""The key's webhook endpoint: see, register (the signing secret shown once) and delete."""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from transactions.api import schema_docs as docs
from transactions.api.problems import ApiProblem
from transactions.api.serializers import (
    WebhookCreatedSerializer,
    WebhookInputSerializer,
    WebhookOutputSerializer,
)
from transactions.api.views.base import (
    IdempotentPostMixin,
    PosApiView,
    valid_input,
)
from transactions.errors import Code
from transactions.webhooks.models import WebhookEndpoint
from transactions.webhooks.selectors import webhook_endpoint_for_pos_client
from transactions.webhooks.services import (
    WebhookUrlInvalid,
    webhook_endpoint_delete,
    webhook_endpoint_register,
)


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
        data = valid_input(WebhookInputSerializer, request.data, store=self.pos_client.store)
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
