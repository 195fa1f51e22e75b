"""Watching an intent: a POS long-poll or an open dashboard page refreshes its own intent."""

import time
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from transactions.backoff import WATCHER_POLLED_STATES
from transactions.events import SYSTEM
from transactions.models import Intent
from transactions.polling import POLL_RELATED, intent_poll, intent_reload, poll_lock

_PROVIDER_KNOWS = WATCHER_POLLED_STATES


def intent_refresh(*, intent: Intent, wait: float = 0) -> Intent:
    """Reads the intent's state from the provider now and, with `wait`, keeps doing so at a
    watcher's pace (about twice a second) until it is final or the wait ends.

    Only intents the provider is working on are read at that pace; a created or in-doubt one is
    left to the sweeper's schedule (its search is expensive), which keeps running while it is
    watched (`sweeper._due_queryset`), and is only re-read from the database here.
    Safe to call from many places at once: a per-intent lock lets one caller poll while the
    others re-read the database.

    Cost of a wait: the store, merchant and credential are loaded once; then each round is one
    statement (the intent's own row) plus the provider read, and writes only when the read
    changed something (idle reads are counted, not written: `gateway.provider_reads_held`). The
    request keeps its one database connection for the whole wait: with persistent connections
    the thread holds it anyway, and closing it every round only made a new one each time.
    """
    deadline = time.monotonic() + max(0, min(wait, 60))
    if wait:
        Intent.objects.filter(pk=intent.pk).update(
            watched_until=timezone.now() + timedelta(seconds=wait + 1)
        )
    related_loaded = False
    while True:
        if intent.state in _PROVIDER_KNOWS and intent.provider_id:
            with poll_lock(intent.pk) as acquired:
                if related_loaded:
                    intent_reload(intent)
                else:
                    # Once per wait: the row with what its poll reads, so later rounds do not
                    # load the store, the merchant and the credential again.
                    intent.refresh_from_db(
                        from_queryset=Intent.objects.select_related(*POLL_RELATED)
                    )
                    related_loaded = True
                if acquired and intent.state in _PROVIDER_KNOWS:
                    intent_poll(intent, actor=SYSTEM, watched=True)
        elif not intent.is_final:
            intent_reload(intent)
        remaining = deadline - time.monotonic()
        if intent.is_final or remaining <= 0:
            return intent
        time.sleep(min(settings.ECR_WATCH_INTERVAL_MS / 1000, remaining))
