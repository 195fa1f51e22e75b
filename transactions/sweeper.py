"""The sweeper: claims due intents, polls them with bounded concurrency, and holds a slot.

The claim (`claim_due`) is one statement that is also the reschedule (`next_poll_at` moves to the
next slot of the backoff schedule), so a poll that learns nothing new writes nothing. `SKIP
LOCKED` on PostgreSQL lets several workers on several hosts claim disjoint sets; on SQLite the
IMMEDIATE transaction serialises the claim. The number of sweeper loops is bounded by slot leases
in the shared cache (`SweeperSlot`), whatever number of workers the watchdog starts.
"""

import logging
import secrets
import time
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.core.cache import cache
from django.db import close_old_connections, connection, transaction
from django.db.models import Q
from django.utils import timezone

from transactions.backoff import next_poll_at
from transactions.models import Intent
from transactions.polling import intent_poll, poll_lock
from transactions.states import FINAL_STATES

logger = logging.getLogger(__name__)

# A killed worker frees its slot within this many seconds; a live loop renews it every third.
SLOT_LEASE_SECONDS = 15


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
