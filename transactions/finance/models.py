"""Models of the finance day (issue 13 items 4 to 6).

Registered with the `transactions` app through `transactions.models` (one models module per
app). Relations to the ledger are by string ("transactions.Intent") so this module does not
import `transactions.models` back.
"""

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from stores.models import Merchant, Store

__all__ = [
    "Difference",
    "DifferenceEvent",
    "FeeRule",
    "FeeSchedule",
    "InstallmentCost",
    "LiquidationImport",
    "LiquidationLine",
    "LiquidationMapping",
    "StoreClose",
]


def _percent(label: str) -> models.DecimalField:
    """A percentage from 0 to 100 with up to three decimals (e.g. 1,875 %)."""
    return models.DecimalField(
        label,
        max_digits=6,
        decimal_places=3,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )


class FeeSchedule(models.Model):
    """A merchant's fee and terms table (aranceles y plazos de acreditación), as its acquirer
    contract says: IVA on the fees and the withholdings applied to each sale. The per-brand
    fees and terms are `FeeRule` rows, the cost of each cuotas plan `InstallmentCost` rows.

    A merchant without a row uses the shipped defaults (`reporting.deposits.DEFAULT_TERMS`),
    always shown as "a confirmar con tu contrato de adquirente"; so is a saved table until an
    owner marks it confirmed (`confirmed_at`)."""

    merchant = models.OneToOneField(Merchant, on_delete=models.CASCADE, related_name="fee_schedule")
    iva_percent = _percent("IVA sobre aranceles y costo financiero (%)")
    iibb_withholding_percent = _percent("retención de IIBB (%)")
    iva_withholding_percent = _percent("retención de IVA (%)")
    ganancias_withholding_percent = _percent("retención de Ganancias (%)")
    confirmed_at = models.DateTimeField("confirmada contra el contrato", null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = "tabla de aranceles"
        verbose_name_plural = "tablas de aranceles"

    def __str__(self) -> str:
        return f"Aranceles de {self.merchant}"


class FeeRule(models.Model):
    """The fee (arancel) and the payment term in business days of one brand and credit/debit.
    `brand` is the brand label (`brands.brand_label`: "VISA", "NARANJA"); "" is every brand
    without a row of its own."""

    schedule = models.ForeignKey(FeeSchedule, on_delete=models.CASCADE, related_name="rules")
    brand = models.CharField("marca", max_length=32, blank=True)
    payment_type = models.CharField("crédito/débito", max_length=8)
    fee_percent = _percent("arancel (%)")
    term_business_days = models.PositiveSmallIntegerField(
        "plazo (días hábiles)", validators=[MaxValueValidator(120)]
    )

    class Meta:
        verbose_name = "arancel por marca"
        verbose_name_plural = "aranceles por marca"
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "brand", "payment_type"], name="fee_rule_per_brand_type"
            )
        ]

    def __str__(self) -> str:
        return f"{self.brand or 'Otras'} {self.payment_type}: {self.fee_percent} %"


class InstallmentCost(models.Model):
    """The financing cost the merchant pays for a cuotas plan ("cuotas sin interés"), as a
    percentage of the sale."""

    schedule = models.ForeignKey(FeeSchedule, on_delete=models.CASCADE, related_name="plans")
    installments = models.PositiveSmallIntegerField(
        "cuotas", validators=[MinValueValidator(2), MaxValueValidator(99)]
    )
    cost_percent = _percent("costo financiero (%)")

    class Meta:
        verbose_name = "costo de plan de cuotas"
        verbose_name_plural = "costos de planes de cuotas"
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "installments"], name="installment_cost_per_plan"
            )
        ]

    def __str__(self) -> str:
        return f"{self.installments} cuotas: {self.cost_percent} %"


class LiquidationMapping(models.Model):
    """Which column of a merchant's liquidación files holds each field. The acquirer's real
    layout is not public, so nothing is assumed: the owner maps the headers once per merchant
    (`reporting.liquidation.FIELDS` lists the fields)."""

    merchant = models.OneToOneField(
        Merchant, on_delete=models.CASCADE, related_name="liquidation_mapping"
    )
    columns = models.JSONField("columnas", default=dict)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = "formato de liquidación"
        verbose_name_plural = "formatos de liquidación"

    def __str__(self) -> str:
        return f"Formato de liquidación de {self.merchant}"


class LiquidationImport(models.Model):
    """One liquidación file imported for a merchant. The same file (same bytes) imported again
    is this same import: nothing is added twice."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="liquidation_imports"
    )
    file_name = models.CharField("archivo", max_length=200)
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    rows_total = models.PositiveIntegerField(default=0)
    rows_new = models.PositiveIntegerField(default=0)
    rows_repeated = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name = "liquidación importada"
        verbose_name_plural = "liquidaciones importadas"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "sha256"], name="liquidation_file_once")
        ]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.created_at:%d/%m/%Y})"


class LiquidationLine(models.Model):
    """One operation as the acquirer's liquidación reports it. Unique per merchant by what
    identifies it (terminal, batch, authorization, amount, date) and its `occurrence`, so
    overlapping files add each operation once while a line the acquirer paid twice (the same
    line twice in one file) is kept twice. `intent` is the ledger operation it was matched to."""

    liquidation = models.ForeignKey(
        LiquidationImport, on_delete=models.CASCADE, related_name="lines"
    )
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, null=True, blank=True)
    row_number = models.PositiveIntegerField("fila")
    terminal_id = models.CharField("terminal", max_length=16)
    batch_number = models.PositiveIntegerField("lote")
    authorization_code = models.CharField("autorización", max_length=16, blank=True)
    amount = models.DecimalField("importe", max_digits=14, decimal_places=2)
    operation_date = models.DateField("fecha")
    card_brand = models.CharField("marca", max_length=32, blank=True)
    installments = models.PositiveSmallIntegerField("cuotas", null=True, blank=True)
    raw = models.JSONField(default=dict)
    # 1 for the first line with this identity, 2 for the same line paid again, and so on.
    occurrence = models.PositiveSmallIntegerField("repetición", default=1)
    intent = models.ForeignKey(
        "transactions.Intent",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="liquidation_lines",
    )

    class Meta:
        verbose_name = "línea de liquidación"
        verbose_name_plural = "líneas de liquidación"
        ordering = ["operation_date", "terminal_id", "batch_number", "pk"]
        indexes = [
            # The three-way table of a batch reads its lines by terminal and lote.
            models.Index(fields=["terminal_id", "batch_number"], name="liqline_terminal_batch"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "merchant",
                    "terminal_id",
                    "batch_number",
                    "authorization_code",
                    "amount",
                    "operation_date",
                    "occurrence",
                ],
                name="liquidation_line_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.terminal_id} lote {self.batch_number} aut. {self.authorization_code}"


class Difference(models.Model):
    """A reconciliation difference between the ledger, the closing ticket and the liquidación,
    open until a person explains it. Every change is a `DifferenceEvent` (the audit trail).
    `key` says what it is about, so running the reconciliation again raises it once."""

    class Kind(models.TextChoices):
        MISSING_IN_LEDGER = "missing_in_ledger", "Falta en el portal"
        MISSING_IN_LIQUIDATION = "missing_in_liquidation", "Falta en la liquidación"
        AMOUNT_DIFFERS = "amount_differs", "Importe distinto"
        APPROVED_AFTER_CLOSE = "approved_after_close", "Aprobada después del cierre"
        BATCH_WITHOUT_TICKET = "batch_without_ticket", "Lote sin ticket"

    class Status(models.TextChoices):
        OPEN = "open", "Abierta"
        RESOLVED = "resolved", "Explicada"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    key = models.CharField(max_length=120, unique=True)
    kind = models.CharField("tipo", max_length=32, choices=Kind.choices)
    status = models.CharField("estado", max_length=16, choices=Status.choices, default=Status.OPEN)
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="differences")
    terminal_id = models.CharField("terminal", max_length=16, blank=True)
    batch_number = models.PositiveIntegerField("lote", null=True, blank=True)
    batch = models.ForeignKey(
        "transactions.Batch", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    intent = models.ForeignKey(
        "transactions.Intent", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    line = models.ForeignKey(
        LiquidationLine, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    portal_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    other_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    detail = models.CharField("detalle", max_length=300)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_differences",
        verbose_name="asignada a",
    )
    resolution = models.TextField("explicación", blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "diferencia de conciliación"
        verbose_name_plural = "diferencias de conciliación"
        ordering = ["-created_at", "-pk"]
        indexes = [
            # The open differences raised to owners and finance: as small as the open ones.
            models.Index(
                fields=["store", "created_at"],
                name="difference_open",
                condition=Q(status="open"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.detail}"


class DifferenceEvent(models.Model):
    """Append-only trail of a difference: raised, assigned, annotated, explained, reopened."""

    class Action(models.TextChoices):
        RAISED = "raised", "Detectada"
        ASSIGNED = "assigned", "Asignada"
        NOTE = "note", "Nota"
        RESOLVED = "resolved", "Explicada"
        REOPENED = "reopened", "Reabierta"

    difference = models.ForeignKey(Difference, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(auto_now_add=True)
    action = models.CharField(max_length=16, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    message = models.TextField(blank=True)

    class Meta:
        verbose_name = "evento de diferencia"
        verbose_name_plural = "eventos de diferencia"
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.created_at:%d/%m/%Y %H:%M}"


class StoreClose(models.Model):
    """A store's automatic close of one local day: how many attempts, when the next one may
    run (backoff), why the last one did not finish, and whether it was raised to people because
    the store was still open at the end of the day."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="daily_closes")
    day = models.DateField("día")
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_problem = models.TextField(blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    raised_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "cierre diario"
        verbose_name_plural = "cierres diarios"
        ordering = ["-day"]
        constraints = [models.UniqueConstraint(fields=["store", "day"], name="store_close_per_day")]

    def __str__(self) -> str:
        return f"Cierre de {self.store} del {self.day:%d/%m/%Y}"
