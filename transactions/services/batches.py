"""Closing batches by store: on demand for a whole store, and the daily automatic close."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.utils import timezone

from stores.models import Store, Terminal
from transactions.errors import IntentRuleError
from transactions.models import Intent
from transactions.services.create import settlement_create
from transactions.states import Kind, State

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from stores.models import PosClient

logger = logging.getLogger(__name__)


def store_batch_close(
    *,
    store: Store,
    user: User | None = None,
    pos_client: PosClient | None = None,
    print_receipt: bool = True,
) -> list[tuple[Terminal, Intent | IntentRuleError]]:
    """Asks a batch close of every enabled terminal of the store; one refusal stops no other."""
    results: list[tuple[Terminal, Intent | IntentRuleError]] = []
    for terminal in store.terminals.filter(enabled=True).order_by("terminal_id"):
        try:
            intent = settlement_create(
                terminal=terminal, print_receipt=print_receipt, user=user, pos_client=pos_client
            )
        except IntentRuleError as exc:
            results.append((terminal, exc))
        else:
            results.append((terminal, intent))
    return results


def store_batch_close_due(*, now) -> list[tuple[Terminal, Intent | IntentRuleError]]:
    """The daily automatic close: stores whose local close hour has come and whose terminals
    have no settlement yet today (local day). Busy terminals are retried on the next run."""
    results: list[tuple[Terminal, Intent | IntentRuleError]] = []
    for store in Store.objects.select_related("merchant"):
        local = timezone.localtime(now, store.tzinfo)
        if local.hour < store.batch_close_hour:
            continue
        day_start = local.replace(hour=store.batch_close_hour, minute=0, second=0, microsecond=0)
        for terminal in store.terminals.filter(enabled=True):
            done = Intent.objects.filter(
                kind=Kind.SETTLEMENT,
                offered_terminals=terminal,
                created_at__gte=day_start,
            ).exclude(state__in=[State.FAILED, State.DECLINED])
            if done.exists():
                continue
            try:
                results.append((terminal, settlement_create(terminal=terminal)))
            except IntentRuleError as exc:
                logger.info("automatic close of %s postponed: %s", terminal, exc.message)
                results.append((terminal, exc))
    return results
