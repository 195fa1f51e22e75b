"""Intent kinds and portal states in one place, and how provider statuses map onto them.

The portal's states are few and stable; the provider's statuses are many, partly unknown, and
kept verbatim on the intent. An unknown status maps to `None`: the intent stays where it is,
flagged for a person, never counted as approved.
"""

from django.db import models
from django.db.models import Q


class Kind(models.TextChoices):
    PAYMENT = "payment", "Cobro"
    REVERSAL = "reversal", "Anulación"
    REFUND = "refund", "Devolución"
    SETTLEMENT = "settlement", "Cierre de lote"


class State(models.TextChoices):
    # A refund or reversal above the store's threshold (maker-checker, `transactions.controls`):
    # written but never sent to the provider until a second person approves it.
    APPROVAL_PENDING = "approval_pending", "Esperando aprobación"
    CREATED = "created", "Creada"
    PENDING = "pending", "Esperando terminal"
    PROCESSING = "processing", "En proceso"
    CANCELLING = "cancelling", "Cancelando"
    IN_DOUBT = "in_doubt", "En duda"
    APPROVED = "approved", "Aprobada"
    DECLINED = "declined", "Rechazada"
    FAILED = "failed", "Con error"
    CANCELLED = "cancelled", "Cancelada"


FINAL_STATES = frozenset({State.APPROVED, State.DECLINED, State.FAILED, State.CANCELLED})
LIVE_STATES = frozenset(set(State) - FINAL_STATES)
# States whose intent may still move money at the provider: the POS reference stays reserved.
RESERVING_STATES = frozenset(
    {State.CREATED, State.PENDING, State.PROCESSING, State.CANCELLING, State.IN_DOUBT}
)

# Allowed moves. Final states have no way out; in_doubt is left by adoption or an operator.
TRANSITIONS: dict[str, frozenset[str]] = {
    # Approved: created, then sent like any create. Rejected or expired: cancelled (nothing
    # reached the provider).
    State.APPROVAL_PENDING: frozenset({State.CREATED, State.CANCELLED}),
    State.CREATED: frozenset(
        {State.PENDING, State.PROCESSING, State.IN_DOUBT, State.FAILED, State.CANCELLING}
        | FINAL_STATES
    ),
    State.PENDING: frozenset({State.PROCESSING, State.CANCELLING} | FINAL_STATES),
    # Back to pending when the operator backs out and the intention returns to the list.
    State.PROCESSING: frozenset({State.PENDING, State.CANCELLING} | FINAL_STATES),
    State.CANCELLING: frozenset({State.PROCESSING} | FINAL_STATES),
    State.IN_DOUBT: frozenset({State.PENDING, State.PROCESSING, State.CANCELLING} | FINAL_STATES),
    State.APPROVED: frozenset(),
    State.DECLINED: frozenset(),
    State.FAILED: frozenset(),
    State.CANCELLED: frozenset(),
}

_PENDING = State.PENDING
_PROCESSING = State.PROCESSING
_CANCELLING = State.CANCELLING

PROVIDER_STATUS_MAP: dict[str, dict[str, str]] = {
    Kind.PAYMENT: {
        "PAYMENT_REQUEST": _PENDING,
        "PROCESSING_PAYMENT": _PROCESSING,
        "WAITING_CONFIRMATION": _PROCESSING,
        "CONFIRM_REQUEST": _PROCESSING,
        "PROCESSING_CONFIRMATION": _PROCESSING,
        "UNDO_REQUEST": _CANCELLING,
        "PROCESSING_UNDO": _CANCELLING,
        "CONFIRMED": State.APPROVED,
        "DECLINED": State.DECLINED,
        "UNDONE": State.CANCELLED,
        "ERROR": State.FAILED,
    },
    Kind.REVERSAL: {
        "REVERSAL_REQUEST": _PENDING,
        "PROCESSING_REVERSAL": _PROCESSING,
        "UNDO_REVERSAL_REQUEST": _CANCELLING,
        "PROCESSING_UNDO_REVERSAL": _CANCELLING,
        "REVERSED": State.APPROVED,
        "REVERSAL_DECLINED": State.DECLINED,
        "REVERSAL_ERROR": State.FAILED,
        "REVERSAL_UNDONE": State.CANCELLED,
        # The undo of the reversal was refused: the reversal itself stands.
        "UNDO_REVERSAL_DECLINED": State.APPROVED,
    },
    Kind.REFUND: {
        "REFUND_REQUEST": _PENDING,
        "PROCESSING_REFUND": _PROCESSING,
        "UNDO_REQUEST": _CANCELLING,
        "CONFIRMED": State.APPROVED,
        "DECLINED": State.DECLINED,
        "UNDONE": State.CANCELLED,
        "ERROR": State.FAILED,
    },
    Kind.SETTLEMENT: {
        "SETTLEMENT_REQUEST": _PENDING,
        "PROCESSING_SETTLEMENT": _PROCESSING,
        "CONFIRMED": State.APPROVED,
        "DECLINED": State.DECLINED,
        "ERROR": State.FAILED,
    },
}


def portal_state_for(kind: str, provider_status: str | None) -> str | None:
    """The portal state a provider status means, or None when the status is unknown."""
    if not provider_status:
        return None
    return PROVIDER_STATUS_MAP[kind].get(provider_status.strip().upper())


# --- What a person reads -------------------------------------------------------------------------
# The portal state says where an intention is in its lifecycle; a person reading a list wants to
# know what became of the money. An approved payment later annulled or refunded is still
# `approved` (its own intention succeeded) but reads "Anulada" or "Devuelta"; an approved
# settlement reads "Lote cerrado". The one place that decides it: every page, export and filter
# asks `display_status`, reading only fields of the intent's own row (no query per row).


class Followup(models.TextChoices):
    """What later intents did to an approved payment (`Intent.followup_status`, kept by
    `transactions.transitions` when a reversal or refund is approved)."""

    REVERSED = "reversed", "Anulada"
    REFUNDED = "refunded", "Devuelta"
    PARTIALLY_REFUNDED = "partially_refunded", "Devuelta parcialmente"


class Resolution(models.TextChoices):
    """How a person ended an in-doubt intention (`Intent.resolution`)."""

    BY_HAND = "by_hand", "Resuelta a mano"
    # The provider's search (by reference and time window) did not find it: it never reached
    # Prisma. Final state `failed` (nothing was created there), read as this.
    NOT_RECEIVED = "not_received", "No recibida por Prisma"


class Status(models.TextChoices):
    """The statuses a person reads beyond the portal states (every `State` value is one too)."""

    REVERSED = Followup.REVERSED.value, Followup.REVERSED.label
    REFUNDED = Followup.REFUNDED.value, Followup.REFUNDED.label
    PARTIALLY_REFUNDED = Followup.PARTIALLY_REFUNDED.value, Followup.PARTIALLY_REFUNDED.label
    # Not "batch_closed": that is an error code's value (`errors.Code.BATCH_CLOSED`).
    BATCH_CLOSED = "settled", "Lote cerrado"
    NOT_RECEIVED = Resolution.NOT_RECEIVED.value, Resolution.NOT_RECEIVED.label


# Every status with its Spanish label, the portal states first: built from `State`, so a state
# added there is offered and named here too (Operaciones' filter, `Intent.status_label`).
STATUS_CHOICES: list[tuple[str, str]] = [*State.choices, *Status.choices]
STATUS_LABELS: dict[str, str] = dict(STATUS_CHOICES)


# The CSS modifier of each status's badge.
STATUS_BADGES: dict[str, str] = {
    State.APPROVED: "ok",
    Status.BATCH_CLOSED: "ok",
    State.DECLINED: "error",
    State.FAILED: "error",
    State.IN_DOUBT: "error",
    State.CANCELLED: "off",
    Status.NOT_RECEIVED: "off",
    Status.REVERSED: "off",
    Status.REFUNDED: "off",
    Status.PARTIALLY_REFUNDED: "warn",
    State.APPROVAL_PENDING: "warn",
    State.CREATED: "warn",
    State.PENDING: "warn",
    State.PROCESSING: "warn",
    State.CANCELLING: "warn",
}


def display_status(*, kind: str, state: str, followup: str = "", resolution: str = "") -> str:
    """The status a person reads (a `State` or `Status` value) from an intent's own fields."""
    if state == State.APPROVED:
        if kind == Kind.SETTLEMENT:
            return Status.BATCH_CLOSED
        if kind == Kind.PAYMENT and followup:
            return followup
    if state == State.FAILED and resolution == Resolution.NOT_RECEIVED:
        return Status.NOT_RECEIVED
    return state


def display_status_q(status: str):
    """The intents that `display_status` reads as `status`, as a filter (Operaciones)."""
    if status == Status.BATCH_CLOSED:
        return Q(kind=Kind.SETTLEMENT, state=State.APPROVED)
    if status in Followup.values:
        return Q(kind=Kind.PAYMENT, state=State.APPROVED, followup_status=status)
    if status == Status.NOT_RECEIVED:
        return Q(state=State.FAILED, resolution=Resolution.NOT_RECEIVED)
    if status == State.APPROVED:
        return Q(state=State.APPROVED, followup_status="") & ~Q(kind=Kind.SETTLEMENT)
    if status == State.FAILED:
        return Q(state=State.FAILED) & ~Q(resolution=Resolution.NOT_RECEIVED)
    return Q(state=status)
