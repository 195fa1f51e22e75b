"""The create pipeline that every money-moving service shares (DESIGN.md, STYLE.md rule 2):

  1. the caller checks the rules (nothing written if refused);
  2. `create_row` commits the intent as `created` in a short transaction that also locks the
     terminals, so two requests cannot both find a terminal free;
  3. `send` calls the provider outside any transaction;
  4. and records the answer in a second short, guarded write, with the provider-call row and
     the caller's record of the answer (the POS key's, `intent_answered_listener`).
A create whose answer was lost is `in_doubt` and is never sent again: the resolver looks for it.
"""

import contextlib
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from ecrportal.compiled_insert import CompiledInsert
from ecrportal.compiled_query import Arg, CompiledQuery
from stores.models import Store, Terminal
from transactions.backoff import created_grace_seconds
from transactions.errors import Code, IntentRuleError
from transactions.events import Actor, event_write
from transactions.gateway import CallHold, GatewayError, provider_calls_held
from transactions.labels import PROVIDER_UNREACHABLE_MESSAGE
from transactions.models import Intent, IntentEvent, remember_offered_terminals
from transactions.selectors import (
    blocking_advice,
    terminal_blocking_intent,
    terminals_busy,
    terminals_busy_prepare,
)
from transactions.states import State
from transactions.transitions import intent_record_answer, intent_transition


def busy_terminals(terminals: list[Terminal]) -> list[Terminal]:
    """Terminals that hold an intention which may still be on their screen: the one rule that
    the terminal lists show too (`selectors.intent_holds_terminal_q`)."""
    return terminals_busy(terminals=terminals)


def busy_refusal(busy: list[Terminal]) -> IntentRuleError:
    """The refusal of a create on a busy terminal, naming the intent that holds it (the API's
    problem body carries its id; the dashboard links to it and says who can act)."""
    blocking = terminal_blocking_intent(terminals=busy)
    message = f"La terminal {busy[0].terminal_id} tiene una operación pendiente."
    if blocking is not None:
        message += " " + blocking_advice(intent=blocking)
    return IntentRuleError(
        Code.TERMINAL_BUSY,
        message,
        field="terminal",
        blocking_intent_id=str(blocking.public_id) if blocking is not None else None,
    )


def _unique_ecr_transaction_id(*, store: Store, base: str, public_id) -> str:
    """The reference sent to the provider: the POS's own when it has one, made unique within the
    merchant (a retried order gets `-R2`, `-R3`...), because the in-doubt resolver identifies an
    intention by it and must never adopt another attempt's payment."""
    if not base:
        return f"ECR-{public_id.hex[:16]}"
    candidate, attempt = base[:64], 1
    while _REFERENCE_TAKEN.rows(merchant_id=store.merchant_id, candidate=candidate):
        attempt += 1
        suffix = f"-R{attempt}"
        candidate = base[: 64 - len(suffix)] + suffix
    return candidate


# Every create runs these in its transaction (the reference check when it has a POS reference):
# compiled once, and the reference check prepared on the server before that transaction
# (`_prepare_row_checks`).
_REFERENCE_TAKEN = CompiledQuery(
    "reference_taken",
    lambda merchant_id, candidate: (
        Intent.objects.filter(store__merchant_id=merchant_id, ecr_transaction_id=candidate)
        .order_by()
        .values_list("pk")[:1]
    ),
    server_prepared=True,
    merchant_id=Arg(Store._meta.get_field("merchant")),
    candidate=Arg(Intent._meta.get_field("ecr_transaction_id")),
)
_LOCK_TERMINALS = CompiledQuery(
    "lock_terminals",
    lambda terminal_ids: (
        Terminal.objects.select_for_update()
        .filter(pk__in=terminal_ids)
        .order_by("pk")
        .values_list("pk")
    ),
    # Not prepared: the ORM compiles FOR UPDATE only inside a transaction, and a lookup by
    # primary key costs the planner little.
    terminal_ids=Arg(Terminal._meta.pk, many=True),
)


# Every create inserts one, and the row of the terminal it is offered to (most offer one):
# compiled once per connection (`CompiledInsert`).
_INTENT_INSERT = CompiledInsert(Intent)
_Offered = Intent.offered_terminals.through
_OFFERED_INSERT = CompiledInsert(_Offered)


def _prepare_row_checks(terminals, *, with_reference: bool) -> None:
    """Prepares `create_row`'s statements on the server before its transaction: planning them
    cost PostgreSQL more than running them, and inside the transaction only a statement
    prepared beforehand is run prepared (`CompiledQuery.prepare`)."""
    terminals_busy_prepare(terminals=terminals)
    if with_reference:
        _REFERENCE_TAKEN.prepare()


_created_listener: ContextVar[Callable[[Intent], None] | None] = ContextVar(
    "intent_created_listener", default=None
)


@contextlib.contextmanager
def intent_created_listener(callback: Callable[[Intent], None]):
    """Calls `callback(intent)` inside the transaction that commits a service's intent row in this
    block, before the provider is called. The POS API links its idempotency key to the intent this
    way: the link commits with the row or not at all, so a request that dies at any point still
    leaves the key pointing at what it created."""
    token = _created_listener.set(callback)
    try:
        yield
    finally:
        _created_listener.reset(token)


def create_row(
    *,
    store,
    terminals,
    credential,
    actor: Actor,
    ecr_base: str = "",
    recheck: Callable[[Intent], None] | None = None,
    **fields,
) -> Intent:
    """Commits the intent as `created` with its terminals locked, after the last rule checks.

    A reversal or refund also locks its original payment and re-runs `recheck` on the locked row,
    so a reversal and a refund (or two refunds) racing on one payment cannot both pass.
    """
    _prepare_row_checks(terminals, with_reference=bool(ecr_base))
    try:
        with transaction.atomic():
            # Lock the terminals so a concurrent request cannot also find them free. On SQLite the
            # IMMEDIATE transaction already serialises writers.
            _LOCK_TERMINALS.rows(terminal_ids=sorted({t.pk for t in terminals}))
            original = fields.get("original")
            if original is not None:
                locked = Intent.objects.select_for_update().get(pk=original.pk)
                if recheck is not None:
                    recheck(locked)
            # A refund or reversal waiting for approval is not sent: it holds no terminal and
            # the sweeper has nothing to poll (`services.approvals` sends it once approved).
            held = fields.get("state") == State.APPROVAL_PENDING
            busy = [] if held else busy_terminals(terminals)
            if busy:
                raise busy_refusal(busy)
            # No look-up for a live payment with the same POS reference: the partial unique
            # index `intent_live_reference_per_store` refuses the insert below, under any
            # concurrency, and that refusal is answered as `reference_in_use` (the except).
            public_id = uuid.uuid4()
            # After the locks, a moment before the row's own `created_at`: the grace period runs
            # from the insert, not from the start of a wait for the terminals' locks (the
            # sweeper also looks again when a grace period turns out not to be over:
            # `backoff.next_poll_delay`).
            now = timezone.now()
            intent = _INTENT_INSERT.save(
                Intent(
                    public_id=public_id,
                    store=store,
                    credential=credential,
                    requested_by_user=actor.user,
                    requested_by_pos=actor.pos_client,
                    ecr_transaction_id=_unique_ecr_transaction_id(
                        store=store, base=ecr_base, public_id=public_id
                    ),
                    # If this process dies before recording the answer, the sweeper finds the row
                    # after the grace period and resolves it like an in-doubt create.
                    next_poll_at=None if held else now + timedelta(seconds=created_grace_seconds()),
                    **fields,
                )
            )
            # One INSERT of the new rows (`.set()` would first read the rows a new intent
            # cannot have), and the answer is built from them without reading them back.
            offered = [_Offered(intent_id=intent.pk, terminal_id=t.pk) for t in terminals]
            if len(offered) == 1:
                _OFFERED_INSERT.save(offered[0])
            else:
                _Offered.objects.bulk_create(offered)
            remember_offered_terminals(intent, terminals)
            event_write(
                intent=intent,
                type=IntentEvent.Type.CREATED,
                to_state=intent.state,
                **actor.event_fields(),
            )
            listener = _created_listener.get()
            if listener is not None:
                listener(intent)
    except IntegrityError as exc:
        # The partial unique index on live references: a payment for this POS reference may
        # still move money (or was closed as never received with the reference kept).
        reference = fields.get("reference", "")
        raise IntentRuleError(
            Code.REFERENCE_IN_USE,
            f"Ya hay un cobro en curso o en duda para la referencia {reference}, o una persona "
            "la dejó reservada.",
            field="reference",
        ) from exc
    return intent


_answered_listener: ContextVar[Callable[[Intent], None] | None] = ContextVar(
    "intent_answered_listener", default=None
)


@contextlib.contextmanager
def intent_answered_listener(callback: Callable[[Intent], None]):
    """Calls `callback(intent)`, with the intent as answered, last in the transaction that
    records the provider's first answer to a create of this block. The POS API stores its
    key's answer this way: the answer, its provider-call row and the key's answer are one short
    write. Not called when the answer is not recorded in that one write (a refusal, an unknown
    status, an answer the sweeper overtook): the caller then stores its own afterwards."""
    token = _answered_listener.set(callback)
    try:
        yield
    finally:
        _answered_listener.reset(token)


def send(intent: Intent, call, *, actor: Actor) -> Intent:
    """Calls the provider for a freshly created intent and records what happened: the answer,
    the provider-call row and (`intent_answered_listener`) the caller's own record in one
    transaction, after the call."""
    sent_at = timezone.now()
    with provider_calls_held(intent.pk) as calls:
        try:
            answer = call()
        except GatewayError as exc:
            return _record_create_error(intent, exc, actor=actor, sent_at=sent_at, calls=calls)
        listener = _answered_listener.get()

        def with_the_answer(answered: Intent) -> None:
            calls.write()
            if listener is not None:
                listener(answered)

        try:
            # One write records both the sending and the provider's first answer.
            recorded = intent_record_answer(
                intent,
                answer,
                actor=actor,
                reschedule=True,
                extra_fields={"sent_at": sent_at},
                in_transaction=with_the_answer,
            )
        except BaseException:
            calls.rolled_back()
            raise
        if (
            not recorded
            and intent.state == State.IN_DOUBT
            and not intent.provider_id
            and answer.provider_id
        ):
            # The answer was so slow that the sweeper took this row for orphaned and put it in
            # doubt. The answer is here after all: adopt it instead of losing the provider's id.
            Intent.objects.filter(pk=intent.pk, provider_id="").update(
                provider_id=answer.provider_id
            )
            intent.provider_id = answer.provider_id
            intent_record_answer(
                intent, answer, actor=actor, reschedule=True, extra_fields={"sent_at": sent_at}
            )
    return intent


def _record_create_error(
    intent: Intent, exc: GatewayError, *, actor: Actor, sent_at, calls: CallHold
) -> Intent:
    def with_the_failure(_intent: Intent) -> None:
        calls.write()

    try:
        if exc.in_doubt:
            intent_transition(
                intent,
                to_state=State.IN_DOUBT,
                actor=actor,
                fields={"sent_at": sent_at, "next_poll_at": timezone.now() + timedelta(seconds=2)},
                message=f"Respuesta perdida al crear: {exc.message}. Se buscará en Prisma; "
                "no se volverá a enviar.",
                in_transaction=with_the_failure,
            )
            return intent
        # Definitely not created at the provider (refused, or never sent).
        intent_transition(
            intent,
            to_state=State.FAILED,
            actor=actor,
            fields={"response_message": exc.message[:200], "sent_at": sent_at},
            message=f"Prisma no creó la intención: {exc.message}",
            in_transaction=with_the_failure,
        )
    except BaseException:
        calls.rolled_back()
        raise
    status = exc.http_status
    if status == 409:
        raise _provider_rule_error(Code.TERMINAL_BUSY, exc, intent)
    if status is not None and 400 <= status < 500:
        raise _provider_rule_error(Code.PROVIDER_REJECTED, exc, intent)
    raise _provider_rule_error(Code.PROVIDER_UNAVAILABLE, exc, intent)


def _provider_rule_error(code: Code, exc: GatewayError, intent: Intent) -> IntentRuleError:
    # What the person reads: what happened and what to do, once. The technical detail (the
    # gateway's message, with the transport error's name) is in the intent's history and the
    # provider calls, not here.
    messages = {
        Code.TERMINAL_BUSY: "Prisma informa que la terminal tiene una operación pendiente.",
        Code.PROVIDER_REJECTED: f"Prisma rechazó la operación: {exc.message}",
        Code.PROVIDER_UNAVAILABLE: PROVIDER_UNREACHABLE_MESSAGE,
    }
    return IntentRuleError(code, messages[code], intent_id=intent.pk)
