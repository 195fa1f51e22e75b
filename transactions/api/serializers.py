"""Input and output shapes of the POS API. No business rules here: the services decide.

Inputs only parse and scope (a terminal UUID becomes a Terminal *of the key's store*); outputs
never expose internal integer ids, only UUIDs and the provider's own identifiers.
"""

import copy
import re
from decimal import Decimal

from django.conf import settings
from rest_framework import serializers

from ecrportal.compiled_query import Arg, CompiledQuery, concrete_columns
from stores.models import Terminal
from transactions.brands import BRAND_PRODUCTS
from transactions.errors import Code
from transactions.intent_document import (  # the output document, re-exported for the views
    AMOUNT_PATTERN,
    AmountText,
    CardSerializer,  # noqa: F401
    IntentLinksSerializer,  # noqa: F401
    IntentOutputSerializer,  # noqa: F401
    ReceiptsSerializer,  # noqa: F401
    TerminalRefSerializer,  # noqa: F401
    intent_links,  # noqa: F401
)
from transactions.models import Intent, Method, PrintCopies
from transactions.money import AmountUnreadable, parse_amount
from transactions.rules import MAX_INSTALLMENTS, MENU_TEXT_MAX, REFERENCE_MAX
from transactions.states import Kind

_AMOUNT_RE = re.compile(AMOUNT_PATTERN)
MAX_TERMINALS_PER_PAYMENT = 10


def _no_surrogates(value: str) -> None:
    # JSON may carry lone UTF-16 surrogates ("\ud800"); no database can store them.
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise serializers.ValidationError("Texto con caracteres inválidos.", code=Code.TEXT_INVALID)


def _no_control_characters(value: str) -> None:
    # The services refuse them too (`rules.clean_text`); refusing them here keeps them a 400 of
    # the input, which runs nothing and leaves the Idempotency-Key free.
    # NUL is left to DRF's own validator, so it is not reported twice.
    if any(ord(ch) < 32 and ch != "\x00" for ch in value):
        raise serializers.ValidationError(
            "Caracteres de control no permitidos.", code=Code.TEXT_INVALID
        )


class ApiText(serializers.CharField):
    """A CharField that refuses what the database cannot store (NUL, lone surrogates) and what
    the services refuse anyway (control characters)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("default", "")
        super().__init__(**kwargs)
        self.validators += [_no_surrogates, _no_control_characters]


class AmountField(AmountText):
    """Money as a decimal string: "1500.00". Numbers, signs, exponents and >2 decimals are
    refused with `amount_invalid`; above the ceiling, `amount_too_large`."""

    default_error_messages = {
        Code.AMOUNT_INVALID: "El importe debe ser un texto decimal positivo con hasta dos "
        'decimales, p. ej. "1500.00".',
        "zero": "El importe debe ser mayor que cero.",
        Code.AMOUNT_TOO_LARGE: "El importe supera el máximo permitido ({max}).",
    }

    def to_internal_value(self, data) -> Decimal:
        if not isinstance(data, str) or not _AMOUNT_RE.fullmatch(data):
            self.fail(Code.AMOUNT_INVALID)
        try:  # the project's one amount reader, in the API's canonical form
            amount = parse_amount(data, es_ar=False)
        except AmountUnreadable:
            raise serializers.ValidationError(
                self.error_messages["zero"], code=Code.AMOUNT_INVALID
            ) from None
        ceiling = Decimal(settings.ECR_MAX_AMOUNT)
        if amount > ceiling:
            self.fail(Code.AMOUNT_TOO_LARGE, max=f"{ceiling:.2f}")
        return amount.quantize(Decimal("0.01"))


class CashbackField(AmountField):
    """A cash-back amount: like `AmountField`, and "0" (what the contract sends when there is
    none) means no cash-back."""

    def to_internal_value(self, data) -> Decimal:
        if isinstance(data, str) and re.fullmatch(r"0+(\.0{1,2})?", data):
            return Decimal("0.00")
        return super().to_internal_value(data)


class _RecodingSerializer(serializers.Serializer):
    """Field errors carry the domain code of their field (`installments_invalid`, ...) so the
    problem's `code` is as precise as the services' own codes."""

    field_codes: dict[str, Code] = {}

    def get_fields(self):
        # DRF deep-copies every declared field for each serializer, re-running each field's
        # `__init__`: for these small inputs that was most of the validation's cost, on every
        # POST. Nothing here changes a field per instance, and `bind()` writes only the copy's
        # own attributes, so a shallow copy is enough. A field with fields of its own (a
        # `ListField`'s child, a nested serializer) is still deep-copied, so they are bound to
        # the copy and not to the declared field.
        return {
            name: copy.deepcopy(field) if _has_subfields(field) else copy.copy(field)
            for name, field in self._declared_fields.items()
        }

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as exc:
            detail = exc.detail
            if isinstance(detail, dict):
                for name, errors in detail.items():
                    code = self.field_codes.get(name)
                    if code and isinstance(errors, list):
                        detail[name] = [
                            e
                            if getattr(e, "code", "") in _KEEP_CODES
                            else serializers.ErrorDetail(str(e), code=code)
                            for e in errors
                        ]
            raise serializers.ValidationError(detail) from exc


def _has_subfields(field) -> bool:
    return hasattr(field, "child") or isinstance(field, serializers.BaseSerializer)


_KEEP_CODES = frozenset({Code.AMOUNT_INVALID, Code.AMOUNT_TOO_LARGE, Code.TERMINAL_NOT_IN_STORE})


# The store's terminals by public id, on every create: compiled once (`CompiledQuery`). No order
# (the model's orders by the store's name: a join and a sort for nothing).
_TERMINALS_OF_STORE = CompiledQuery(
    "terminals_of_store",
    lambda store_id, public_ids: (
        Terminal.objects.filter(store_id=store_id, public_id__in=public_ids)
        .order_by()
        .values_list(*concrete_columns(Terminal))
    ),
    server_prepared=True,
    store_id=Arg(Terminal._meta.get_field("store")),
    public_ids=Arg(Terminal._meta.get_field("public_id"), many=True),
)


def _terminals_of_store(store, public_ids: list) -> list[Terminal]:
    unique = list(dict.fromkeys(public_ids))
    found = {
        t.public_id: t
        for t in _TERMINALS_OF_STORE.instances(Terminal, store_id=store.pk, public_ids=unique)
    }
    missing = [str(pid) for pid in public_ids if pid not in found]
    if missing:
        raise serializers.ValidationError(
            {
                "terminal": serializers.ErrorDetail(
                    f"Terminal desconocida en esta sucursal: {missing[0]}.",
                    code=Code.TERMINAL_NOT_IN_STORE,
                )
            }
        )
    return [found[pid] for pid in dict.fromkeys(public_ids)]


class PaymentInputSerializer(_RecodingSerializer):
    terminal = serializers.UUIDField(
        required=False, help_text="La terminal (UUID) que ofrece el cobro."
    )
    terminals = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        min_length=1,
        max_length=MAX_TERMINALS_PER_PAYMENT,
        help_text="O varias terminales (UUID) de la sucursal: la primera que lo tome lo cobra.",
    )
    amount = AmountField()
    installments = serializers.IntegerField(
        required=False, default=1, min_value=1, max_value=MAX_INSTALLMENTS
    )
    brand = serializers.ChoiceField(
        choices=sorted(BRAND_PRODUCTS),
        required=False,
        allow_blank=True,
        default="",
        help_text="Restringe a una marca: "
        + ", ".join(f"{k} {v}" for k, v in BRAND_PRODUCTS.items()),
    )
    method = serializers.ChoiceField(choices=Method.values, required=False, default=Method.CARD)
    reference = ApiText(max_length=REFERENCE_MAX, help_text="Referencia del POS (pedido, ticket).")
    menu_text = ApiText(max_length=MENU_TEXT_MAX, help_text="Texto en la lista de la terminal.")
    print_copies = serializers.ChoiceField(
        choices=PrintCopies.values, required=False, default=PrintCopies.BOTH
    )
    notes = ApiText(max_length=120, help_text="Nota impresa en el ticket.")
    # Issue 15: cash-back and QR benefits (the rules are `transactions.controls`).
    change_amount = CashbackField(
        required=False,
        default=None,
        allow_null=True,
        help_text="Extracción (cash-back) en pesos, además del importe: solo débito, en un "
        "pago, hasta el máximo de la sucursal.",
    )
    qr_benefit_code = serializers.BooleanField(
        required=False,
        default=None,
        allow_null=True,
        help_text="Permite tarjetas de beneficio en un cobro con QR (`method: qr`).",
    )

    field_codes = {
        "amount": Code.AMOUNT_INVALID,
        "change_amount": Code.AMOUNT_INVALID,
        "installments": Code.INSTALLMENTS_INVALID,
        "brand": Code.BRAND_INVALID,
        "method": Code.METHOD_INVALID,
        "reference": Code.TEXT_INVALID,
        "menu_text": Code.TEXT_INVALID,
        "notes": Code.TEXT_INVALID,
        "print_copies": Code.TEXT_INVALID,
        "terminal": Code.TERMINAL_NOT_IN_STORE,
        "terminals": Code.TERMINAL_NOT_IN_STORE,
    }

    def validate(self, attrs):
        single, many = attrs.pop("terminal", None), attrs.pop("terminals", None)
        if (single is None) == (many is None):
            raise serializers.ValidationError(
                {
                    "terminal": serializers.ErrorDetail(
                        "Indique `terminal` o `terminals` (uno de los dos).",
                        code=Code.TERMINAL_NOT_IN_STORE,
                    )
                }
            )
        attrs["terminals"] = _terminals_of_store(
            self.context["store"], [single] if single else many
        )
        return attrs


class ReversalInputSerializer(_RecodingSerializer):
    reference = ApiText(max_length=REFERENCE_MAX)
    menu_text = ApiText(max_length=MENU_TEXT_MAX)
    field_codes = {"reference": Code.TEXT_INVALID, "menu_text": Code.TEXT_INVALID}


class RefundInputSerializer(_RecodingSerializer):
    terminal = serializers.UUIDField(help_text="La terminal donde se presenta la tarjeta.")
    amount = AmountField()
    original = serializers.UUIDField(
        required=False,
        allow_null=True,
        default=None,
        help_text="El cobro aprobado que se devuelve (opcional; limita el importe a su saldo).",
    )
    brand = serializers.ChoiceField(
        choices=sorted(BRAND_PRODUCTS), required=False, allow_blank=True, default=""
    )
    reference = ApiText(max_length=REFERENCE_MAX)
    menu_text = ApiText(max_length=MENU_TEXT_MAX)
    field_codes = {
        "amount": Code.AMOUNT_INVALID,
        "brand": Code.BRAND_INVALID,
        "reference": Code.TEXT_INVALID,
        "menu_text": Code.TEXT_INVALID,
        "terminal": Code.TERMINAL_NOT_IN_STORE,
    }

    def validate(self, attrs):
        store = self.context["store"]
        (attrs["terminal"],) = _terminals_of_store(store, [attrs["terminal"]])
        original_id = attrs.get("original")
        if original_id is not None:
            original = Intent.objects.filter(
                store=store, kind=Kind.PAYMENT, public_id=original_id
            ).first()
            if original is None:
                raise serializers.ValidationError(
                    {
                        "original": serializers.ErrorDetail(
                            "Cobro original desconocido en esta sucursal.", code=Code.DOES_NOT_EXIST
                        )
                    }
                )
            attrs["original"] = original
        return attrs


class SettlementInputSerializer(_RecodingSerializer):
    terminal = serializers.UUIDField(help_text="La terminal cuyo lote se cierra.")
    print_receipt = serializers.BooleanField(required=False, default=True)
    field_codes = {"terminal": Code.TERMINAL_NOT_IN_STORE}

    def validate(self, attrs):
        (attrs["terminal"],) = _terminals_of_store(self.context["store"], [attrs["terminal"]])
        return attrs


class WaitQuerySerializer(serializers.Serializer):
    wait = serializers.IntegerField(
        required=False,
        default=0,
        min_value=0,
        max_value=30,
        help_text="Segundos (0-30) a esperar que la intención llegue a un estado final.",
    )


class WebhookInputSerializer(serializers.Serializer):
    url = serializers.URLField(
        max_length=500,
        help_text="URL https que recibe los eventos (http solo a localhost en desarrollo).",
    )

    def validate_url(self, value):
        _no_surrogates(value)
        return value


# --- Outputs ---------------------------------------------------------------------------------


class TerminalCurrentIntentSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    kind = serializers.CharField()
    state = serializers.CharField()
    amount = AmountField(allow_null=True)


class TerminalOutputSerializer(serializers.Serializer):
    """A terminal of the store with its live state."""

    id = serializers.UUIDField(source="terminal.public_id")
    terminal_id = serializers.CharField(source="terminal.terminal_id")
    # A field named like DRF's `Field.label` attribute; the serializer's metaclass handles it.
    label = serializers.CharField(source="terminal.label")  # type: ignore[assignment]
    serial = serializers.CharField(source="terminal.serial")
    model = serializers.CharField(source="terminal.model")
    enabled = serializers.BooleanField(source="terminal.enabled")
    state = serializers.ChoiceField(
        choices=[("idle", "Libre"), ("busy", "Ocupada"), ("disabled", "Deshabilitada")]
    )
    current_intent = TerminalCurrentIntentSerializer(allow_null=True)
    last_taken_at = serializers.DateTimeField(allow_null=True)
    stuck_count = serializers.IntegerField(
        help_text="Intenciones de esta terminal que requieren atención."
    )


class WebhookOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    url = serializers.URLField()
    active = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class WebhookCreatedSerializer(WebhookOutputSerializer):
    secret = serializers.CharField(
        allow_null=True,
        help_text="Secreto de firma. Se muestra solo en esta respuesta (una repetición con el "
        "mismo Idempotency-Key lo devuelve como null).",
    )


class PingSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    store = serializers.CharField()
    pos_client = serializers.CharField()


class FieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField(allow_null=True)
    code = serializers.CharField()
    detail = serializers.CharField()


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details with a stable `code`."""

    type = serializers.CharField(help_text="urn:ecr-portal:problem:<code>")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField(help_text="Código estable para programar contra él.")
    # Documents the problem body only (never validated), so hiding `Serializer.errors` is safe.
    errors = FieldErrorSerializer(many=True)  # type: ignore[assignment]
    blocking_intent_id = serializers.UUIDField(
        required=False,
        help_text="Solo en `terminal_busy`: la intención que ocupa la terminal (leela o "
        "cancelala en /api/v1/intents/{id}).",
    )
