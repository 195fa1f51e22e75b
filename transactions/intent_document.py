"""The intent as a POS client sees it: one document for the API's answers and the webhooks.

`GET /api/v1/intents/{id}` answers this document and every webhook carries it as its `data`, so
both are built here, by one serializer, and cannot drift apart. It lives outside
`transactions.api` because the webhooks (reached from the lifecycle engine) must not depend on
the POS API's interface code; the API's serializers import it from here.
"""

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from transactions.models import Intent
from transactions.selectors import reversal_refusals
from transactions.states import Kind, State

AMOUNT_PATTERN = r"^[0-9]{1,12}(\.[0-9]{1,2})?$"


@extend_schema_field(
    {
        "type": "string",
        "pattern": AMOUNT_PATTERN,
        "example": "1500.00",
        "description": "Importe en pesos como texto decimal, con hasta 2 decimales, mayor que "
        "cero. Nunca un número JSON (los float no representan dinero).",
    }
)
class AmountText(serializers.Field):
    """Money as a decimal string on the way out: "1500.00" (the API's `AmountField` adds the
    parsing of inputs)."""

    def to_representation(self, value) -> str | None:
        return None if value is None else f"{value:.2f}"


class TerminalRefSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    terminal_id = serializers.CharField(help_text="Número de terminal de Prisma (8 dígitos).")
    # A field named like DRF's `Field.label` attribute; the serializer's metaclass handles it.
    label = serializers.CharField()  # type: ignore[assignment]


class CardSerializer(serializers.Serializer):
    brand = serializers.CharField(source="card_brand")
    brand_code = serializers.CharField(source="card_brand_code")
    last_four = serializers.CharField(source="card_last_four")
    payment_type = serializers.CharField(help_text="CREDIT o DEBIT.")
    entry_mode = serializers.CharField(help_text="CHIP, CHIP_CONTACTLESS, QR_CODE, ...")


class ReceiptsSerializer(serializers.Serializer):
    client = serializers.CharField(source="client_receipt")
    merchant = serializers.CharField(source="merchant_receipt")


class IntentLinksSerializer(serializers.Serializer):
    self = serializers.CharField()
    wait = serializers.CharField()
    cancel = serializers.CharField(required=False)
    reversal = serializers.CharField(required=False)


class _IntentListOutputSerializer(serializers.ListSerializer):
    """Runs the reversal rule once for the whole page, in a fixed number of queries."""

    def to_representation(self, data):
        intents = list(data.all() if hasattr(data, "all") else data)
        self.context.setdefault(REVERSAL_REFUSALS, reversal_refusals(intents))
        return super().to_representation(intents)


# Serializer context key: {payment pk: refusal or None}, the reversal rule computed in bulk.
REVERSAL_REFUSALS = "reversal_refusals"


class IntentOutputSerializer(serializers.Serializer):
    """An intent as the POS sees it. Its `links` offer only what the rules allow now."""

    class Meta:
        list_serializer_class = _IntentListOutputSerializer

    id = serializers.UUIDField(source="public_id")
    kind = serializers.ChoiceField(choices=Kind.choices)
    state = serializers.ChoiceField(choices=State.choices)
    is_final = serializers.BooleanField()
    provider_status = serializers.CharField(help_text="El estado de Prisma, textual.")
    provider_id = serializers.CharField(help_text="El id de la intención en Prisma.")
    amount = AmountText(allow_null=True, help_text="Importe pedido (null en cierres de lote).")
    authorized_amount = AmountText(allow_null=True)
    installments = serializers.IntegerField()
    method = serializers.CharField()
    brand_restriction = serializers.CharField()
    reference = serializers.CharField()
    menu_text = serializers.CharField()
    print_copies = serializers.CharField()
    terminal = TerminalRefSerializer(allow_null=True, help_text="La terminal que la tomó.")
    offered_terminals = serializers.SerializerMethodField()
    card = serializers.SerializerMethodField()
    authorization_code = serializers.CharField()
    ticket_number = serializers.CharField(help_text="Cupón.")
    batch_number = serializers.IntegerField(allow_null=True, help_text="Lote.")
    response_code = serializers.CharField()
    response_message = serializers.CharField()
    receipts = ReceiptsSerializer(source="*")
    original_id = serializers.SerializerMethodField()
    needs_attention = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    taken_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    links = serializers.SerializerMethodField()

    @extend_schema_field(TerminalRefSerializer(many=True))
    def get_offered_terminals(self, intent) -> list:
        return list(TerminalRefSerializer(intent.offered_terminals.all(), many=True).data)

    @extend_schema_field(CardSerializer(allow_null=True))
    def get_card(self, intent):
        if not (intent.card_brand or intent.card_last_four or intent.entry_mode):
            return None
        return CardSerializer(intent).data

    @extend_schema_field(OpenApiTypes.UUID)
    def get_original_id(self, intent) -> str | None:
        return str(intent.original.public_id) if intent.original_id else None

    @extend_schema_field(IntentLinksSerializer)
    def get_links(self, intent) -> dict:
        refusals = self.context.get(REVERSAL_REFUSALS)
        if refusals is None or intent.pk not in refusals:
            refusals = reversal_refusals([intent])
        return intent_links(intent, reversible=refusals[intent.pk] is None)


def intent_links(intent: Intent, *, reversible: bool) -> dict:
    """What the POS may do next with the intent. `reversible` is the service's own rule
    (`selectors.reversal_refusals`): no `reversal` link on an AMEX payment or a closed batch."""
    url = reverse("pos-api:intent-detail", kwargs={"public_id": intent.public_id})
    links = {"self": url, "wait": f"{url}?wait=30"}
    if intent.state in (State.PENDING, State.PROCESSING) and intent.kind != Kind.SETTLEMENT:
        links["cancel"] = reverse("pos-api:intent-cancel", kwargs={"public_id": intent.public_id})
    if reversible:
        links["reversal"] = reverse(
            "pos-api:payment-reversal", kwargs={"public_id": intent.public_id}
        )
    return links


def intent_document(*, intent: Intent) -> dict:
    """The intent as the POS sees it (the same document as `GET /intents/{id}`)."""
    return dict(IntentOutputSerializer(intent).data)
