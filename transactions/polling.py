"""Background polling: which intents are due, how often, and one poll of one intent.

The sweeper (`sweep_once`) claims due intents in one statement that is also their reschedule
(`next_poll_at` moves to the next slot of the backoff schedule), so a poll that learns nothing new
writes nothing. `SKIP LOCKED` on PostgreSQL lets several workers on several hosts claim disjoint
sets; on SQLite the IMMEDIATE transaction serialises the claim. A per-intent lock in the shared
cache makes sure one intent is never polled twice at once, even by a sweeper and a POS long-poll.
"""

import contextlib
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.db import DatabaseCache
from django.db import close_old_connections, connection, transaction
from django.db.models import Q
from django.utils import timezone

from transactions.backoff import created_grace_seconds, next_poll_at
from transactions.gateway import GatewayError, gateway_for
from transactions.models import Intent, IntentEvent
from transactions.states import FINAL_STATES, Kind, State
from transactions.transitions import (
    SWEEPER,
    Actor,
    intent_flag,
    intent_note,
    intent_record_answer,
    intent_transition,
)

logger = logging.getLogger(__name__)

# A processing intent is never abandoned; past this it is raised to a person as stuck.
STUCK_AFTER = timedelta(minutes=10)
POLL_LOCK_SECONDS = 60
CANCEL_RESEND_AFTER = timedelta(seconds=10)
WAITING_STATUSES = frozenset({"PAYMENT_REQUEST", "REFUND_REQUEST", "REVERSAL_REQUEST"})

_GET_CALLS = {
    Kind.PAYMENT: ("payment_get", "payment_id"),
    Kind.REVERSAL: ("reversal_get", "reversal_id"),
    Kind.REFUND: ("refund_get", "refund_id"),
    Kind.SETTLEMENT: ("settlement_get", "settlement_id"),
}


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
    """Yields True if this caller may poll the intent now (nobody else is polling it)."""
    with _local_guard:
        acquired = intent_pk not in _local_polls
        if acquired:
            _local_polls.add(intent_pk)
    shared_key = None
    if acquired and _shared_lock_is_cheap():
        shared_key = f"ecr:poll-lock:{intent_pk}"
        if not cache.add(shared_key, 1, timeout=POLL_LOCK_SECONDS):
            acquired, shared_key = False, None
            with _local_guard:
                _local_polls.discard(intent_pk)
    try:
        yield acquired
    finally:
        if acquired:
            if shared_key:
                cache.delete(shared_key)
            with _local_guard:
                _local_polls.discard(intent_pk)


def intent_poll(intent: Intent, *, actor: Actor = SWEEPER, watched: bool = False) -> bool:
    """One look at one intent: provider read, resolver or time rules. Returns whether it changed.

    Callers hold `poll_lock`. Never raises for provider trouble: that is recorded and retried.
    """
    if intent.is_final:
        return False
    if intent.state == State.CREATED:
        return _poll_created(intent, actor=actor)
    if intent.state == State.IN_DOUBT and not intent.provider_id:
        from transactions.resolver import intent_find_in_doubt

        return intent_find_in_doubt(intent, actor=actor)
    method_name, id_arg = _GET_CALLS[intent.kind]
    gateway = gateway_for(intent.credential)
    try:
        answer = getattr(gateway, method_name)(
            cuit=intent.store.merchant.cuit, intent_id=intent.pk, **{id_arg: intent.provider_id}
        )
    except GatewayError as exc:
        logger.info("poll of intent %s failed: %s", intent.public_id, exc.message)
        if exc.http_status == 404:
            intent_flag(intent, reason="Prisma no encuentra la intención (404)")
        return False
    changed = intent_record_answer(intent, answer, actor=actor)
    changed |= _apply_time_rules(intent, actor=actor)
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
            from transactions.services import intent_cancel

            intent_note(
                intent,
                type=IntentEvent.Type.NOTE,
                actor=actor,
                message="Ninguna terminal la tomó a tiempo: se cancela.",
            )
            intent_cancel(intent=intent, actor=actor)
            return True
    elif intent.state == State.CANCELLING and intent.provider_status in WAITING_STATUSES:
        # The provider still shows it waiting after we asked to cancel: ask again (idempotent),
        # spaced out and for as long as it takes; after a few tries a person is told too.
        last = intent.cancel_sent_at or intent.cancel_requested_at or started
        if now - last >= CANCEL_RESEND_AFTER:
            from transactions.services import intent_send_cancel

            intent_send_cancel(intent, actor=actor, learn=False)
        if intent.cancel_attempts >= 5:
            intent_flag(intent, reason="La cancelación no se confirma en Prisma")
    elif intent.state in (State.PROCESSING, State.CANCELLING) and now - started > STUCK_AFTER:
        intent_flag(intent, reason="Trabada: sigue en proceso en la terminal")
    return False


# --- the sweeper -------------------------------------------------------------------------------


def _due_queryset(now):
    return (
        Intent.objects.exclude(state__in=sorted(FINAL_STATES))
        .filter(next_poll_at__lte=now)
        .filter(Q(watched_until__isnull=True) | Q(watched_until__lt=now))
    )


def claim_due(*, limit: int = 100, now=None) -> list[int]:
    """Claims up to `limit` due intents for this worker and reschedules them, in one short
    transaction. Returns their ids; no other worker will get them until their next slot."""
    now = now or timezone.now()
    with transaction.atomic():
        qs = _due_queryset(now).order_by("next_poll_at")
        if connection.features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True, of=("self",))
        rows = list(qs.only("pk", "state", "sent_at", "created_at", "kind")[:limit])
        for row in rows:
            row.next_poll_at = next_poll_at(row, now=now)
        if rows:
            Intent.objects.bulk_update(rows, ["next_poll_at"])
    return [row.pk for row in rows]


def _poll_by_id(intent_pk: int) -> bool:
    try:
        with poll_lock(intent_pk) as acquired:
            if not acquired:
                return False
            intent = Intent.objects.select_related("store__merchant", "credential", "terminal").get(
                pk=intent_pk
            )
            return intent_poll(intent)
    except Exception:
        # One bad intent must never stop the sweeper; it is logged and retried next slot.
        logger.exception("polling intent %s failed", intent_pk)
        return False


def _poll_in_thread(intent_pk: int) -> bool:
    try:
        return _poll_by_id(intent_pk)
    finally:
        close_old_connections()
        connection.close()


def sweep_once(*, limit: int | None = None, concurrency: int | None = None) -> int:
    """Claims due intents and polls them with bounded concurrency. Returns how many it polled
    (0 means there was no work).

    The claim is sized to the concurrency so one sweep stays short even when every read hits
    the timeout (8 rounds of reads), well inside the task's time limit.
    """
    concurrency = concurrency or settings.ECR_POLL_CONCURRENCY
    ids = claim_due(limit=limit or concurrency * 8)
    if not ids:
        return 0
    if concurrency <= 1 or len(ids) == 1:
        for pk in ids:
            _poll_by_id(pk)
    else:
        with ThreadPoolExecutor(max_workers=min(concurrency, len(ids))) as pool:
            list(pool.map(_poll_in_thread, ids))
    return len(ids)


def sweeper_loop(*, seconds: float, tick: float = 0.25, stop=None) -> int:
    """Sweeps repeatedly for `seconds` (a django-q2 task runs this; the scheduler's resolution
    is a minute, so the loop keeps detection within a tick). Returns the number of polls.

    A failing sweep (the database busy or reconnecting) is logged and retried after a pause; it
    never ends the loop early, so the chain of loops is not broken by a passing error.
    """
    deadline = time.monotonic() + seconds
    polled = 0
    while time.monotonic() < deadline and not (stop and stop()):
        try:
            count = sweep_once()
        except Exception:
            logger.exception("sweep failed; retrying")
            close_old_connections()
            time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))
            continue
        polled += count
        if count == 0:
            time.sleep(tick)
    return polled
