"""The intent as a POS client sees it: one document for the API's answers and the webhooks.

`GET /api/v1/intents/{id}` answers this document and every webhook carries it as its `data`, so
both are built here, by one serializer, and cannot drift apart. It lives outside
`transactions.api` because the webhooks (reached from the lifecycle engine) must not depend on
the POS API's interface code; the API's serializers import it from here.
"""

import uuid

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.functional import cached_property
from django.utils.timezone import get_current_timezone, is_naive
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

from ecrportal.compiled_query import Arg, CompiledQuery, instance_from_row
from stores.models import Terminal
from transactions.models import Intent, offered_terminals_order, remember_offered_terminals
from transactions.selectors import reversal_refusals
from transactions.states import STATUS_CHOICES, Kind, State

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
    # What the dashboard shows (`Intent.status`), so a POS screen and the portal read alike: a
    # reversed payment stays `state: approved` (the payment was approved) but reads "reversed".
    display_status = serializers.ChoiceField(
        choices=STATUS_CHOICES,
        source="status",
        read_only=True,
        help_text="Solo lectura. El estado que muestra el portal: `state`, salvo un pago aprobado "
        "luego anulado (`reversed`), devuelto (`refunded`) o devuelto en parte "
        "(`partially_refunded`), un cierre de lote aprobado (`settled`) y una intención que "
        "Prisma nunca recibió (`not_received`).",
    )
    display_status_label = serializers.CharField(
        source="status_label",
        read_only=True,
        help_text="Solo lectura. `display_status` en castellano, como lo muestra el portal "
        '("Anulada", "Devuelta parcialmente", "Lote cerrado").',
    )
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
    url = _link_template("pos-api:intent-detail").replace(_LINK_SLOT, str(intent.public_id))
    links = {"self": url, "wait": f"{url}?wait=30"}
    # A refund or reversal waiting for approval may be withdrawn by the POS that asked.
    cancellable = (State.PENDING, State.PROCESSING, State.APPROVAL_PENDING)
    if intent.state in cancellable and intent.kind != Kind.SETTLEMENT:
        links["cancel"] = _link_template("pos-api:intent-cancel").replace(
            _LINK_SLOT, str(intent.public_id)
        )
    if reversible:
        links["reversal"] = _link_template("pos-api:payment-reversal").replace(
            _LINK_SLOT, str(intent.public_id)
        )
    return links


# `reverse()` resolves the URL pattern on every call, which cost more than the rest of a link:
# each route is reversed once (per script prefix and urlconf) with this slot for the public id.
_LINK_SLOT = "00000000-0000-0000-0000-00000000e5e7"
_link_templates: dict[tuple, str] = {}


def _link_template(name: str) -> str:
    key = (name, get_script_prefix(), get_urlconf())
    template = _link_templates.get(key)
    if template is None:
        template = _link_templates[key] = reverse(name, kwargs={"public_id": _LINK_SLOT})
    return template


# DRF's rendering of a datetime (the current time zone, ISO 8601), as the serializer's fields.
_DATETIME = serializers.DateTimeField()


def _datetime(value, tz):
    """`_DATETIME.to_representation(value)` for an aware datetime in ISO 8601 (what the database
    gives), with the time zone looked up once per document instead of once per field."""
    if value is None:
        return None
    fmt = api_settings.DATETIME_FORMAT
    if tz is None or not isinstance(fmt, str) or fmt.lower() != ISO_8601 or is_naive(value):
        return _DATETIME.to_representation(value)
    text = value.astimezone(tz).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _offered_terminals(intent: Intent) -> list:
    """The offered terminals in their order, from the prefetched list when there is one (read
    or written with the intent) without building a related manager for it."""
    prefetched = getattr(intent, "_prefetched_objects_cache", {}).get("offered_terminals")
    if prefetched is not None and prefetched._result_cache is not None:
        terminals = prefetched._result_cache
    else:
        terminals = intent.offered_terminals.all()
    return sorted(terminals, key=offered_terminals_order)


def _amount(value) -> str | None:
    return None if value is None else f"{value:.2f}"


def _terminal_ref(terminal: Terminal) -> dict:
    return {
        "id": str(terminal.public_id),
        "terminal_id": str(terminal.terminal_id),
        "label": str(terminal.label),
    }


def intent_document(*, intent: Intent) -> dict:
    """The intent as the POS sees it: the API's answers and the webhooks' `data`.

    Exactly `IntentOutputSerializer(intent).data` (the schema and the list's serializer; the
    tests compare both on varied intents), built directly: a DRF serializer walks its ~30
    fields through their generic machinery, the largest cost of answering a till's poll."""
    terminal = intent.terminal if intent.terminal_id is not None else None
    offered = _offered_terminals(intent)
    tz = get_current_timezone() if settings.USE_TZ else None
    card = None
    if intent.card_brand or intent.card_last_four or intent.entry_mode:
        card = {
            "brand": str(intent.card_brand),
            "brand_code": str(intent.card_brand_code),
            "last_four": str(intent.card_last_four),
            "payment_type": str(intent.payment_type),
            "entry_mode": str(intent.entry_mode),
        }
    refusals = reversal_refusals([intent])
    return {
        "id": str(intent.public_id),
        "kind": str(intent.kind),
        "state": str(intent.state),
        "display_status": str(intent.status),
        "display_status_label": str(intent.status_label),
        "is_final": bool(intent.is_final),
        "provider_status": str(intent.provider_status),
        "provider_id": str(intent.provider_id),
        "amount": _amount(intent.amount),
        "authorized_amount": _amount(intent.authorized_amount),
        "installments": int(intent.installments),
        "method": str(intent.method),
        "brand_restriction": str(intent.brand_restriction),
        "change_amount": _amount(intent.change_amount),
        "qr_benefit_code": None if intent.qr_benefit is None else bool(intent.qr_benefit),
        "approval_expires_at": _datetime(intent.approval_expires_at, tz),
        "reference": str(intent.reference),
        "menu_text": str(intent.menu_text),
        "print_copies": str(intent.print_copies),
        "terminal": None if terminal is None else _terminal_ref(terminal),
        "offered_terminals": [_terminal_ref(t) for t in offered],
        "card": card,
        "authorization_code": str(intent.authorization_code),
        "ticket_number": str(intent.ticket_number),
        "batch_number": None if intent.batch_number is None else int(intent.batch_number),
        "response_code": str(intent.response_code),
        "response_message": str(intent.response_message),
        "receipts": {
            "client": str(intent.client_receipt),
            "merchant": str(intent.merchant_receipt),
        },
        "original_id": (
            str(intent.original.public_id)
            if intent.original_id and intent.original is not None
            else None
        ),
        "needs_attention": bool(intent.needs_attention),
        "created_at": _datetime(intent.created_at, tz),
        "updated_at": _datetime(intent.updated_at, tz),
        "taken_at": _datetime(intent.taken_at, tz),
        "finished_at": _datetime(intent.finished_at, tz),
        "links": intent_links(intent, reversible=refusals[intent.pk] is None),
    }


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
        # `display_status` (Intent.status) reads these two.
        "followup_status",
        "resolution",
        "created_at",
        "updated_at",
        "taken_at",
        "finished_at",
    }
)
# In the model's column order (as `Model.from_db` takes them).
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
    a statement the ORM compiles once per connection (`_DOCUMENT_QUERY`)."""
    db = Intent.objects.db
    rows = _DOCUMENT_QUERY.rows(db, store_id=pos_client.store_id, public_id=public_id)
    return _intent_from_rows(rows, db)


def _intent_from_rows(rows: list, db: str) -> Intent | None:
    """Builds the intent from the joined rows: its columns above, the taken terminal, the
    original's public id and the offered terminals (a row each). Columns the document does not
    read stay deferred, so a field the serializer starts reading costs a visible query (the
    query-count tests fail) instead of a wrong value."""
    if not rows:
        return None
    width = len(_DOCUMENT_COLUMNS)
    first = rows[0]
    intent = instance_from_row(Intent, db, _DOCUMENT_COLUMNS, first[:width])
    terminal_ref, original_public_id = first[width : width + 3], first[width + 3]
    if intent.terminal_id is not None:
        intent.terminal = instance_from_row(
            Terminal, db, _TERMINAL_REF, (intent.terminal_id, *terminal_ref)
        )
    if intent.original_id is not None:
        intent.original = instance_from_row(
            Intent, db, ["id", "public_id"], (intent.original_id, original_public_id)
        )
    offered = {
        row[width + 4]: instance_from_row(Terminal, db, _TERMINAL_REF, row[width + 4 :])
        for row in rows
        if row[width + 4] is not None
    }
    remember_offered_terminals(intent, list(offered.values()))
    return intent


# Every till polls it: compiling the queryset cost several times what running it does, and on
# PostgreSQL planning this five-table join cost the server several times its run (about 0.4 ms
# of CPU against 0.05), so it is also prepared once per session (`CompiledQuery`).
_DOCUMENT_QUERY = CompiledQuery(
    "intent_document",
    lambda store_id, public_id: (
        Intent.objects.filter(store_id=store_id, public_id=public_id)
        .order_by()
        .values_list(*_DOCUMENT_COLUMNS, *_JOINED)
    ),
    server_prepared=True,
    store_id=Arg(Intent._meta.get_field("store")),
    public_id=Arg(Intent._meta.get_field("public_id")),
)
