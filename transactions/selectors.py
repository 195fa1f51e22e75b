"""Reads of the ledger, scoped to what a user or a POS key may see (404 outside)."""

import datetime as dt
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import (
    BooleanField,
    Count,
    ExpressionWrapper,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.http import Http404
from django.utils import timezone

from ecrportal.compiled_query import Arg, CompiledQuery
from stores.models import Store, Terminal
from stores.permissions import StorePermissions
from stores.roles import Action, roles_allowed_text
from stores.selectors import store_list_for_user
from transactions.backoff import IN_DOUBT_FAST_SEARCH
from transactions.errors import Code
from transactions.models import ApprovalRequest, Batch, Intent, StoreClose
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


def intent_holds_terminal_q(*, prefix: str = "", now=None) -> Q:
    """The one rule of a busy terminal, as a filter on intents (`prefix` reaches them through a
    relation, e.g. `"intent__"` from an offer): an intent offered to a terminal holds it while
    it is in a reserving state and may still be on its screen.

    An in-doubt create that the resolver could not find within its fast search window is not on
    any screen: it stops holding the terminal (its POS reference stays reserved until a person
    resolves it, so the order still cannot be charged twice). The create's busy check
    (`services.pipeline.busy_terminals`), `GET /api/v1/terminals` and the dashboard's terminal
    state all use this rule, so a terminal shown free accepts a create and the reverse.
    """
    now = now or timezone.now()
    reserving = Q(**{f"{prefix}state__in": sorted(RESERVING_STATES)})
    stale_doubt = Q(
        **{
            f"{prefix}state": State.IN_DOUBT,
            f"{prefix}created_at__lt": now - IN_DOUBT_FAST_SEARCH,
        }
    )
    return reserving & ~stale_doubt


def terminals_busy(*, terminals: list[Terminal]) -> list[Terminal]:
    """The terminals of `terminals` that an intent holds (`intent_holds_terminal_q`)."""
    ids = list(dict.fromkeys(t.pk for t in terminals))
    stale_before = timezone.now() - IN_DOUBT_FAST_SEARCH
    busy_ids = {row[0] for row in _TERMINALS_BUSY.rows(terminal_ids=ids, stale_before=stale_before)}
    return [t for t in terminals if t.pk in busy_ids]


def terminals_busy_prepare(*, terminals: list[Terminal]) -> None:
    """Prepares the busy check on the server before the transaction that runs it."""
    _TERMINALS_BUSY.prepare(terminal_ids=len({t.pk for t in terminals}))


# Every create runs it inside its transaction, under the terminals' locks: compiled once, and
# prepared on the server before that transaction (`CompiledQuery`): planning the join cost
# PostgreSQL more than running it. No order: a set (the model's order would only add a sort).
_TERMINALS_BUSY = CompiledQuery(
    "terminals_busy",
    lambda terminal_ids, stale_before: (
        Intent.objects.filter(
            intent_holds_terminal_q(now=stale_before + IN_DOUBT_FAST_SEARCH),
            offered_terminals__in=terminal_ids,
        )
        .order_by()
        .values_list("offered_terminals")
    ),
    server_prepared=True,
    terminal_ids=Arg(Terminal._meta.pk, many=True),
    stale_before=Arg(Intent._meta.get_field("created_at")),
)


def terminal_blocking_intent(*, terminals: list[Terminal]) -> Intent | None:
    """The oldest intent that holds one of `terminals` (`intent_holds_terminal_q`): the one a
    busy refusal names, so the person or the till can go and act on it."""
    return (
        Intent.objects.filter(intent_holds_terminal_q(), offered_terminals__in=terminals)
        .order_by("created_at", "pk")
        .first()
    )


def blocking_advice(*, intent: Intent) -> str:
    """Who can unblock a terminal that `intent` holds, in Spanish, by role (the roles come from
    `stores.roles`, so the sentence follows the permissions table)."""
    if intent.state == State.IN_DOUBT:
        return (
            "No sabemos si Prisma la recibió. La puede resolver "
            f"{roles_allowed_text(Action.RESOLVE)} desde su página."
        )
    if intent.state in (State.PENDING, State.PROCESSING) and intent.provider_id:
        return (
            "Esperá que termine en la terminal, o la puede cancelar "
            f"{roles_allowed_text(Action.CANCEL)} desde su página."
        )
    if intent.state == State.CANCELLING:
        return "Se está cancelando: esperá unos segundos y volvé a intentar."
    return "Se está enviando a Prisma: esperá unos segundos y volvé a intentar."


@dataclass
class TerminalState:
    """A terminal's live state as the portal knows it."""

    terminal: Terminal
    state: str  # "idle" | "busy" | "disabled"
    current_intent: Intent | None
    last_taken_at: datetime | None
    stuck_count: int
    # When the terminal last took a payment (Hoy's "Último cobro"): a batch close is no cobro.
    last_payment_at: datetime | None = None

    @property
    def label(self) -> str:
        return {"idle": "Libre", "busy": "Ocupada", "disabled": "Deshabilitada"}[self.state]


def _last_taken(**only):
    """When the terminal last took an intention in its present store: one probe of the
    `intent_terminal_taken` index per terminal (a correlated subquery, not a GROUP BY over its
    history). A terminal moved from another store shows nothing of its past there. `only`
    narrows the intentions (`kind=Kind.PAYMENT`: the last cobro, not the last batch close)."""
    return Subquery(
        Intent.objects.filter(
            terminal=OuterRef("pk"), store_id=OuterRef("store_id"), taken_at__isnull=False, **only
        )
        .order_by("-taken_at")
        .values("taken_at")[:1]
    )


def _with_last_taken(terminals: QuerySet[Terminal]) -> QuerySet[Terminal]:
    return terminals.annotate(last_taken=_last_taken(), last_payment=_last_taken(kind=Kind.PAYMENT))


def terminal_states_for_stores(*, stores) -> dict[int, list[TerminalState]]:
    """Live state of every terminal of these stores (by store pk, each list ordered by label),
    in two queries however many stores, terminals and intents there are."""
    store_pks = [store.pk for store in stores]
    terminals: list[Terminal] = list(
        _with_last_taken(Terminal.objects.filter(store_id__in=store_pks)).order_by(
            "label", "terminal_id"
        )
    )
    by_store: dict[int, list[TerminalState]] = {pk: [] for pk in store_pks}
    for state in _states_for(terminals):
        by_store[state.terminal.store_id].append(state)
    return by_store


def terminal_states_for_store(*, store: Store) -> list[TerminalState]:
    """Live state of every terminal of a store in a fixed number of queries."""
    return terminal_states_for_stores(stores=[store])[store.pk]


def terminal_live_state(*, terminal: Terminal) -> TerminalState:
    annotated: Terminal = _with_last_taken(Terminal.objects.filter(pk=terminal.pk)).get()
    return _states_for([annotated])[0]


def _states_for(terminals: list[Terminal]) -> list[TerminalState]:
    """One query for what is live on these terminals: the offers of intents in a reserving state
    (the `intent_live_created` partial index keeps it as small as the work in flight). The
    oldest offer of an intent that holds the terminal (`intent_holds_terminal_q`, the create's
    own rule) is its current intent and makes it busy; the flagged ones, a stale in-doubt
    create included, are its stuck count."""
    if not terminals:
        return []
    offers = (
        Intent.offered_terminals.through.objects.filter(
            terminal_id__in=[t.pk for t in terminals],
            intent__state__in=sorted(RESERVING_STATES),
        )
        .select_related("intent")
        .annotate(
            holds=ExpressionWrapper(
                intent_holds_terminal_q(prefix="intent__"), output_field=BooleanField()
            )
        )
        .order_by("intent__created_at", "intent_id")
    )
    current: dict[int, Intent] = {}
    stuck: dict[int, int] = {}
    for offer in offers:
        if offer.holds:  # type: ignore[attr-defined]  # the annotation above
            current.setdefault(offer.terminal_id, offer.intent)
        if offer.intent.needs_attention:
            stuck[offer.terminal_id] = stuck.get(offer.terminal_id, 0) + 1
    states = []
    for terminal in terminals:
        intent = current.get(terminal.pk)
        if not terminal.enabled:
            state = "disabled"
        elif intent is not None:
            state = "busy"
        else:
            state = "idle"
        states.append(
            TerminalState(
                terminal=terminal,
                state=state,
                current_intent=intent,
                last_taken_at=getattr(terminal, "last_taken", None),
                stuck_count=stuck.get(terminal.pk, 0),
                last_payment_at=getattr(terminal, "last_payment", None),
            )
        )
    return states


def refundable_balance(*, payment: Intent) -> Decimal:
    """What may still be refunded: the payment minus approved and in-flight refunds; nothing if
    it was reversed or a reversal is in flight. One query."""
    if payment.kind != Kind.PAYMENT or payment.state != State.APPROVED or payment.amount is None:
        return ZERO
    followups = payment.followups.exclude(
        state__in=[State.DECLINED, State.FAILED, State.CANCELLED]
    ).aggregate(
        reversals=Count("pk", filter=Q(kind=Kind.REVERSAL)),
        refunded=Sum("amount", filter=Q(kind=Kind.REFUND)),
    )
    if followups["reversals"]:
        return ZERO
    return payment.amount - (followups["refunded"] or ZERO)


def batch_is_closed(*, terminal: Terminal | None, batch_number: int | None) -> bool:
    if terminal is None or batch_number is None:
        return False
    return Batch.objects.filter(terminal=terminal, batch_number=batch_number).exists()


_LIVE_FOLLOWUP_EXCLUDED = [State.DECLINED, State.FAILED, State.CANCELLED]
Refusal = tuple[Code, str]


def terminal_open_batch_is_empty(*, terminal: Terminal) -> bool:
    """Whether the terminal's open batch holds nothing the portal knows: no approved payment,
    reversal or refund, and nothing that may still become one, since its last approved close.

    Closing such a batch is refused (`Code.BATCH_EMPTY`): the contract says nothing of an empty
    close (§4, §5 [U]; the simulator closes it and prints a ticket of zeros), and an empty close
    only adds a batch of zeros to reconcile, and a ticket to print, for nothing. Sales made on
    the terminal without the portal are unknown here: the refusal says what it counted.
    """
    last_close = (
        Intent.objects.filter(kind=Kind.SETTLEMENT, state=State.APPROVED, terminal=terminal)
        .exclude(finished_at=None)
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )
    approved = Q(state=State.APPROVED, terminal=terminal)
    if last_close is not None:
        approved &= Q(finished_at__gt=last_close) | Q(finished_at=None, created_at__gt=last_close)
    # Anything still open on the terminal (offered, not only taken: an in-doubt charge no
    # terminal was seen taking may have been paid) keeps the batch from counting as empty, so
    # the close goes on to the busy check, which names and links the operation in the way.
    unsettled = Q(state__in=sorted(RESERVING_STATES), offered_terminals=terminal)
    operations = Intent.objects.filter(kind__in=[Kind.PAYMENT, Kind.REVERSAL, Kind.REFUND])
    return not operations.filter(approved | unsettled).exists()


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


@dataclass(frozen=True)
class IntentRules:
    """What a page shows of an intent's rules right now: the actions the rules and the user's
    role allow, and for an approved payment its refundable balance and why it may not be
    annulled (None when it may). Computed once per render: the live panel polls every second."""

    actions: frozenset[str]
    refundable: Decimal | None = None
    reversal_refusal: Refusal | None = None


def intent_rules_for_user(*, intent: Intent, user) -> IntentRules:
    """The actions on this intent, its refundable balance and the reversal rule, each rule
    evaluated once (see `IntentRules`)."""
    actions: set[str] = set()
    store = intent.store
    refundable: Decimal | None = None
    reversal_refusal: Refusal | None = None

    permissions: list[StorePermissions] = []

    def can(action):
        # The user's roles are read once (one query), and only if some action is possible.
        if not permissions:
            permissions.append(StorePermissions(user=user, stores=[store]))
        return permissions[0].allows(store, action)

    if (
        intent.kind in (Kind.PAYMENT, Kind.REVERSAL, Kind.REFUND)
        and intent.state in (State.PENDING, State.PROCESSING)
        and intent.provider_id
        and can(Action.CANCEL)
    ):
        actions.add("cancel")
    if intent.kind == Kind.PAYMENT and intent.state == State.APPROVED:
        reversal_refusal = reversal_refusals([intent])[intent.pk]
        refundable = refundable_balance(payment=intent)
        if reversal_refusal is None and can(Action.REVERSE):
            actions.add("reverse")
        if refundable > 0 and can(Action.REFUND):
            actions.add("refund")
    if intent.state == State.APPROVAL_PENDING:
        # Maker-checker: a second person decides; the one who asked may only withdraw it.
        if can(Action.CANCEL):
            actions.add("cancel")
        requester = intent.requested_by_user_id
        if can(Action.APPROVE) and (requester is None or requester != user.pk):
            actions.add("approve")
    resolvable = intent.state == State.IN_DOUBT and not intent.provider_id
    if resolvable and can(Action.RESOLVE):
        actions.add("resolve")
        if intent.kind == Kind.PAYMENT:
            # Only payments can be searched for at the provider.
            actions.add("not_received")
    if intent.reference_held and can(Action.RESOLVE):
        actions.add("release_reference")
    if intent.needs_attention and not resolvable and can(Action.RESOLVE):
        actions.add("acknowledge")
    return IntentRules(
        actions=frozenset(actions), refundable=refundable, reversal_refusal=reversal_refusal
    )


def intent_actions_for_user(*, intent: Intent, user) -> set[str]:
    """The actions the rules and the user's role allow on this intent right now."""
    return set(intent_rules_for_user(intent=intent, user=user).actions)


def intents_needing_attention(*, stores) -> QuerySet[Intent]:
    """What a person must look at: in doubt, stuck, unknown statuses, lost cancellations."""
    return (
        Intent.objects.filter(store__in=stores)
        .filter(Q(state=State.IN_DOUBT) | Q(needs_attention=True))
        .select_related("store", "terminal")
        .order_by("-created_at")
    )


def store_closes_to_show(*, stores, now=None) -> list[StoreClose]:
    """Automatic closes of the last two days that did not finish: postponed or raised, for the
    Lotes page (`stores` already scoped)."""
    now = now or timezone.now()
    since = (now - dt.timedelta(days=2)).date()
    return list(
        StoreClose.objects.filter(store__in=stores, closed_at=None, day__gte=since)
        .filter(Q(attempts__gt=0) | Q(raised_at__isnull=False) | ~Q(last_problem=""))
        .select_related("store")
        .order_by("-day", "store__name")
    )


def approval_list_for_user(*, user, pending: bool = True) -> QuerySet:
    """The maker-checker requests of the stores where the user may approve (the Aprobaciones
    page): the pending ones, oldest first (the first to expire on top); or the decided ones,
    newest first. With the intent, its payment, terminal, store and the people, in one query."""
    stores = store_list_for_user(user=user, action=Action.APPROVE)
    queryset = ApprovalRequest.objects.filter(store__in=stores).select_related(
        "intent__original",
        "intent__terminal",
        "store",
        "requested_by_user",
        "requested_by_pos",
        "decided_by",
    )
    if pending:
        return queryset.filter(status=ApprovalRequest.Status.PENDING).order_by("expires_at")
    return queryset.exclude(status=ApprovalRequest.Status.PENDING).order_by("-decided_at", "-pk")


def attention_count_for_user(*, user) -> int:
    """How many operations need a person in the user's stores (the navigation's badge): one
    COUNT over the `intent_attention` partial index, as small as the open problems, whatever the
    number of stores or the size of the ledger."""
    if not user.is_authenticated:
        return 0
    return (
        Intent.objects.filter(store__in=store_list_for_user(user=user))
        .filter(Q(state=State.IN_DOUBT) | Q(needs_attention=True))
        .order_by()
        .count()
    )
