"""One poll of one intent: the provider read (or the in-doubt search) and the time rules.

Who polls and when is the sweeper's business (`transactions.sweeper`) or a watcher's
(`services.watch.intent_refresh`). A per-intent lock in the shared cache (`poll_lock`; a sweep
takes its claim's in one round trip, `PollLeases`) makes sure one intent is never polled twice at
once, even by a sweeper and a POS long-poll.
"""

import contextlib
import logging
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.db import DatabaseCache
from django.utils import timezone

from ecrportal.compiled_query import Arg, CompiledQuery
from transactions.backoff import created_grace_seconds
from transactions.cancellation import (
    intent_is_cancellable,
    intent_send_cancel_request,
    intent_start_cancelling,
)
from transactions.events import SWEEPER, Actor, intent_flag, intent_note
from transactions.gateway import GatewayError, gateway_for, provider_reads_held
from transactions.models import Intent, IntentEvent
from transactions.resolver import intent_find_in_doubt
from transactions.states import Kind, State
from transactions.transitions import intent_record_answer, intent_transition

logger = logging.getLogger(__name__)

# A processing intent is never abandoned; past this it is raised to a person as stuck.
STUCK_AFTER = timedelta(minutes=10)
POLL_LOCK_SECONDS = 60
CANCEL_RESEND_AFTER = timedelta(seconds=10)
WAITING_STATUSES = frozenset({"PAYMENT_REQUEST", "REFUND_REQUEST", "REVERSAL_REQUEST"})

_GET_CALLS: dict[str, tuple[str, str]] = {
    Kind.PAYMENT: ("payment_get", "payment_id"),
    Kind.REVERSAL: ("reversal_get", "reversal_id"),
    Kind.REFUND: ("refund_get", "refund_id"),
    Kind.SETTLEMENT: ("settlement_get", "settlement_id"),
}


# What one poll reads besides the intent's own row (the provider credential, the merchant's CUIT,
# the store's pending timeout, the terminal that took it). The sweeper's claim selects them with
# the intents it claims; a watcher loads them once per wait.
POLL_RELATED = ("store__merchant", "credential", "terminal")
# Columns of an intent that never change once it exists: a re-read skips them, so the related
# objects above stay loaded (refresh_from_db forgets a relation whose column it reloads).
_FIXED_COLUMNS = frozenset(
    {"id", "public_id", "store_id", "credential_id", "original_id", "kind", "created_at"}
    | {"requested_by_user_id", "requested_by_pos_id"}
)
_VOLATILE_COLUMNS = tuple(
    f.attname for f in Intent._meta.concrete_fields if f.attname not in _FIXED_COLUMNS
)


# A watcher re-reads its intent twice a second: the statement is compiled once per connection
# (building it through `refresh_from_db` every round cost the watcher more CPU than the database
# spent answering it). Not prepared on the server: a lookup by primary key costs the planner
# little, and a PREPARE would be a statement more in the wait's first round.
_VOLATILE_ROW = CompiledQuery(
    "intent_volatile_row",
    lambda pk: Intent._base_manager.filter(pk=pk).order_by().values_list(*_VOLATILE_COLUMNS),
    pk=Arg(Intent._meta.pk),
)


def intent_reload(intent: Intent) -> None:
    """Re-reads what may have changed in the intent, in one statement, keeping its store,
    merchant, credential and terminal loaded (a watcher re-reads twice a second).

    Setting a changed `terminal_id` drops the cached terminal (Django's foreign-key attribute
    does), so the terminal that took the intent is loaded once, when it is first used."""
    rows = _VOLATILE_ROW.rows(pk=intent.pk)
    if not rows:
        raise Intent.DoesNotExist(f"intent {intent.pk} no longer exists")
    for name, value in zip(_VOLATILE_COLUMNS, rows[0], strict=True):
        setattr(intent, name, value)


_local_polls: set[int] = set()
_local_guard = threading.Lock()


def _shared_lock_is_cheap() -> bool:
    """A lock in Redis or memory costs nothing; in the database cache it is two writes per poll.

    The database cache is the single-machine default, where the sweepers' claims already keep two
    sweepers off one intent and watchers mark `watched_until`; a process-local lock then covers
    the rest without writing. Several hosts configure Redis, and get the cross-process lock.
    """
    return not isinstance(caches["default"], DatabaseCache)


@contextlib.contextmanager
def poll_lock(intent_pk: int):
    """Yields True if this caller may poll the intent now (nobody else is polling it): the
    lease of one intent (`PollLeases`), held while the block runs."""
    with PollLeases([intent_pk]) as leases:
        yield intent_pk in leases.held


class PollLeases:
    """The poll locks of several intents (a sweep's whole claim; `poll_lock` takes one). The
    shared locks are taken in one round trip (`cache.add_many` where the cache has it, the
    portal's Redis backend; else one `add` each) and released in one, instead of two round trips
    per poll: those were a fifth of the sweeper's CPU. A lock is held until the sweep ends; a
    watcher that finds one held re-reads the database and tries again on its next round.

    `may_poll(pk)` before each poll: whether the lock is this sweep's and its lease cannot end
    during the poll. Late in a sweep that ran long (every read timing out) it can: that intent is
    left to a later sweep (the claim already moved its `next_poll_at`), never polled unlocked.
    """

    def __init__(self, intent_pks: list[int]) -> None:
        self.intent_pks = list(dict.fromkeys(intent_pks))
        self.held: set[int] = set()
        self._shared: dict[int, str] = {}
        self._taken_at = 0.0

    def __enter__(self) -> "PollLeases":
        with _local_guard:
            acquired = [pk for pk in self.intent_pks if pk not in _local_polls]
            _local_polls.update(acquired)
        self.held = set(acquired)
        if acquired and _shared_lock_is_cheap():
            keys = {f"ecr:poll-lock:{pk}": pk for pk in acquired}
            add_many = getattr(cache, "add_many", None)
            if add_many is not None:
                added = add_many(list(keys), 1, timeout=POLL_LOCK_SECONDS)
            else:
                added = {key for key in keys if cache.add(key, 1, timeout=POLL_LOCK_SECONDS)}
            self._shared = {pk: key for key, pk in keys.items() if key in added}
            refused = self.held - set(self._shared)
            if refused:
                with _local_guard:
                    _local_polls.difference_update(refused)
                self.held -= refused
        self._taken_at = time.monotonic()
        return self

    def may_poll(self, intent_pk: int) -> bool:
        if intent_pk not in self.held:
            return False
        return not (intent_pk in self._shared and self._late())

    def _late(self) -> bool:
        return time.monotonic() - self._taken_at > POLL_LOCK_SECONDS - _longest_poll_s()

    def __exit__(self, *exc_info) -> None:
        if self._shared:
            cache.delete_many(list(self._shared.values()))
        with _local_guard:
            _local_polls.difference_update(self.held)


def _longest_poll_s() -> float:
    """How long one provider read may take: its connect and read timeouts, with a margin."""
    timeouts_ms = settings.ECR_GATEWAY_CONNECT_TIMEOUT_MS + settings.ECR_GATEWAY_READ_TIMEOUT_MS
    return timeouts_ms / 1000 + 5


def intent_poll(intent: Intent, *, actor: Actor = SWEEPER, watched: bool = False) -> bool:
    """One look at one intent: provider read, resolver or time rules. Returns whether it changed.

    Callers hold `poll_lock`. Never raises for provider trouble: that is recorded and retried.
    """
    if intent.is_final or intent.state == State.APPROVAL_PENDING:
        # Waiting for a second person (maker-checker): never sent, nothing to read. Its expiry
        # is `services.approvals.approvals_expire_due`, not a poll.
        return False
    if intent.state == State.CREATED:
        return _poll_created(intent, actor=actor)
    if intent.state == State.IN_DOUBT and not intent.provider_id:
        return intent_find_in_doubt(intent, actor=actor)
    method_name, id_arg = _GET_CALLS[intent.kind]
    gateway = gateway_for(intent.credential)
    # A read that changes nothing is counted, not written (a GatewayCall row per read was most of
    # the sweeper's writes); one that changes the intent or fails is always written.
    with provider_reads_held(intent.pk) as hold:
        try:
            answer = getattr(gateway, method_name)(
                cuit=intent.store.merchant.cuit,
                intent_id=intent.pk,
                **{id_arg: intent.provider_id},
            )
        except GatewayError as exc:
            logger.info("poll of intent %s failed: %s", intent.public_id, exc.message)
            if exc.http_status == 404:
                intent_flag(intent, reason="Prisma no encuentra la intención (404)")
            return False
        changed = intent_record_answer(intent, answer, actor=actor)
        changed |= _apply_time_rules(intent, actor=actor)
        hold.changed = changed
    return changed


def _poll_created(intent: Intent, *, actor: Actor) -> bool:
    """A `created` row past its grace period: its creating process died mid-call."""
    if timezone.now() - intent.created_at < timedelta(seconds=created_grace_seconds()):
        return False
    return intent_transition(
        intent,
        to_state=State.IN_DOUBT,
        actor=actor,
        fields={"next_poll_at": timezone.now()},
        message="El proceso que la enviaba se interrumpió; se buscará en Prisma.",
    )


def _apply_time_rules(intent: Intent, *, actor: Actor) -> bool:
    """Pending too long: cancel it. Processing too long: raise it. Cancelling: ask again."""
    if intent.is_final:
        return False
    now = timezone.now()
    started = intent.sent_at or intent.created_at
    if intent.state == State.PENDING and intent.kind != Kind.SETTLEMENT:
        timeout = timedelta(seconds=intent.store.pending_timeout_seconds)
        if now - started >= timeout:
            if not intent_is_cancellable(intent):
                return False
            intent_note(
                intent,
                type=IntentEvent.Type.NOTE,
                actor=actor,
                message="Ninguna terminal la tomó a tiempo: se cancela.",
            )
            if intent_start_cancelling(intent, actor=actor) and not intent_send_cancel_request(
                intent, actor=actor
            ):
                # Refused (usually a 409: the terminal just took it): learn what it is doing.
                intent_poll(intent, actor=actor)
            return True
    elif intent.state == State.CANCELLING and intent.provider_status in WAITING_STATUSES:
        # The provider still shows it waiting after we asked to cancel: ask again (idempotent),
        # spaced out and for as long as it takes; after a few tries a person is told too.
        last = intent.cancel_sent_at or intent.cancel_requested_at or started
        if now - last >= CANCEL_RESEND_AFTER:
            intent_send_cancel_request(intent, actor=actor)
        if intent.cancel_attempts >= 5:
            intent_flag(intent, reason="La cancelación no se confirma en Prisma")
    elif intent.state in (State.PROCESSING, State.CANCELLING) and now - started > STUCK_AFTER:
        intent_flag(intent, reason="Trabada: sigue en proceso en la terminal")
    return False
