"""Watching an intent: a POS long-poll or an open dashboard page refreshes its own intent."""

import time
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from transactions.events import SYSTEM
from transactions.models import Intent
from transactions.polling import intent_poll, poll_lock
from transactions.states import State

_PROVIDER_KNOWS = (State.PENDING, State.PROCESSING, State.CANCELLING)


def intent_refresh(*, intent: Intent, wait: float = 0) -> Intent:
    """Reads the intent's state from the provider now and, with `wait`, keeps doing so at a
    watcher's pace (about twice a second) until it is final or the wait ends.

    Only intents the provider is working on are read at that pace; a created or in-doubt one is
    left to the sweeper's schedule (its search is expensive) and only re-read from the database.
    Safe to call from many places at once: a per-intent lock lets one caller poll while the
    others re-read the database.
    """
    deadline = time.monotonic() + max(0, min(wait, 60))
    if wait:
        Intent.objects.filter(pk=intent.pk).update(
            watched_until=timezone.now() + timedelta(seconds=wait + 1)
        )
    while True:
        if intent.state in _PROVIDER_KNOWS and intent.provider_id:
            with poll_lock(intent.pk) as acquired:
                intent.refresh_from_db()
                if acquired and intent.state in _PROVIDER_KNOWS:
                    intent_poll(intent, actor=SYSTEM, watched=True)
        elif not intent.is_final:
            intent.refresh_from_db()
        remaining = deadline - time.monotonic()
        if intent.is_final or remaining <= 0:
            return intent
        if not connection.in_atomic_block:
            # A long poll sleeps most of its time: give the connection back meanwhile, so a
            # hundred waiting tills do not hold a hundred database connections.
            connection.close()
        time.sleep(min(settings.ECR_WATCH_INTERVAL_MS / 1000, remaining))
