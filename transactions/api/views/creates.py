"""The money-moving POSTs: payment, reversal (anulación), refund (devolución), batch close.

Thin: parse, call the service, answer the intent (from the object the service returns: the
create pipeline keeps it up to date, so the answer needs no read). Each declares the error codes
it can answer (`error_codes`), from which its OpenAPI responses are generated.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status

from transactions import services
from transactions.api import schema_docs as docs
from transactions.api.serializers import (
    IntentOutputSerializer,
    PaymentInputSerializer,
    RefundInputSerializer,
    ReversalInputSerializer,
    SettlementInputSerializer,
)
from transactions.api.views.base import (
    IdempotentPostMixin,
    PosApiView,
    intent_response,
    valid_input,
)
from transactions.errors import Code
from transactions.states import Kind, State


def created_or_held(intent) -> int:
    """201 for a refund or reversal sent to the terminal; 202 for one above the store's
    threshold, waiting for a second person (`approval_pending`, maker-checker)."""
    if intent.state == State.APPROVAL_PENDING:
        return status.HTTP_202_ACCEPTED
    return status.HTTP_201_CREATED


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
        Code.TERMINAL_WRONG_PURPOSE,
        Code.PILOT_GATE,
        Code.REFERENCE_IN_USE,
        Code.KEY_ACTION_NOT_ALLOWED,
        Code.CASHBACK_NOT_ALLOWED,
        Code.CASHBACK_LIMIT_EXCEEDED,
        Code.QR_BENEFIT_NOT_ALLOWED,
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
        data = valid_input(PaymentInputSerializer, request.data, store=store)
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
            change_amount=data["change_amount"],
            qr_benefit=data["qr_benefit_code"],
            pos_client=self.pos_client,
        )
        return intent_response(intent, status.HTTP_201_CREATED, reload=False)


class PaymentReversalView(IdempotentPostMixin, PosApiView):
    error_codes = (
        *docs.IDEMPOTENT_POST,
        Code.VALIDATION_ERROR,
        Code.TEXT_INVALID,
        Code.NOT_FOUND,
        Code.REVERSAL_NOT_ALLOWED,
        Code.BATCH_CLOSED,
        Code.SETTLEMENT_IN_PROGRESS,
        Code.BATCH_EMPTY,
        Code.KEY_ACTION_NOT_ALLOWED,
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
            202: docs.APPROVAL_PENDING_RESPONSE,
            **docs.problems(*error_codes),
        },
        tags=["Cobros"],
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    def perform_post(self, request, public_id: str):
        payment = self.intent_or_404(public_id, kind=Kind.PAYMENT)
        data = valid_input(ReversalInputSerializer, request.data, store=self.pos_client.store)
        intent = services.reversal_create(
            payment=payment,
            reference=data["reference"],
            menu_text=data["menu_text"],
            pos_client=self.pos_client,
        )
        return intent_response(intent, created_or_held(intent), reload=False)


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
        Code.KEY_ACTION_NOT_ALLOWED,
        Code.UNREFERENCED_REFUND_NOT_ALLOWED,
        Code.REFUND_WINDOW_EXPIRED,
        Code.DAILY_REFUND_LIMIT_EXCEEDED,
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
            202: docs.APPROVAL_PENDING_RESPONSE,
            **docs.problems(*error_codes),
        },
        examples=[docs.REFUND_REQUEST_EXAMPLE],
        tags=["Devoluciones y cierres"],
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    def perform_post(self, request):
        store = self.pos_client.store
        data = valid_input(RefundInputSerializer, request.data, store=store)
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
        return intent_response(intent, created_or_held(intent), reload=False)


class SettlementCreateView(IdempotentPostMixin, PosApiView):
    error_codes = (
        *docs.IDEMPOTENT_POST,
        Code.VALIDATION_ERROR,
        Code.TERMINAL_NOT_IN_STORE,
        Code.TERMINAL_DISABLED,
        Code.SETTLEMENT_IN_PROGRESS,
        Code.KEY_ACTION_NOT_ALLOWED,
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
        data = valid_input(SettlementInputSerializer, request.data, store=self.pos_client.store)
        intent = services.settlement_create(
            terminal=data["terminal"],
            print_receipt=data["print_receipt"],
            pos_client=self.pos_client,
        )
        return intent_response(intent, status.HTTP_201_CREATED, reload=False)
