"""Reads of the ledger, scoped to what a user or a POS key may see (404 outside)."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Count, Max, Q, QuerySet, Sum
from django.http import Http404

from stores.models import Store, Terminal
from stores.permissions import user_can
from stores.roles import Action
from stores.selectors import store_list_for_user
from transactions.models import Batch, Intent
from transactions.states import RESERVING_STATES, Kind, State

ZERO = Decimal("0.00")


def intent_list_for_user(*, user) -> QuerySet[Intent]:
    return Intent.objects.filter(store__in=store_list_for_user(user=user)).select_related(
        "store", "terminal", "original"
    )


def intent_get_for_user(*, user, public_id) -> Intent:
    try:
        return (
            intent_list_for_user(user=user)
            .select_related("store__merchant")
            .get(public_id=public_id)
        )
    except (Intent.DoesNotExist, ValueError, TypeError, ValidationError) as exc:
        raise Http404("Intención no encontrada") from exc


def intent_list_for_pos(*, pos_client) -> QuerySet[Intent]:
    return Intent.objects.filter(store_id=pos_client.store_id).select_related(
        "store", "terminal", "original"
    )


def intent_get_for_pos(*, pos_client, public_id) -> Intent:
    try:
        return (
            intent_list_for_pos(pos_client=pos_client)
            .select_related("store__merchant")
            .get(public_id=public_id)
        )
    except (Intent.DoesNotExist, ValueError, TypeError, ValidationError) as exc:
        raise Http404("Intención no encontrada") from exc


@dataclass
class TerminalState:
    """A terminal's live state as the portal knows it."""

    terminal: Terminal
    state: str  # "idle" | "busy" | "disabled"
    current_intent: Intent | None
    last_taken_at: datetime | None
    stuck_count: int

    @property
    def label(self) -> str:
        return {"idle": "Libre", "busy": "Ocupada", "disabled": "Deshabilitada"}[self.state]


def _with_health(terminals: QuerySet[Terminal]) -> QuerySet[Terminal]:
    """Adds the last time an intention was taken and how many live ones are stuck."""
    return terminals.annotate(
        last_taken=Max("taken_intents__taken_at"),
        stuck=Count(
            "offered_intents",
            filter=Q(offered_intents__needs_attention=True)
            & Q(offered_intents__state__in=sorted(RESERVING_STATES)),
            distinct=True,
        ),
    )


def terminal_states_for_store(*, store: Store) -> list[TerminalState]:
    """Live state of every terminal of a store in a fixed number of queries."""
    return _states_for(list(_with_health(store.terminals.all()).order_by("label", "terminal_id")))


def terminal_live_state(*, terminal: Terminal) -> TerminalState:
    return _states_for([_with_health(Terminal.objects.filter(pk=terminal.pk)).get()])[0]


def _states_for(terminals: list[Terminal]) -> list[TerminalState]:
    live = (
        Intent.objects.filter(offered_terminals__in=terminals, state__in=sorted(RESERVING_STATES))
        .select_related("terminal")
        .order_by("created_at")
        .values_list("offered_terminals", "pk")
    )
    current_by_terminal: dict[int, int] = {}
    for terminal_pk, intent_pk in live:
        current_by_terminal.setdefault(terminal_pk, intent_pk)
    intents = Intent.objects.in_bulk(set(current_by_terminal.values()))
    states = []
    for terminal in terminals:
        current = intents.get(current_by_terminal.get(terminal.pk))
        if not terminal.enabled:
            state = "disabled"
        elif current is not None:
            state = "busy"
        else:
            state = "idle"
        states.append(
            TerminalState(
                terminal=terminal,
                state=state,
                current_intent=current,
                last_taken_at=getattr(terminal, "last_taken", None),
                stuck_count=getattr(terminal, "stuck", 0) or 0,
            )
        )
    return states


def refundable_balance(*, payment: Intent) -> Decimal:
    """What may still be refunded: the payment minus approved and in-flight refunds; nothing if
    it was reversed or a reversal is in flight."""
    if payment.kind != Kind.PAYMENT or payment.state != State.APPROVED or payment.amount is None:
        return ZERO
    followups = payment.followups.exclude(state__in=[State.DECLINED, State.FAILED, State.CANCELLED])
    if followups.filter(kind=Kind.REVERSAL).exists():
        return ZERO
    refunded = followups.filter(kind=Kind.REFUND).aggregate(total=Sum("amount"))["total"] or ZERO
    return payment.amount - refunded


def batch_is_closed(*, terminal: Terminal | None, batch_number: int | None) -> bool:
    if terminal is None or batch_number is None:
        return False
    return Batch.objects.filter(terminal=terminal, batch_number=batch_number).exists()


def _closed_after(payment: Intent) -> bool:
    """Whether the terminal closed a batch after the payment was approved. It does not depend on
    the Batch row (written after the settlement) nor on the payment carrying a batch number."""
    approved_at = payment.finished_at or payment.taken_at or payment.created_at
    return Intent.objects.filter(
        kind=Kind.SETTLEMENT,
        terminal_id=payment.terminal_id,
        state=State.APPROVED,
        finished_at__gt=approved_at,
    ).exists()


def reversal_allowed(*, payment: Intent) -> tuple[bool, tuple[str, str] | None]:
    """Whether an anulación is possible, else (code, Spanish reason)."""
    if payment.kind != Kind.PAYMENT or payment.state != State.APPROVED:
        return False, ("reversal_not_allowed", "Solo se anula un cobro aprobado.")
    if (payment.acquirer or "").upper() == "AMEX" or payment.card_brand_code == "AM":
        return False, (
            "reversal_not_allowed",
            "Los cobros con American Express no se anulan: use una devolución.",
        )
    if payment.terminal_id is None or not payment.provider_id:
        return False, ("reversal_not_allowed", "El cobro no tiene terminal o id de Prisma.")
    if batch_is_closed(terminal=payment.terminal, batch_number=payment.batch_number) or (
        _closed_after(payment)
    ):
        return False, (
            "batch_closed",
            "El lote del cobro ya se cerró: corresponde una devolución.",
        )
    if Intent.objects.filter(
        kind=Kind.SETTLEMENT, terminal_id=payment.terminal_id, state__in=sorted(RESERVING_STATES)
    ).exists():
        return False, (
            "settlement_in_progress",
            "Se está cerrando el lote de la terminal: espere el cierre y haga una devolución.",
        )
    active = payment.followups.exclude(state__in=[State.DECLINED, State.FAILED, State.CANCELLED])
    if active.filter(kind=Kind.REVERSAL).exists():
        return False, ("reversal_not_allowed", "El cobro ya tiene una anulación.")
    if active.filter(kind=Kind.REFUND).exists():
        return False, (
            "reversal_not_allowed",
            "El cobro tiene devoluciones: no se puede anular completo.",
        )
    return True, None


def intent_actions_for_user(*, intent: Intent, user) -> set[str]:
    """The actions the rules and the user's role allow on this intent right now."""
    actions: set[str] = set()
    store = intent.store

    def can(action):
        return user_can(user=user, store=store, action=action)

    if (
        intent.kind in (Kind.PAYMENT, Kind.REVERSAL, Kind.REFUND)
        and intent.state in (State.PENDING, State.PROCESSING)
        and intent.provider_id
        and can(Action.CANCEL)
    ):
        actions.add("cancel")
    if intent.kind == Kind.PAYMENT and intent.state == State.APPROVED:
        if reversal_allowed(payment=intent)[0] and can(Action.REVERSE):
            actions.add("reverse")
        if refundable_balance(payment=intent) > 0 and can(Action.REFUND):
            actions.add("refund")
    resolvable = intent.state == State.IN_DOUBT and not intent.provider_id
    if resolvable and can(Action.RESOLVE):
        actions.add("resolve")
    if intent.needs_attention and not resolvable and can(Action.RESOLVE):
        actions.add("acknowledge")
    return actions


def intents_needing_attention(*, stores) -> QuerySet[Intent]:
    """What a person must look at: in doubt, stuck, unknown statuses, lost cancellations."""
    return (
        Intent.objects.filter(store__in=stores)
        .filter(Q(state=State.IN_DOUBT) | Q(needs_attention=True))
        .select_related("store", "terminal")
        .order_by("-created_at")
    )
