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
from transactions.errors import Code
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


_LIVE_FOLLOWUP_EXCLUDED = [State.DECLINED, State.FAILED, State.CANCELLED]
Refusal = tuple[Code, str]


def reversal_refusals(payments) -> dict[int, Refusal | None]:
    """The anulación rule for many payments at once: for each payment's pk, None when it may be
    annulled, else (code, Spanish reason). A fixed number of queries however many payments, so
    the API can offer the `reversal` link on a whole page with the very rule the service applies.

    A batch is closed when its Batch row exists or when the terminal approved a settlement after
    the payment: the latter does not depend on the Batch row (written after the settlement) nor
    on the payment carrying a batch number.
    """
    refusals: dict[int, Refusal | None] = {}
    candidates: list[Intent] = []
    for payment in payments:
        if payment.kind != Kind.PAYMENT or payment.state != State.APPROVED:
            refusals[payment.pk] = (Code.REVERSAL_NOT_ALLOWED, "Solo se anula un cobro aprobado.")
        elif (payment.acquirer or "").upper() == "AMEX" or payment.card_brand_code == "AM":
            refusals[payment.pk] = (
                Code.REVERSAL_NOT_ALLOWED,
                "Los cobros con American Express no se anulan: use una devolución.",
            )
        elif payment.terminal_id is None or not payment.provider_id:
            refusals[payment.pk] = (
                Code.REVERSAL_NOT_ALLOWED,
                "El cobro no tiene terminal o id de Prisma.",
            )
        else:
            candidates.append(payment)
    if not candidates:
        return refusals
    terminal_ids = {p.terminal_id for p in candidates if p.terminal_id is not None}
    closed_batches = set(
        Batch.objects.filter(
            terminal_id__in=terminal_ids,
            batch_number__in={p.batch_number for p in candidates if p.batch_number is not None},
        ).values_list("terminal_id", "batch_number")
    )
    last_settled: dict[int | None, datetime] = dict(
        Intent.objects.filter(
            kind=Kind.SETTLEMENT, terminal_id__in=terminal_ids, state=State.APPROVED
        )
        .values("terminal_id")
        .annotate(last=Max("finished_at"))
        .values_list("terminal_id", "last")
    )
    settling = set(
        Intent.objects.filter(
            kind=Kind.SETTLEMENT,
            terminal_id__in=terminal_ids,
            state__in=sorted(RESERVING_STATES),
        ).values_list("terminal_id", flat=True)
    )
    live_followups = set(
        Intent.objects.filter(
            original__in=[p.pk for p in candidates], kind__in=[Kind.REVERSAL, Kind.REFUND]
        )
        .exclude(state__in=_LIVE_FOLLOWUP_EXCLUDED)
        .values_list("original_id", "kind")
    )
    for payment in candidates:
        approved_at = payment.finished_at or payment.taken_at or payment.created_at
        last = last_settled.get(payment.terminal_id)
        if (payment.terminal_id, payment.batch_number) in closed_batches or (
            last is not None and last > approved_at
        ):
            refusal = (
                Code.BATCH_CLOSED,
                "El lote del cobro ya se cerró: corresponde una devolución.",
            )
        elif payment.terminal_id in settling:
            refusal = (
                Code.SETTLEMENT_IN_PROGRESS,
                "Se está cerrando el lote de la terminal: espere el cierre y haga una devolución.",
            )
        elif (payment.pk, Kind.REVERSAL) in live_followups:
            refusal = (Code.REVERSAL_NOT_ALLOWED, "El cobro ya tiene una anulación.")
        elif (payment.pk, Kind.REFUND) in live_followups:
            refusal = (
                Code.REVERSAL_NOT_ALLOWED,
                "El cobro tiene devoluciones: no se puede anular completo.",
            )
        else:
            refusal = None
        refusals[payment.pk] = refusal
    return refusals


def reversal_allowed(*, payment: Intent) -> tuple[bool, Refusal | None]:
    """Whether an anulación is possible, else (code, Spanish reason). See `reversal_refusals`."""
    refusal = reversal_refusals([payment])[payment.pk]
    return refusal is None, refusal


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
