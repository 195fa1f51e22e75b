"""The sweeper: claims due intents, polls them with bounded concurrency, and holds a slot.

The claim (`claim_due`) is one statement that is also the reschedule (`next_poll_at` moves to the
next slot of the backoff schedule), so a poll that learns nothing new writes nothing. `SKIP
LOCKED` on PostgreSQL lets several workers on several hosts claim disjoint sets; on SQLite the
IMMEDIATE transaction serialises the claim. The claim returns the intents with what their poll
reads, and the poller threads keep their database connections for the whole loop
(`PollerPool`): a poll that learns nothing costs the provider read and no statement. The number
of sweeper loops is bounded by slot leases in the shared cache (`SweeperSlot`), whatever number
of workers the watchdog starts.
"""

import functools
import logging
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, close_old_connections, connection, connections, transaction
from django.db.models import Model, Q
from django.utils import timezone

from ecrportal.compiled_query import Arg, CompiledQuery, concrete_columns, instance_from_row
from transactions.backoff import WATCHER_POLLED_STATES, next_poll_at
from transactions.metrics import sweeper_heartbeat
from transactions.models import Intent
from transactions.polling import POLL_RELATED, PollLeases, intent_poll, poll_lock
from transactions.states import FINAL_STATES

logger = logging.getLogger(__name__)

# A killed worker frees its slot within this many seconds; a live loop renews it every third.
SLOT_LEASE_SECONDS = 15


def _due_queryset(now, watched_before=None):
    # A watcher reads a pending, processing or cancelling intent itself, so the sweeper leaves it
    # alone while watched. A created or in-doubt one it only re-reads from the database: the
    # sweeper keeps searching for it on its schedule, watched or not (a POS long-polling a lost
    # create must not stop the search for it). `watched_before` is `now` (its own argument in a
    # compiled statement, where each argument is one parameter).
    watched_before = now if watched_before is None else watched_before
    not_watched = Q(watched_until__isnull=True) | Q(watched_until__lt=watched_before)
    return (
        Intent.objects.exclude(state__in=sorted(FINAL_STATES))
        .filter(next_poll_at__lte=now)
        .filter(not_watched | ~Q(state__in=WATCHER_POLLED_STATES))
    )


def _claimed_paths() -> list[tuple[str, type[Model]]]:
    """The claim's row: the intent and the objects its poll reads (`polling.POLL_RELATED`), as
    (column prefix, model), each parent before its children."""
    paths: list[tuple[str, type[Model]]] = [("", Intent)]
    for path in POLL_RELATED:
        model: type[Model] = Intent
        prefix = ""
        for name in path.split("__"):
            model = cast(type[Model], model._meta.get_field(name).related_model)
            prefix += f"{name}__"
            if (prefix, model) not in paths:
                paths.append((prefix, model))
    return paths


_CLAIMED = [(prefix, model, concrete_columns(model)) for prefix, model in _claimed_paths()]


@functools.cache
def _claim_statement(limit: int) -> CompiledQuery:
    """The claim's SELECT for `limit` rows, compiled once per connection (every sweep runs it, a
    few times a second per loop; the ORM built it anew each time). Compiled inside the claim's
    transaction: the ORM builds FOR UPDATE only there, so it is not prepared on the server."""

    def build(now, watched_before):
        queryset = _due_queryset(now, watched_before).order_by("next_poll_at")
        if connection.features.has_select_for_update_skip_locked:
            queryset = queryset.select_for_update(skip_locked=True, of=("self",))
        names = [f"{prefix}{column}" for prefix, _, columns in _CLAIMED for column in columns]
        return queryset.values_list(*names)[:limit]

    return CompiledQuery(
        f"sweeper_claim_{limit}",
        build,
        now=Arg(Intent._meta.get_field("next_poll_at")),
        watched_before=Arg(Intent._meta.get_field("watched_until")),
    )


def _claimed_intent(row: tuple, db: str) -> Intent:
    """The intent of a claim row with the objects its poll reads loaded, as `select_related`
    loads them (a null relation is cached as None)."""
    loaded: dict[str, Any] = {}
    start = 0
    for prefix, model, columns in _CLAIMED:
        values = row[start : start + len(columns)]
        start += len(columns)
        # A null relation's columns are all null, its primary key first.
        instance = None if values[0] is None else instance_from_row(model, db, columns, values)
        loaded[prefix] = instance
        if prefix:
            parent_prefix, _, name = prefix[:-2].rpartition("__")
            parent = loaded[f"{parent_prefix}__" if parent_prefix else ""]
            if parent is not None:  # under a null relation there is nothing to attach to
                parent._meta.get_field(name).set_cached_value(parent, instance)
    return loaded[""]


def claim_due_intents(*, limit: int = 100, now=None) -> list[Intent]:
    """Claims up to `limit` due intents for this worker and reschedules them, in one short
    transaction. Returns them with what a poll reads (`polling.POLL_RELATED`), so a poll does not
    select its intent again; no other worker gets them until their next slot.

    The rows are as they were at the claim, a moment before their poll: every write of a poll is
    guarded by the state it saw (`transitions.intent_transition`), so a change made meanwhile
    (a cancel, a watcher) makes the poll's write touch nothing and re-read.
    """
    now = now or timezone.now()
    db = Intent.objects.db
    with transaction.atomic():
        found = _claim_statement(limit).rows(db, now=now, watched_before=now)
        rows = [_claimed_intent(row, db) for row in found]
        for row in rows:
            row.next_poll_at = next_poll_at(row, now=now)
        if rows:
            Intent.objects.bulk_update(rows, ["next_poll_at"])
    return rows


def claim_due(*, limit: int = 100, now=None) -> list[int]:
    """`claim_due_intents`, as ids."""
    return [row.pk for row in claim_due_intents(limit=limit, now=now)]


def connections_bound(concurrency: int) -> int:
    """The most database connections one sweeper loop holds: its own and one per poller thread.

    Poller threads keep their connection from one sweep to the next (README "Scaling out").
    """
    return 1 + (concurrency if concurrency > 1 else 0)


def _poll_claimed(intent: Intent, leases: PollLeases | None = None) -> bool:
    """Polls one claimed intent under its sweep's lease (`PollLeases`), or its own `poll_lock`."""
    try:
        if leases is not None:
            return leases.may_poll(intent.pk) and intent_poll(intent)
        with poll_lock(intent.pk) as acquired:
            if not acquired:
                return False
            return intent_poll(intent)
    except Exception:
        # One bad intent must never stop the sweeper; it is logged and retried next slot. The
        # connection may be what failed: a broken one is closed here and reopened next time.
        logger.exception("polling intent %s failed", intent.pk)
        close_old_connections()
        return False


class PollerPool:
    """The threads that poll claimed intents, kept for a whole sweeper loop.

    Each thread opens one database connection on its first poll and keeps it for the next ones
    (a connection per read was most of the sweeper's cost on PostgreSQL); a poll that fails
    checks its connection (`close_old_connections`: with CONN_HEALTH_CHECKS a broken one is
    dropped and the next poll reconnects). `close()` ends the threads and closes their
    connections, so a loop never leaves more than `concurrency` of them behind.
    """

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self._executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="poller")
        self._connections: list = []
        self._guard = threading.Lock()

    def _poll(self, intent: Intent, leases: PollLeases | None) -> bool:
        # Django's connections are per thread: remember each poller thread's own, to close it.
        wrapper = connections[DEFAULT_DB_ALIAS]
        with self._guard:
            if not any(known is wrapper for known in self._connections):
                self._connections.append(wrapper)
        return _poll_claimed(intent, leases)

    def poll_all(self, intents: list[Intent], leases: PollLeases | None = None) -> None:
        list(self._executor.map(lambda intent: self._poll(intent, leases), intents))

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        with self._guard:
            wrappers, self._connections = self._connections, []
        for wrapper in wrappers:
            # The threads have ended; their connection objects are closed from this one.
            wrapper.inc_thread_sharing()
            try:
                wrapper.close()
            finally:
                wrapper.dec_thread_sharing()

    def __enter__(self) -> "PollerPool":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def sweep_once(
    *, limit: int | None = None, concurrency: int | None = None, pool: PollerPool | None = None
) -> int:
    """Claims due intents and polls them with bounded concurrency. Returns how many it polled
    (0 means there was no work).

    The claim is sized to the concurrency so one sweep stays short even when every read hits
    the timeout (8 rounds of reads), well inside the task's time limit. `pool` (a loop's
    `PollerPool`) keeps the poller threads and their connections from one sweep to the next;
    without it a pool lives for this sweep only.
    """
    concurrency = pool.concurrency if pool else concurrency or settings.ECR_POLL_CONCURRENCY
    intents = claim_due_intents(limit=limit or concurrency * 8)
    if not intents:
        return 0
    # The claim's poll locks in one round trip each way, not two per poll (`PollLeases`).
    with PollLeases([intent.pk for intent in intents]) as leases:
        mine = [intent for intent in intents if intent.pk in leases.held]
        if concurrency <= 1 or len(mine) <= 1:
            for intent in mine:
                _poll_claimed(intent, leases)
        elif pool is not None:
            pool.poll_all(mine, leases)
        else:
            with PollerPool(min(concurrency, len(mine))) as own_pool:
                own_pool.poll_all(mine, leases)
    return len(intents)


def sweeper_loop(*, seconds: float, tick: float = 0.25, stop=None) -> int:
    """Sweeps repeatedly for `seconds` (a django-q2 task runs this; the scheduler's resolution
    is a minute, so the loop keeps detection within a tick). Returns the number of polls.

    A failing sweep (the database busy or reconnecting) is logged and retried after a pause; it
    never ends the loop early, so the chain of loops is not broken by a passing error. The
    poller threads and their connections last as long as the loop.
    """
    deadline = time.monotonic() + seconds
    polled = 0
    concurrency = settings.ECR_POLL_CONCURRENCY
    with PollerPool(concurrency) as pool:
        while time.monotonic() < deadline and not (stop and stop()):
            try:
                count = sweep_once(pool=pool)
            except Exception:
                logger.exception("sweep failed; retrying")
                close_old_connections()
                time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))
                continue
            polled += count
            sweeper_heartbeat()  # /readyz and /metrics: a loop is sweeping
            if count == 0:
                time.sleep(tick)
    return polled


class SweeperSlot:
    """A lease on one of `ECR_SWEEPERS` sweeper slots in the shared cache.

    `acquire()` takes a free slot (False when all are held). `lost()` renews the lease every third
    of its life and says whether another loop took the slot after ours expired (then this loop
    must stop: the other one runs). `release()` frees it only if it is still ours.
    """

    def __init__(self) -> None:
        self.token = secrets.token_hex(8)
        self.key: str | None = None
        self._renewed_at = 0.0

    def acquire(self) -> bool:
        for slot in range(settings.ECR_SWEEPERS):
            key = f"ecr:sweeper-slot:{slot}"
            if cache.add(key, self.token, timeout=SLOT_LEASE_SECONDS):
                self.key = key
                self._renewed_at = time.monotonic()
                return True
        return False

    def lost(self) -> bool:
        assert self.key is not None, "acquire() first"
        if time.monotonic() - self._renewed_at < SLOT_LEASE_SECONDS / 3:
            return False
        if cache.get(self.key) != self.token:
            return True
        cache.set(self.key, self.token, timeout=SLOT_LEASE_SECONDS)
        self._renewed_at = time.monotonic()
        return False

    def release(self) -> None:
        if self.key is not None and cache.get(self.key) == self.token:
            cache.delete(self.key)


def sweeper_run(*, seconds: float) -> int | None:
    """Runs the sweeper loop for `seconds` in a free slot. Returns the number of polls, or None
    when every slot is taken (enough loops are running)."""
    slot = SweeperSlot()
    if not slot.acquire():
        return None
    try:
        return sweeper_loop(seconds=seconds, stop=slot.lost)
    finally:
        slot.release()
