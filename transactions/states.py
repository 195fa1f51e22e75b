"""Intent kinds and portal states in one place, and how provider statuses map onto them.

The portal's states are few and stable; the provider's statuses are many, partly unknown, and
kept verbatim on the intent. An unknown status maps to `None`: the intent stays where it is,
flagged for a person, never counted as approved.
"""

from django.db import models


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
