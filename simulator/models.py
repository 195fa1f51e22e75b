"""The simulator's own tables: the provider's view of the world.

Nothing here refers to the portal's models: the simulator plays the outside world and must be able
to catch the portal's mistakes, so it keeps its own credentials, terminals and intentions.
"""

import uuid

from django.db import models

# --- Status values, exactly as the contract's §4 spells them --------------------------------

PAYMENT_REQUEST = "PAYMENT_REQUEST"
PROCESSING_PAYMENT = "PROCESSING_PAYMENT"
UNDO_REQUEST = "UNDO_REQUEST"
CONFIRMED = "CONFIRMED"
DECLINED = "DECLINED"
UNDONE = "UNDONE"
ERROR = "ERROR"

REVERSAL_REQUEST = "REVERSAL_REQUEST"
PROCESSING_REVERSAL = "PROCESSING_REVERSAL"
UNDO_REVERSAL_REQUEST = "UNDO_REVERSAL_REQUEST"
REVERSED = "REVERSED"
REVERSAL_DECLINED = "REVERSAL_DECLINED"
REVERSAL_ERROR = "REVERSAL_ERROR"
REVERSAL_UNDONE = "REVERSAL_UNDONE"
UNDO_REVERSAL_DECLINED = "UNDO_REVERSAL_DECLINED"

REFUND_REQUEST = "REFUND_REQUEST"
PROCESSING_REFUND = "PROCESSING_REFUND"

SETTLEMENT_REQUEST = "SETTLEMENT_REQUEST"
PROCESSING_SETTLEMENT = "PROCESSING_SETTLEMENT"

FINAL_STATUSES = frozenset(
    {
        CONFIRMED,
        DECLINED,
        UNDONE,
        ERROR,
        REVERSED,
        REVERSAL_DECLINED,
        REVERSAL_ERROR,
        REVERSAL_UNDONE,
        UNDO_REVERSAL_DECLINED,
    }
)
# Waiting in a terminal's list, not yet taken by anyone.
OFFERED_STATUSES = frozenset({PAYMENT_REQUEST, REVERSAL_REQUEST, REFUND_REQUEST})
# Taken by a terminal: the operator and the customer are on it.
PROCESSING_STATUSES = frozenset({PROCESSING_PAYMENT, PROCESSING_REVERSAL, PROCESSING_REFUND})
# Reversal outcomes that leave the payment free to be reversed again.
REVERSAL_FAILED_STATUSES = frozenset(
    {REVERSAL_DECLINED, REVERSAL_ERROR, REVERSAL_UNDONE, UNDO_REVERSAL_DECLINED}
)

ENVIRONMENT_SUBNETS = {"sandbox": "1", "homologation": "9", "production": "2"}


class SimState(models.Model):
    """The single row of run-time knobs: faults, global autopilot and delays.

    A row (not module globals) so that every process serving the simulator (threads, gunicorn
    workers, a separate `runsimulator`) sees the same faults. Its row lock is also the
    simulator's one big lock: every state change runs under it, which keeps the state machine
    simple and free of deadlocks on PostgreSQL; throughput does not matter for a test double.
    """

    latency_ms = models.PositiveIntegerField(default=0)
    error_rate = models.FloatField(default=0.0)
    drop_rate = models.FloatField(default=0.0)
    token_ttl_seconds = models.PositiveIntegerField(default=3600)
    plain_text_errors = models.BooleanField(default=False)
    # With a seed, fault dice are reproducible: roll n is Random(f"{seed}:{n}").
    seed = models.BigIntegerField(null=True, blank=True)
    rng_counter = models.BigIntegerField(default=0)
    lost_answer_sleep_ms = models.PositiveIntegerField(default=30000)
    undo_delay_ms = models.PositiveIntegerField(default=1000)
    settlement_delay_ms = models.PositiveIntegerField(default=1000)
    # Batch closes that go wrong (`SETTLEMENT_FAULTS`): refused at the create, ended in ERROR
    # with the batch left open, or closed with a ticket the portal cannot read.
    settlement_fault = models.CharField(max_length=16, blank=True, default="")
    # Sandbox (contract §6): credentials of the sandbox environment accept only the fixed
    # fictitious data; anything else is refused 400.
    sandbox_fixed_data = models.BooleanField(default=False)

    autopilot_enabled = models.BooleanField(default=False)
    pick_delay_ms = models.PositiveIntegerField(default=1500)
    processing_ms = models.PositiveIntegerField(default=1500)
    stuck_processing_ms = models.PositiveIntegerField(default=10000)

    class Meta:
        verbose_name = "estado del simulador"
        verbose_name_plural = "estado del simulador"

    def __str__(self):
        return "Estado del simulador"


class SimCredential(models.Model):
    """An API credential as the provider knows it: keys, the merchant's CUIT and environment."""

    public_key = models.CharField(max_length=200, unique=True)
    secret_key = models.CharField(max_length=200)
    cuit = models.CharField(max_length=11, help_text="11 dígitos, sin guiones")
    environment = models.CharField(
        max_length=20,
        choices=[(env, env) for env in ENVIRONMENT_SUBNETS],
        default="homologation",
    )
    merchant_name = models.CharField(max_length=120)
    merchant_id = models.CharField(max_length=10)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "credencial simulada"
        verbose_name_plural = "credenciales simuladas"

    def __str__(self):
        return f"{self.public_key} ({self.environment})"

    @property
    def subnet_acquirer_id(self) -> str:
        return ENVIRONMENT_SUBNETS[self.environment]


class SimTerminal(models.Model):
    """A card terminal registered at the provider for one merchant (CUIT).

    It owns its open batch (lote) number and its receipt (cupón) counter. The autopilot fields
    are overrides: null means "use the global default in SimState".
    """

    terminal_id = models.CharField(max_length=8, unique=True)
    cuit = models.CharField(max_length=11)
    serial = models.CharField(max_length=40, default="")
    model = models.CharField(max_length=40, default="A910")
    mobitef_app_vers = models.CharField(max_length=20, default="2.11.3")
    batch_number = models.PositiveIntegerField(default=1)
    next_receipt = models.PositiveIntegerField(default=1)
    autopilot_enabled = models.BooleanField(null=True, blank=True)
    pick_delay_ms = models.PositiveIntegerField(null=True, blank=True)
    processing_ms = models.PositiveIntegerField(null=True, blank=True)
    stuck_processing_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "terminal simulada"
        verbose_name_plural = "terminales simuladas"
        ordering = ["terminal_id"]

    def __str__(self):
        return self.terminal_id


class SimToken(models.Model):
    """An OAuth access token handed out for a credential, valid until `expires_at`."""

    access_token = models.CharField(max_length=100, unique=True)
    credential = models.ForeignKey(SimCredential, on_delete=models.CASCADE, related_name="tokens")
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        verbose_name = "token simulado"
        verbose_name_plural = "tokens simulados"

    def __str__(self):
        return f"token {self.access_token[:8]}…"


class SimIntention(models.Model):
    """One intention of any family: payment, reversal, refund or settlement.

    The state machine advances lazily: the row stores when the next automatic step is due
    (`next_due_at`) and every request first advances all due rows to `now`. The card fields are
    filled when a terminal finishes the intention.
    """

    class Kind(models.TextChoices):
        PAYMENT = "payment", "Cobro"
        REVERSAL = "reversal", "Anulación"
        REFUND = "refund", "Devolución"
        SETTLEMENT = "settlement", "Cierre de lote"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    status = models.CharField(max_length=32)
    cuit = models.CharField(max_length=11)
    subnet_acquirer_id = models.CharField(max_length=2)
    merchant_id = models.CharField(max_length=10)
    merchant_name = models.CharField(max_length=120)
    request_data = models.JSONField(default=dict)
    ecr_transaction_id = models.CharField(max_length=100, null=True, blank=True, db_index=True)
    amount_cents = models.BigIntegerField(null=True, blank=True)
    change_amount_cents = models.BigIntegerField(default=0)
    installments = models.PositiveIntegerField(null=True, blank=True)
    brand_restriction = models.CharField(max_length=4, null=True, blank=True)
    operation_method = models.CharField(max_length=10, default="CARD")
    print_receipt = models.BooleanField(null=True, blank=True)

    offered_to = models.ManyToManyField(SimTerminal, related_name="offers", blank=True)
    terminal = models.ForeignKey(
        SimTerminal, null=True, blank=True, on_delete=models.PROTECT, related_name="taken"
    )
    original = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversals"
    )
    settled_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="settled_items"
    )

    created_at = models.DateTimeField()
    status_changed_at = models.DateTimeField()
    picked_at = models.DateTimeField(null=True, blank=True)

    # Autopilot plan, fixed at creation; a person picking the intention by hand clears it.
    auto_terminal = models.ForeignKey(
        SimTerminal, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    auto_outcome = models.CharField(max_length=12, blank=True, default="")
    auto_pick_at = models.DateTimeField(null=True, blank=True)
    auto_finish_at = models.DateTimeField(null=True, blank=True)
    undo_at = models.DateTimeField(null=True, blank=True)
    next_due_at = models.DateTimeField(null=True, blank=True)

    # What the terminal and the acquirer answered.
    card_key = models.CharField(max_length=20, blank=True, default="")
    payment_type = models.CharField(max_length=10, null=True, blank=True)
    card_brand_product = models.CharField(max_length=4, null=True, blank=True)
    card_brand = models.CharField(max_length=20, null=True, blank=True)
    card_type = models.CharField(max_length=20, null=True, blank=True)
    bin = models.CharField(max_length=8, null=True, blank=True)
    last_four_digits = models.CharField(max_length=4, null=True, blank=True)
    card_holder = models.CharField(max_length=60, null=True, blank=True)
    acquirer_id = models.CharField(max_length=10, null=True, blank=True)
    authorization_code = models.CharField(max_length=6, null=True, blank=True)
    transaction_receipt = models.PositiveIntegerField(null=True, blank=True)
    batch_number = models.PositiveIntegerField(null=True, blank=True)
    acquirer_response_code = models.CharField(max_length=4, null=True, blank=True)
    acquirer_additional_message = models.CharField(max_length=80, null=True, blank=True)
    acquirer_response_date = models.DateTimeField(null=True, blank=True)
    payment_auth_nsu = models.CharField(max_length=12, null=True, blank=True)
    qr_code_id = models.CharField(max_length=40, null=True, blank=True)
    client_receipt_detail = models.TextField(null=True, blank=True)
    merchant_receipt_detail = models.TextField(null=True, blank=True)
    error = models.CharField(max_length=200, null=True, blank=True)

    class Meta:
        verbose_name = "intención simulada"
        verbose_name_plural = "intenciones simuladas"
        ordering = ["-created_at"]
        indexes = [
            # The lazy advance runs on every request: it only looks at rows with a due step.
            models.Index(
                fields=["next_due_at"],
                name="sim_intention_due",
                condition=models.Q(next_due_at__isnull=False),
            ),
            models.Index(fields=["cuit", "kind", "created_at"], name="sim_intention_search"),
        ]

    def __str__(self):
        return f"{self.kind} {self.id} {self.status}"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


class SimCall(models.Model):
    """One API call received, for the counters the portal's tests assert on."""

    operation = models.CharField(max_length=40)
    ecr_transaction_id = models.CharField(max_length=100, null=True, blank=True)
    intention_id = models.CharField(max_length=64, null=True, blank=True)
    received_at = models.DateTimeField()

    class Meta:
        verbose_name = "llamada simulada"
        verbose_name_plural = "llamadas simuladas"

    def __str__(self):
        return self.operation
