"""Money: intents sent to the provider, their history, every provider call, and closed batches."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from stores.models import Credential, Merchant, PosClient, Store, Terminal
from transactions.states import (
    FINAL_STATES,
    RESERVING_STATES,
    STATUS_BADGES,
    STATUS_LABELS,
    Followup,
    Kind,
    Resolution,
    State,
    display_status,
)


class Method(models.TextChoices):
    CARD = "card", "Tarjeta"
    QR = "qr", "QR"


class PrintCopies(models.TextChoices):
    BOTH = "BOTH", "Comercio y cliente"
    MERCHANT_ONLY = "MERCHANT_ONLY", "Solo comercio"
    CUSTOMER_ONLY = "CUSTOMER_ONLY", "Solo cliente"
    NONE = "NONE", "Ninguna"


class Intent(models.Model):
    """One intention sent (or about to be sent) to the provider: payment, reversal, refund or
    settlement.

    The row is committed in `created` before the provider is called, so nothing the provider may
    have received is ever unknown to the ledger. `state` only moves along `states.TRANSITIONS`,
    through guarded updates in `transactions.services`; final states never change again.
    `provider_status` is the provider's word, verbatim, including statuses we do not know.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField("tipo", max_length=16, choices=Kind.choices)
    state = models.CharField("estado", max_length=16, choices=State.choices, default=State.CREATED)
    # No single-column index on store, credential or terminal: the composite indexes below lead
    # with each of them (store+created_at, credential+created_at, terminal+created_at), and every
    # index is written on each INSERT and UPDATE of the ledger's busiest table.
    store = models.ForeignKey(
        Store, on_delete=models.PROTECT, related_name="intents", db_index=False
    )
    credential = models.ForeignKey(
        Credential, on_delete=models.PROTECT, related_name="intents", db_index=False
    )
    offered_terminals = models.ManyToManyField(
        Terminal, related_name="offered_intents", verbose_name="terminales ofrecidas"
    )
    terminal = models.ForeignKey(
        Terminal,
        on_delete=models.PROTECT,
        related_name="taken_intents",
        null=True,
        blank=True,
        db_index=False,
        help_text="La terminal que tomó la intención.",
    )
    original = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        related_name="followups",
        null=True,
        blank=True,
        db_index=False,  # partial, in Meta (`intent_original`)
        help_text="El cobro que esta anulación o devolución afecta.",
    )

    # What was asked.
    amount = models.DecimalField("importe", max_digits=14, decimal_places=2, null=True, blank=True)
    installments = models.PositiveSmallIntegerField("cuotas", default=1)
    brand_restriction = models.CharField("marca exigida", max_length=4, blank=True)
    method = models.CharField("medio", max_length=8, choices=Method.choices, default=Method.CARD)
    reference = models.CharField(
        "referencia POS", max_length=64, blank=True, help_text="ecr_transaction_id"
    )
    menu_text = models.CharField("texto en la terminal", max_length=40, blank=True)
    print_copies = models.CharField(
        max_length=16, choices=PrintCopies.choices, default=PrintCopies.BOTH
    )
    receipt_notes = models.CharField("nota en el ticket", max_length=120, blank=True)
    print_receipt = models.BooleanField("imprimir ticket de cierre", default=True)
    # Cash-back (contract §3 `change_amount`): cash handed to the customer on a debit payment,
    # on top of `amount`. Zero on everything else.
    change_amount = models.DecimalField(
        "extracción (cash-back)", max_digits=14, decimal_places=2, default=0
    )
    # Contract §3 `qr_benefit_code`: allow benefit cards on a QR payment (None: not asked).
    qr_benefit = models.BooleanField("beneficio QR", null=True, blank=True)
    # Maker-checker: until when a refund or reversal in `approval_pending` may be approved. On
    # the intent (not only on its ApprovalRequest) so the POS document reads no other table.
    approval_expires_at = models.DateTimeField("vence la aprobación", null=True, blank=True)

    # Who asked.
    requested_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # partial, in Meta (`intent_requested_by_user`)
    )
    requested_by_pos = models.ForeignKey(
        PosClient, on_delete=models.PROTECT, null=True, blank=True, related_name="intents"
    )

    # What the provider said.
    # Indexed in Meta (`intent_provider_id`): `db_index` would add a second, LIKE-pattern index
    # on PostgreSQL that no lookup uses (the provider id is only ever matched whole).
    provider_id = models.CharField("id en Prisma", max_length=64, blank=True)
    provider_status = models.CharField("estado en Prisma", max_length=64, blank=True)
    provider_status_at = models.DateTimeField(null=True, blank=True)
    unknown_status = models.BooleanField(
        "estado desconocido",
        default=False,
        help_text="Prisma respondió un estado que no conocemos.",
    )
    authorized_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    payment_type = models.CharField("crédito/débito", max_length=16, blank=True)
    acquirer = models.CharField("adquirente", max_length=16, blank=True)
    card_brand = models.CharField("marca", max_length=32, blank=True)
    card_brand_code = models.CharField("código de marca", max_length=4, blank=True)
    entry_mode = models.CharField("modo de lectura", max_length=32, blank=True)
    card_bin = models.CharField("BIN", max_length=8, blank=True)
    card_last_four = models.CharField("últimos 4", max_length=4, blank=True)
    authorization_code = models.CharField("código de autorización", max_length=16, blank=True)
    ticket_number = models.CharField("cupón", max_length=16, blank=True)
    batch_number = models.PositiveIntegerField("lote", null=True, blank=True)
    response_code = models.CharField(max_length=8, blank=True)
    response_message = models.CharField(max_length=200, blank=True)
    client_receipt = models.TextField("ticket cliente", blank=True)
    merchant_receipt = models.TextField("ticket comercio", blank=True)

    # Work bookkeeping.
    next_poll_at = models.DateTimeField(null=True, blank=True)
    watched_until = models.DateTimeField(
        null=True, blank=True, help_text="Alguien espera el resultado (POS o tablero)."
    )
    cancel_attempts = models.PositiveSmallIntegerField(default=0)
    cancel_sent_at = models.DateTimeField(null=True, blank=True)
    ecr_transaction_id = models.CharField(
        max_length=64, blank=True, help_text="La referencia enviada a Prisma (única por intención)."
    )
    # Denormalised so lists read "Anulada"/"Devuelta" from the row itself, without a query per
    # row: kept by `transitions.intent_transition` when a reversal or refund of this payment is
    # approved (see `states.display_status`).
    followup_status = models.CharField(
        "anulada o devuelta", max_length=24, choices=Followup.choices, blank=True
    )
    resolution = models.CharField(
        "resolución", max_length=16, choices=Resolution.choices, blank=True
    )
    # An intent closed by a person as never received by Prisma keeps its POS reference reserved
    # (the order cannot be charged again) until the person explicitly releases it.
    reference_held = models.BooleanField("referencia reservada", default=False)
    needs_attention = models.BooleanField("requiere atención", default=False)
    attention_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    taken_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The business day (`transactions.business_day`): when the operation happened at the
    # provider and the store-local date of that moment. Written with the final state; empty
    # while the intent may still change.
    transacted_at = models.DateTimeField("hora de la operación", null=True, blank=True)
    business_day = models.DateField("día de negocio", null=True, blank=True)

    class Meta:
        verbose_name = "intención"
        verbose_name_plural = "intenciones"
        ordering = ["-created_at"]
        indexes = [
            # The sweeper's query: due intents that are not final. Partial, so it stays as small
            # as the work in flight however long the ledger grows.
            models.Index(
                fields=["next_poll_at"],
                name="intent_due_poll",
                condition=~Q(state__in=sorted(FINAL_STATES)),
            ),
            models.Index(fields=["store", "created_at"], name="intent_store_created"),
            # Partial, like every index below on a column a new intent leaves empty (the taken
            # terminal, the provider's id, the card, the original, the requesting user): each
            # index is written on every INSERT and non-HOT UPDATE of the ledger's busiest table,
            # and a create and its answer then write fewer. Every lookup on these columns is an
            # equality with a value (`terminal = 5`, `provider_id = 'abc'`), which implies the
            # condition, so PostgreSQL still uses the index (`test_intent_indexes.py`).
            models.Index(
                fields=["terminal", "created_at"],
                name="intent_terminal_created",
                condition=Q(terminal__isnull=False),
            ),
            # The intents list's default order (newest first) across all the stores a user sees:
            # page N reads N pages of this index instead of sorting the whole ledger.
            models.Index(fields=["created_at", "id"], name="intent_created"),
            # Homologation evidence (`homologation.homologation_status`, newest first): reads
            # the intents of the merchant's homologation credentials only, not the production
            # ledger.
            models.Index(fields=["credential", "created_at"], name="intent_credential_created"),
            # A terminal's last taken intention (Hoy, terminal page and its live box): one probe
            # per terminal (`selectors._last_taken`).
            models.Index(
                fields=["terminal", "taken_at"],
                name="intent_terminal_taken",
                condition=Q(taken_at__isnull=False),
            ),
            # What is live on each terminal (`selectors._states_for`): partial, so it holds only
            # the intents that may still move money, however long the ledger grows.
            models.Index(
                fields=["created_at"],
                name="intent_live_created",
                condition=Q(state__in=sorted(RESERVING_STATES)),
            ),
            # What needs a person (Hoy's list, `selectors.intents_needing_attention`): partial,
            # as small as the open problems.
            models.Index(
                fields=["store", "created_at"],
                name="intent_attention",
                condition=Q(state=State.IN_DOUBT) | Q(needs_attention=True),
            ),
            # The daily report, its exports, Hoy's totals and date ranges read the intents of one
            # business day (or range) of some stores through this index, never the ledger.
            # `kind` and `state` are in it so the grouped report filters without a heap visit.
            models.Index(
                fields=["store", "business_day", "kind", "state"], name="intent_business_day"
            ),
            # A batch's operations on its terminal (the batch page's reconciliation reads the
            # reversals of the batch's payments): without it, every intent the terminal ever
            # had. Partial: an intent gets its batch number with its outcome, so the create's
            # INSERT (the POS API's hottest write) does not touch it.
            models.Index(
                fields=["terminal", "batch_number"],
                name="intent_terminal_batch",
                condition=Q(batch_number__isnull=False),
            ),
            # Every create with a POS reference checks that the reference it sends the provider
            # is unused within the merchant (`pipeline._unique_ecr_transaction_id`): without
            # this index that check scans the whole ledger.
            models.Index(fields=["ecr_transaction_id"], name="intent_ecr_transaction_id"),
            # The sweeper's and the search box's lookups by the provider's id.
            models.Index(
                fields=["provider_id"], name="intent_provider_id", condition=~Q(provider_id="")
            ),
            # The navigation's search box (`transactions.search`): an equality on each of these
            # (OR-ed, within the user's stores) reads a few index entries, not a store-month of
            # intents. The provider id and `ecr_transaction_id` have theirs already.
            models.Index(fields=["reference"], name="intent_search_reference"),
            models.Index(
                fields=["card_last_four"],
                name="intent_search_last_four",
                condition=~Q(card_last_four=""),
            ),
            models.Index(
                fields=["authorization_code"],
                name="intent_search_authorization",
                condition=~Q(authorization_code=""),
            ),
            models.Index(fields=["amount"], name="intent_search_amount"),
            # The followups of a payment (its reversals and refunds) and PROTECT's check before
            # a user is deleted.
            models.Index(
                fields=["original"], name="intent_original", condition=Q(original__isnull=False)
            ),
            models.Index(
                fields=["requested_by_user"],
                name="intent_requested_by_user",
                condition=Q(requested_by_user__isnull=False),
            ),
        ]
        constraints = [
            # A POS order cannot be charged twice while a charge for it may still move money.
            # ...nor while a person who closed it as "no recibida por Prisma" keeps it reserved.
            models.UniqueConstraint(
                fields=["store", "reference"],
                condition=Q(kind=Kind.PAYMENT)
                & (Q(state__in=sorted(RESERVING_STATES)) | Q(reference_held=True))
                & ~Q(reference=""),
                name="intent_live_reference_per_store",
            ),
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gt=0), name="intent_amount_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.public_id} ({self.get_state_display()})"

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def status(self) -> str:
        """What a person reads (`states.display_status`): "Anulada", "Lote cerrado"..."""
        return display_status(
            kind=self.kind,
            state=self.state,
            followup=self.followup_status,
            resolution=self.resolution,
        )

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def status_badge(self) -> str:
        return STATUS_BADGES.get(self.status, "off")


def offered_terminals_order(terminal: Terminal) -> tuple[str, str]:
    """The order in which an intent's offered terminals are shown: by label, then number, in
    Python's order, so it is the same whether they come from a query or from memory."""
    return (terminal.label, terminal.terminal_id)


def remember_offered_terminals(intent: Intent, terminals) -> None:
    """Makes `intent.offered_terminals.all()` answer `terminals` without a query, exactly as a
    `prefetch_related("offered_terminals")` would have left it. For an intent whose rows were
    just written (the create pipeline) or read in the same query (the POS document)."""
    queryset = intent.offered_terminals.all()
    queryset._result_cache = sorted(terminals, key=offered_terminals_order)
    queryset._prefetch_done = True  # type: ignore[attr-defined]
    cache = getattr(intent, "_prefetched_objects_cache", {})
    intent._prefetched_objects_cache = {**cache, "offered_terminals": queryset}  # type: ignore[attr-defined]


class IntentEvent(models.Model):
    """Append-only history of an intent: each state change, each provider answer that changed
    something, each person's action. The raw answer is stored redacted (no PAN, no secrets)."""

    class Type(models.TextChoices):
        CREATED = "created", "Creada"
        STATE = "state", "Cambio de estado"
        PROVIDER = "provider", "Respuesta de Prisma"
        CANCEL = "cancel", "Cancelación pedida"
        RESOLVED = "resolved", "Resuelta por una persona"
        APPROVAL = "approval", "Aprobación"
        ATTENTION = "attention", "Requiere atención"
        NOTE = "note", "Nota"
        RECEIPT = "receipt", "Comprobante enviado"

    intent = models.ForeignKey(Intent, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    type = models.CharField(max_length=16, choices=Type.choices)
    from_state = models.CharField(max_length=16, blank=True)
    to_state = models.CharField(max_length=16, blank=True)
    provider_status = models.CharField(max_length=64, blank=True)
    # Indexed in Meta, partial: most events are the provider's or the sweeper's (no actor), and
    # each create writes two events.
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    actor_pos = models.ForeignKey(
        PosClient,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    actor_label = models.CharField(max_length=64, blank=True, help_text="sistema, sweeper, ...")
    message = models.TextField(blank=True)
    raw = models.JSONField(null=True, blank=True)

    class Meta:
        verbose_name = "evento de intención"
        verbose_name_plural = "eventos de intención"
        ordering = ["created_at", "pk"]
        indexes = [
            # SET_NULL when a user or a POS key is deleted, and a user's receipt sends.
            models.Index(
                fields=["actor_user"],
                name="event_actor_user",
                condition=Q(actor_user__isnull=False),
            ),
            models.Index(
                fields=["actor_pos"], name="event_actor_pos", condition=Q(actor_pos__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} {self.from_state}->{self.to_state}"


class GatewayCall(models.Model):
    """One call to the provider: what, how long, what came back. Never headers, keys or tokens.

    Operators read these to see why something is stuck without reading logs.
    """

    class Outcome(models.TextChoices):
        OK = "ok", "OK"
        ERROR = "error", "Error"
        RETRYABLE = "retryable", "Error reintentable"
        IN_DOUBT = "in_doubt", "En duda"

    credential = models.ForeignKey(
        Credential, on_delete=models.SET_NULL, null=True, related_name="gateway_calls"
    )
    intent = models.ForeignKey(
        Intent, on_delete=models.SET_NULL, null=True, blank=True, related_name="gateway_calls"
    )
    operation = models.CharField(max_length=40)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=300)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    # Successful reads of this intent that changed nothing are not a row each (a payment is read
    # every few seconds): they are counted, and this is the count this row stands for (see
    # `transactions.gateway.client.provider_reads_held`). On a sampled idle read it includes the
    # read itself; on any other row it is the idle reads just before it. 0 on every other call.
    idle_reads = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "llamada a Prisma"
        verbose_name_plural = "llamadas a Prisma"
        ordering = ["-created_at"]
        indexes = [
            # The homologation page's token renewals (a 401 whose replay worked): partial, so
            # it holds only the rare refused tokens; without it that page read every call ever
            # recorded (48 ms at a store-month, growing with the ledger).
            models.Index(
                fields=["credential", "created_at"],
                name="gatewaycall_token_refused",
                condition=Q(http_status=401),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.operation} {self.http_status or '-'} {self.outcome}"


class Batch(models.Model):
    """A terminal's closed lote: the settlement that closed it, the closing ticket, the totals the
    portal computed from the intents it knows, and whether they agree with the ticket."""

    class Verdict(models.TextChoices):
        PENDING = "pending", "Sin conciliar"
        MATCHED = "matched", "Conciliado"
        MISMATCH = "mismatch", "Con diferencias"
        # The closing ticket came in a shape the reader does not know: compared by a person.
        ILLEGIBLE = "illegible", "Ticket ilegible"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    terminal = models.ForeignKey(Terminal, on_delete=models.PROTECT, related_name="batches")
    batch_number = models.PositiveIntegerField("lote")
    settlement = models.OneToOneField(Intent, on_delete=models.PROTECT, related_name="closed_batch")
    closed_at = models.DateTimeField()
    closing_ticket = models.TextField(blank=True)
    totals = models.JSONField(default=dict, blank=True)
    verdict = models.CharField(max_length=16, choices=Verdict.choices, default=Verdict.PENDING)
    differences = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name = "lote"
        verbose_name_plural = "lotes"
        ordering = ["-closed_at"]
        indexes = [
            # The batches list (newest first) and the daily report's batches of a day.
            models.Index(fields=["closed_at"], name="batch_closed_at"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["terminal", "batch_number"], name="batch_per_terminal")
        ]

    def __str__(self) -> str:
        return f"Lote {self.batch_number} · {self.terminal}"


class MoneyControls(models.Model):
    """A store's money controls (issue 15), applied by `transactions.controls`.

    Empty values mean "no control", so a store without a row (or with a blank one) behaves as
    before: nothing waits for approval, no daily limit, no refund window, no cash-back.
    """

    store = models.OneToOneField(Store, on_delete=models.CASCADE, related_name="money_controls")
    refund_approval_threshold = models.DecimalField(
        "devoluciones: aprobar desde",
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Una devolución mayor que este importe espera la aprobación de otra persona.",
    )
    reversal_approval_threshold = models.DecimalField(
        "anulaciones: aprobar desde",
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Una anulación de un cobro mayor que este importe espera aprobación.",
    )
    approval_expiry_minutes = models.PositiveIntegerField(
        "vencimiento de la aprobación (min)",
        default=60,
        help_text="Lo que no se aprueba en este tiempo se cancela solo.",
    )
    daily_refund_limit = models.DecimalField(
        "límite diario de devoluciones",
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Suma de las devoluciones del día (hora de la sucursal), aprobadas o en curso.",
    )
    cashback_max = models.DecimalField(
        "extracción máxima (cash-back)",
        max_digits=14,
        decimal_places=2,
        default=0,
        help_text="0: la sucursal no da extracciones.",
    )
    # Brand label (`brands.brand_label`: "VISA", "AMEX", ...) or "*" for every other brand ->
    # days after the payment within which it may be refunded. A brand absent (and no "*"): no
    # window.
    refund_window_days = models.JSONField("plazos de devolución (días)", default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = "controles de dinero"
        verbose_name_plural = "controles de dinero"

    def __str__(self) -> str:
        return f"Controles de {self.store}"


class ApprovalRequest(models.Model):
    """The maker-checker record of one refund or reversal above its store's threshold: who asked,
    why it needs approval, until when, and who decided what. The intent waits in
    `approval_pending` and is sent to the provider only once approved."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pendiente"
        APPROVED = "approved", "Aprobada"
        REJECTED = "rejected", "Rechazada"
        EXPIRED = "expired", "Vencida"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    intent = models.OneToOneField(Intent, on_delete=models.CASCADE, related_name="approval")
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField("motivo", max_length=200)
    threshold = models.DecimalField(max_digits=14, decimal_places=2)
    requested_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    requested_by_pos = models.ForeignKey(
        PosClient, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField("nota", max_length=200, blank=True)

    class Meta:
        verbose_name = "aprobación"
        verbose_name_plural = "aprobaciones"
        ordering = ["-created_at"]
        indexes = [
            # The Aprobaciones page and the expiry task: pending requests only, however many
            # were decided before.
            models.Index(
                fields=["store", "expires_at"],
                name="approval_pending",
                condition=Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"Aprobación {self.get_status_display()} · {self.intent}"


class HomologationCase(models.Model):
    """One of Prisma's homologation cases, as data: the shipped default list, or Prisma's own
    list loaded from its "HOMOLOGACION ECR" spreadsheet (`manage.py homologation_cases FILE`).

    `matcher` names the rule (`transactions.homologation.MATCHERS`) that suggests operations for
    the case; "manual" (a case the portal does not know) lets any operation be recorded.
    """

    code = models.SlugField("código", max_length=60, unique=True)
    title = models.CharField("caso", max_length=200)
    how = models.TextField("qué hacer en la terminal", blank=True)
    matcher = models.CharField("regla", max_length=40, default="manual")
    position = models.PositiveIntegerField("orden", default=0)
    active = models.BooleanField("vigente", default=True)

    class Meta:
        verbose_name = "caso de homologación"
        verbose_name_plural = "casos de homologación"
        ordering = ["position", "code"]

    def __str__(self) -> str:
        return f"{self.code} · {self.title}"


class HomologationEvidence(models.Model):
    """The operation recorded for one case with one credential (homologation belongs to the
    credential). One operation proves one case only (`intent` unique), and a case has one
    operation per credential. What Prisma asks for is copied from the intent when recorded, so
    the export does not change if the intent is later read again. Evidence made against the
    simulator is kept, labelled, and never exported."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    case = models.ForeignKey(HomologationCase, on_delete=models.PROTECT, related_name="evidence")
    credential = models.ForeignKey(Credential, on_delete=models.PROTECT, related_name="+")
    intent = models.OneToOneField(
        Intent, on_delete=models.PROTECT, related_name="homologation_evidence"
    )
    terminal_id = models.CharField("terminal", max_length=8, blank=True)
    amount = models.DecimalField("importe", max_digits=12, decimal_places=2, null=True)
    installments = models.PositiveSmallIntegerField("cuotas", null=True)
    brand = models.CharField("marca", max_length=40, blank=True)
    authorization_code = models.CharField("autorización", max_length=40, blank=True)
    ticket_number = models.CharField("ticket", max_length=40, blank=True)
    payment_id = models.CharField("payment_id", max_length=100)
    simulator = models.BooleanField("simulador", default=False)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "evidencia de homologación"
        verbose_name_plural = "evidencias de homologación"
        constraints = [
            models.UniqueConstraint(
                fields=["case", "credential"], name="homologation_evidence_case_credential"
            )
        ]

    def __str__(self) -> str:
        return f"{self.case.code} · {self.payment_id}"


class DailyReport(models.Model):
    """A kept daily settlement report of one store (or of every store of a merchant, `store`
    empty) and one business day: a snapshot of its numbers, never changed once written.

    Facts that arrive later (an in-doubt sale resolved the next day, a late close) make a new
    revision whose `changes` list what differs from the previous one; the old revision stays as
    it was sent. Written only by `reporting.kept.daily_report_keep`."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    store = models.ForeignKey(
        Store, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    day = models.DateField("día de negocio")
    revision = models.PositiveSmallIntegerField("revisión")
    # The numbers as the report showed them (`reporting.kept.report_content`): amounts as text.
    content = models.JSONField()
    # sha256 of `content`: a new revision is written only when it changes.
    fingerprint = models.CharField(max_length=64)
    # What differs from the previous revision: [{section, item, before, after}].
    changes = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "reporte diario guardado"
        verbose_name_plural = "reportes diarios guardados"
        ordering = ["-day", "-revision"]
        indexes = [
            # The report page's list of past reports of the stores a user sees.
            models.Index(fields=["merchant", "day"], name="daily_report_merchant_day"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["store", "day", "revision"],
                condition=Q(store__isnull=False),
                name="daily_report_store_revision",
            ),
            models.UniqueConstraint(
                fields=["merchant", "day", "revision"],
                condition=Q(store__isnull=True),
                name="daily_report_merchant_revision",
            ),
        ]

    def __str__(self) -> str:
        where = self.store or self.merchant
        return f"Reporte {self.day:%d/%m/%Y} · {where} · revisión {self.revision}"

    # Immutability is the point of keeping a report (what finance was sent must stay what it
    # was sent): a row is written once and never updated or deleted through the ORM.
    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("Un reporte guardado no se modifica: se agrega una revisión.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Un reporte guardado no se borra.")


class DailyReportDelivery(models.Model):
    """One e-mail of a kept report to one person: written before sending so a task run twice
    sends once (unique per report and person), stamped `sent_at` once the server took it."""

    report = models.ForeignKey(DailyReport, on_delete=models.PROTECT, related_name="deliveries")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    email = models.EmailField()
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "envío de reporte"
        verbose_name_plural = "envíos de reportes"
        constraints = [
            models.UniqueConstraint(fields=["report", "user"], name="daily_report_delivery_once")
        ]

    def __str__(self) -> str:
        return f"{self.report} → {self.email}"


class ReportEmailOptOut(models.Model):
    """A person who asked not to receive the daily report by e-mail (they can still read it
    on the report page)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="report_email_opt_out"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "baja del reporte por correo"
        verbose_name_plural = "bajas del reporte por correo"

    def __str__(self) -> str:
        return f"{self.user} no recibe el reporte por correo"


# Django loads one models module per app: these imports only register the API's idempotency
# table, the webhook tables and the finance day's tables (fees, liquidación, differences,
# daily closes) with the `transactions` app (their code lives with its owner). The layer
# contracts in pyproject.toml ignore these edges for that reason.
from transactions.api.models import *  # noqa: E402,F401,F403
from transactions.finance.models import *  # noqa: E402,F401,F403
from transactions.webhooks.models import *  # noqa: E402,F401,F403
