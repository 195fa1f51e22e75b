"""Closing batches: on demand for a store or every store a person may close ("Cerrar todo"), and
the daily automatic close with its preparation, retries and alert.

The automatic close of a store's day (`store_batch_close_due`, every few minutes from the close
hour on) per enabled terminal:
1. already closed today (an approved close), or a close in flight: nothing to do;
2. nothing in the open batch (`selectors.terminal_open_batch_is_empty`): nothing to close;
3. prepared (`terminal_close_prepare`): intentions still waiting in the terminal's list are
   cancelled (nobody is going to pay them after hours) and the close waits for the next run;
   one being paid is waited for; one in doubt is flagged for a person and does not block;
4. closed; a refusal postpones the store's next attempt with backoff (`CLOSE_BACKOFF`), and a
   close the provider failed is retried after the same backoff, counted per terminal and day.
A store still open at `END_OF_DAY` (local) is raised once: the Lotes page shows it and its
owners and managers get an e-mail. Each day's state is a `StoreClose` row.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import Q
from django.utils import timezone

from stores.models import Membership, Store, Terminal
from stores.permissions import roles_allowing
from stores.roles import Action
from stores.selectors import store_list_for_user
from transactions.errors import Code, IntentRuleError
from transactions.events import intent_flag
from transactions.models import Intent, StoreClose
from transactions.selectors import terminal_open_batch_is_empty
from transactions.services.cancel import intent_cancel
from transactions.services.create import settlement_create
from transactions.states import RESERVING_STATES, Kind, State

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from stores.models import PosClient

logger = logging.getLogger(__name__)

# Minutes before the next automatic attempt after the 1st, 2nd, ... refusal or failure.
CLOSE_BACKOFF = (5, 10, 20, 40, 60)
# A store whose batches are still open at this local time is raised to people.
END_OF_DAY = dt.time(23, 30)
IN_DOUBT_AT_CLOSE = "En duda al cerrar el lote: revisá si entró en el lote y conciliá a mano"


def close_backoff(attempts: int) -> dt.timedelta:
    """The wait after `attempts` failed attempts (1 → 5 min, ... then hourly)."""
    index = min(max(attempts, 1), len(CLOSE_BACKOFF)) - 1
    return dt.timedelta(minutes=CLOSE_BACKOFF[index])


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


def merchant_batch_close(
    *, user: User, merchant_id: int | None = None, print_receipt: bool = True
) -> list[tuple[Terminal, Intent | IntentRuleError]]:
    """ "Cerrar todo": every enabled terminal of every store the user may close (of one merchant
    when `merchant_id` is given). Refused when the user may close none."""
    scope = store_list_for_user(user=user, action=Action.CLOSE_BATCH).order_by("name")
    if merchant_id is not None:
        scope = scope.filter(merchant_id=merchant_id)
    stores = list(scope)
    if not stores:
        raise IntentRuleError(Code.FORBIDDEN, "Tu rol no permite cerrar lotes.")
    results: list[tuple[Terminal, Intent | IntentRuleError]] = []
    for store in stores:
        results.extend(store_batch_close(store=store, user=user, print_receipt=print_receipt))
    return results


# --- The daily automatic close ----------------------------------------------------------------


@dataclass(frozen=True)
class Preparation:
    """Whether a terminal may be closed now, and what was done or is awaited."""

    ready: bool
    note: str = ""


def terminal_close_prepare(*, terminal: Terminal) -> Preparation:
    """Before an automatic close: cancels what waits in the terminal's list, waits for what is
    being paid, flags what is in doubt (it does not block: only a person can resolve it)."""
    live = list(
        Intent.objects.filter(
            Q(terminal=terminal) | Q(offered_terminals=terminal),
            kind__in=[Kind.PAYMENT, Kind.REVERSAL, Kind.REFUND],
            state__in=sorted(RESERVING_STATES),
        )
        .distinct()
        .select_related("store")
    )
    waiting, cancelled = 0, 0
    for intent in live:
        if intent.state == State.IN_DOUBT:
            intent_flag(intent, reason=IN_DOUBT_AT_CLOSE)
        elif intent.state == State.PENDING and intent.taken_at is None:
            try:
                intent_cancel(intent=intent)
                cancelled += 1
            except IntentRuleError:
                waiting += 1
        else:
            waiting += 1
    if cancelled or waiting:
        parts = []
        if cancelled:
            parts.append(f"se cancelaron {cancelled} intenciones que esperaban en la terminal")
        if waiting:
            parts.append(f"{waiting} operaciones en curso")
        return Preparation(False, f"Terminal {terminal.terminal_id}: " + "; ".join(parts) + ".")
    return Preparation(True)


def _terminal_due(terminal: Terminal, day_start: dt.datetime, now: dt.datetime) -> str:
    """ "closed", "in_flight", "empty", "backoff" or "due"."""
    today = list(
        Intent.objects.filter(
            kind=Kind.SETTLEMENT, offered_terminals=terminal, created_at__gte=day_start
        ).values_list("state", "finished_at")
    )
    if any(state == State.APPROVED for state, _ in today):
        return "closed"
    if any(state in RESERVING_STATES for state, _ in today):
        return "in_flight"
    if terminal_open_batch_is_empty(terminal=terminal):
        return "empty"
    failures = [at for state, at in today if state in (State.FAILED, State.DECLINED) and at]
    if failures and now < max(failures) + close_backoff(len(failures)):
        return "backoff"
    return "due"


def store_batch_close_due(*, now) -> list[tuple[Terminal, Intent | IntentRuleError]]:
    """The daily automatic close (see the module docstring). Returns what it asked or was
    refused, per terminal; safe to run again at any time."""
    results: list[tuple[Terminal, Intent | IntentRuleError]] = []
    for store in Store.objects.select_related("merchant").order_by("pk"):
        local = timezone.localtime(now, store.tzinfo)
        if local.hour < store.batch_close_hour:
            continue
        record, _ = StoreClose.objects.get_or_create(store=store, day=local.date())
        if record.closed_at is not None:
            continue
        if record.next_attempt_at is None or now >= record.next_attempt_at:
            results.extend(_close_store_day(store, record, local, now))
        _raise_if_still_open(store, record, local, now)
    return results


def _close_store_day(store: Store, record: StoreClose, local: dt.datetime, now: dt.datetime):
    day_start = local.replace(hour=store.batch_close_hour, minute=0, second=0, microsecond=0)
    results: list[tuple[Terminal, Intent | IntentRuleError]] = []
    problems: list[str] = []
    refused = False  # a refusal now backs the store off; a failed close backs off on its own
    still_open = 0
    for terminal in store.terminals.filter(enabled=True).order_by("terminal_id"):
        due = _terminal_due(terminal, day_start, now)
        if due in ("closed", "empty"):
            continue
        still_open += 1
        if due == "in_flight":
            continue
        if due == "backoff":
            problems.append(f"Terminal {terminal.terminal_id}: el cierre falló, se reintenta.")
            continue
        preparation = terminal_close_prepare(terminal=terminal)
        if not preparation.ready:
            refused = True
            problems.append(preparation.note)
            results.append((terminal, IntentRuleError(Code.TERMINAL_BUSY, preparation.note)))
            continue
        try:
            results.append((terminal, settlement_create(terminal=terminal)))
        except IntentRuleError as exc:
            logger.info("automatic close of %s postponed: %s", terminal, exc.message)
            refused = True
            problems.append(f"Terminal {terminal.terminal_id}: {exc.message}")
            results.append((terminal, exc))
    if still_open == 0:
        record.closed_at = now
        record.next_attempt_at = None
        record.last_problem = ""
    elif refused:
        record.attempts += 1
        record.next_attempt_at = now + close_backoff(record.attempts)
        record.last_problem = "\n".join(problems)[:2000]
        logger.info("automatic close of %s postponed (attempt %s)", store, record.attempts)
    elif problems:
        record.last_problem = "\n".join(problems)[:2000]
    record.save()
    return results


def _raise_if_still_open(store: Store, record: StoreClose, local: dt.datetime, now) -> None:
    if record.closed_at is not None or local.time() < END_OF_DAY or record.raised_at:
        return
    # Exactly once, however many workers run this at the same time.
    if not StoreClose.objects.filter(pk=record.pk, raised_at=None).update(raised_at=now):
        return
    record.raised_at = now
    recipients = store_close_recipients(store=store)
    reason = record.last_problem or "Los cierres pedidos no terminaron."
    logger.warning("store %s still open at the end of the day", store)
    if recipients:
        send_mail(
            subject=f"Lotes sin cerrar en {store.name} ({local:%d/%m/%Y})",
            message=(
                f"El cierre automático de lotes de {store.name} no terminó a las "
                f"{local:%H:%M} del {local:%d/%m/%Y} ({record.attempts} intentos).\n\n"
                f"{reason}\n\nCerralos desde Lotes en el tablero, o revisá las terminales."
            ),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=recipients,
            fail_silently=True,
        )


def store_close_recipients(*, store: Store) -> list[str]:
    """E-mail of everyone whose role closes batches in the store (owners, managers)."""
    emails = (
        Membership.objects.filter(
            Q(store=store) | Q(merchant_id=store.merchant_id),
            role__in=roles_allowing(Action.CLOSE_BATCH),
            user__is_active=True,
        )
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )
    return sorted(set(emails))
