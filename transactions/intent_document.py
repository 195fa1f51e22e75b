"""The intent as a POS client sees it: one document for the API's answers and the webhooks.

`GET /api/v1/intents/{id}` answers this document and every webhook carries it as its `data`, so
both are built here, by one serializer, and cannot drift apart. It lives outside
`transactions.api` because the webhooks (reached from the lifecycle engine) must not depend on
the POS API's interface code; the API's serializers import it from here.
"""

import threading
import uuid

from django.db import connections
from django.urls import reverse
from django.utils.functional import cached_property
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from stores.models import Terminal
from transactions.models import Intent, offered_terminals_order, remember_offered_terminals
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
    change_amount = AmountText(help_text="Extracción (cash-back) pedida; 0.00 si no hay.")
    qr_benefit_code = serializers.BooleanField(
        source="qr_benefit", allow_null=True, help_text="Beneficios QR pedidos (null: no)."
    )
    approval_expires_at = serializers.DateTimeField(
        allow_null=True,
        help_text="Solo si requirió aprobación (maker-checker): hasta cuándo se puede aprobar.",
    )
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

    # The nested shapes, built once per serializer (building a DRF serializer deep-copies its
    # fields: more than the rest of the document costs).
    @cached_property
    def _terminal_ref(self) -> TerminalRefSerializer:
        return TerminalRefSerializer()

    @cached_property
    def _card(self) -> CardSerializer:
        return CardSerializer()

    @extend_schema_field(TerminalRefSerializer(many=True))
    def get_offered_terminals(self, intent) -> list:
        terminals = sorted(intent.offered_terminals.all(), key=offered_terminals_order)
        return [self._terminal_ref.to_representation(t) for t in terminals]

    @extend_schema_field(CardSerializer(allow_null=True))
    def get_card(self, intent):
        if not (intent.card_brand or intent.card_last_four or intent.entry_mode):
            return None
        return self._card.to_representation(intent)

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
    # A refund or reversal waiting for approval may be withdrawn by the POS that asked.
    cancellable = (State.PENDING, State.PROCESSING, State.APPROVAL_PENDING)
    if intent.state in cancellable and intent.kind != Kind.SETTLEMENT:
        links["cancel"] = reverse("pos-api:intent-cancel", kwargs={"public_id": intent.public_id})
    if reversible:
        links["reversal"] = reverse(
            "pos-api:payment-reversal", kwargs={"public_id": intent.public_id}
        )
    return links


_prepared = threading.local()


def intent_document(*, intent: Intent) -> dict:
    """The intent as the POS sees it: the API's answers and the webhooks' `data`.

    One serializer per thread, built once: `IntentOutputSerializer(intent).data` would build
    (deep-copy) its ~30 fields on every call, the largest cost of answering a till's poll. The
    serializer holds no per-call state (no context: the reversal rule is computed per intent)."""
    serializer = getattr(_prepared, "serializer", None)
    if serializer is None:
        serializer = _prepared.serializer = IntentOutputSerializer()
    return serializer.to_representation(intent)


# The intent's own columns the document reads (with the reversal rule's: acquirer, terminal,
# batch, dates): the POS read loads these and no other.
_DOCUMENT_FIELDS = frozenset(
    {
        "id",
        "public_id",
        "kind",
        "state",
        "provider_status",
        "provider_id",
        "amount",
        "authorized_amount",
        "installments",
        "method",
        "brand_restriction",
        "change_amount",
        "qr_benefit",
        "approval_expires_at",
        "reference",
        "menu_text",
        "print_copies",
        "terminal_id",
        "original_id",
        "card_brand",
        "card_brand_code",
        "card_last_four",
        "payment_type",
        "entry_mode",
        "acquirer",
        "authorization_code",
        "ticket_number",
        "batch_number",
        "response_code",
        "response_message",
        "client_receipt",
        "merchant_receipt",
        "needs_attention",
        "created_at",
        "updated_at",
        "taken_at",
        "finished_at",
    }
)
# In the model's column order (what `Model.from_db` expects).
_DOCUMENT_COLUMNS = [
    f.attname for f in Intent._meta.concrete_fields if f.attname in _DOCUMENT_FIELDS
]
# What TerminalRefSerializer reads, in the model's column order.
_TERMINAL_REF = ["id", "public_id", "terminal_id", "label"]
_JOINED = [
    *(f"terminal__{name}" for name in _TERMINAL_REF[1:]),
    "original__public_id",
    *(f"offered_terminals__{name}" for name in _TERMINAL_REF),
]


def intent_for_document(queryset) -> Intent | None:
    """The intent of `queryset` (scoped by the caller, at most one) ready for the document, in
    one query (see `_intent_from_rows`)."""
    rows = list(queryset.order_by().values_list(*_DOCUMENT_COLUMNS, *_JOINED))
    return _intent_from_rows(rows, queryset.db)


def intent_document_get_for_pos(*, pos_client, public_id: uuid.UUID) -> Intent | None:
    """The intent of the key's store with this public id ready for the document, or None: the
    same read as `intent_for_document(intent_list_for_pos(...).filter(public_id=...))`, through
    a statement the ORM compiles once per thread (`_PreparedDocumentQuery`)."""
    connection = connections[Intent.objects.db]
    prepared = getattr(_prepared, "document_query", None)
    if prepared is None or prepared.connection is not connection:
        prepared = _prepared.document_query = _PreparedDocumentQuery(connection)
    rows = prepared.rows(store_id=pos_client.store_id, public_id=public_id)
    return _intent_from_rows(rows, connection.alias)


def _intent_from_rows(rows: list, db: str) -> Intent | None:
    """Builds the intent from the joined rows: its columns above, the taken terminal, the
    original's public id and the offered terminals (a row each). Columns the document does not
    read stay deferred, so a field the serializer starts reading costs a visible query (the
    query-count tests fail) instead of a wrong value."""
    if not rows:
        return None
    width = len(_DOCUMENT_COLUMNS)
    first = rows[0]
    intent = Intent.from_db(db, _DOCUMENT_COLUMNS, first[:width])
    terminal_ref, original_public_id = first[width : width + 3], first[width + 3]
    if intent.terminal_id is not None:
        intent.terminal = Terminal.from_db(db, _TERMINAL_REF, (intent.terminal_id, *terminal_ref))
    if intent.original_id is not None:
        intent.original = Intent.from_db(
            db, ["id", "public_id"], (intent.original_id, original_public_id)
        )
    offered = {
        row[width + 4]: Terminal.from_db(db, _TERMINAL_REF, row[width + 4 :])
        for row in rows
        if row[width + 4] is not None
    }
    remember_offered_terminals(intent, list(offered.values()))
    return intent


_SENTINEL_STORE = -7_310_000_003
_SENTINEL_PUBLIC_ID = uuid.UUID(int=0x5E7)


class _PreparedDocumentQuery:
    """The POS document's read, compiled by the ORM once for one connection.

    Django compiles a queryset into SQL on every execution; for this read (every till polls it)
    compiling cost several times what running it does. The ORM builds the statement once with
    sentinel values, which mark where the store id and the public id go, and converts the rows
    as it would have (`results_iter` with the fetched rows).
    """

    def __init__(self, connection):
        self.connection = connection
        self.public_id_field = Intent._meta.get_field("public_id")
        queryset = (
            Intent.objects.using(connection.alias)
            .filter(store_id=_SENTINEL_STORE, public_id=_SENTINEL_PUBLIC_ID)
            .order_by()
            .values_list(*_DOCUMENT_COLUMNS, *_JOINED)
        )
        self.compiler = queryset.query.get_compiler(connection=connection)
        self.sql, params = self.compiler.as_sql()
        params = list(params)
        if len(params) != 2:  # pragma: no cover - the query above has two parameters
            raise RuntimeError(f"unexpected parameters in the document query: {params!r}")
        self.store_slot = params.index(_SENTINEL_STORE)
        self.public_id_slot = 1 - self.store_slot

    def rows(self, *, store_id: int, public_id: uuid.UUID) -> list:
        params: list = [None, None]
        params[self.store_slot] = store_id
        params[self.public_id_slot] = self.public_id_field.get_db_prep_value(
            public_id, self.connection
        )
        with self.connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            fetched = cursor.fetchall()
        return list(self.compiler.results_iter(results=[fetched]))
