"""Cancelling a waiting intention on behalf of a person or a POS. The terminal may win the race:
then the intent ends as the terminal decided, and a person is told the cancellation failed.

The provider side (the PUT, recording its answer) is `transactions.cancellation`, shared with the
poller; this module adds who may ask and what they learn at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from transactions.cancellation import (
    intent_is_cancellable,
    intent_send_cancel_request,
    intent_start_cancelling,
)
from transactions.controls import require_key
from transactions.errors import Code, IntentRuleError
from transactions.events import SYSTEM, Actor
from transactions.models import Intent
from transactions.polling import intent_poll
from transactions.services.approvals import approval_withdraw
from transactions.services.common import Action, actor_for, require_role
from transactions.states import State

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from stores.models import PosClient


def intent_cancel(
    *,
    intent: Intent,
    user: User | None = None,
    pos_client: PosClient | None = None,
    actor: Actor | None = None,
) -> Intent:
    """Asks the provider to withdraw a waiting intention."""
    if user is not None:
        require_role(user, intent.store, Action.CANCEL)
    require_key(pos_client, Action.CANCEL)
    actor = actor or actor_for(user, pos_client)
    if intent.state == State.APPROVAL_PENDING:
        # Never sent: withdrawing it is the requester's own decision, no provider call.
        approval_withdraw(intent=intent, actor=actor)
        return intent
    if not intent_is_cancellable(intent):
        raise IntentRuleError(
            Code.NOT_CANCELLABLE,
            f"La intención no se puede cancelar en estado «{intent.get_state_display()}».",
        )
    if not intent_start_cancelling(intent, actor=actor):
        # It moved (became final) while we looked: nothing to cancel any more.
        return intent
    intent_send_cancel(intent, actor=actor)
    return intent


def intent_send_cancel(intent: Intent, *, actor: Actor = SYSTEM) -> None:
    """Sends (or re-sends) the cancel of a cancelling intent; a refused cancel is followed by a
    read, so the caller knows at once what the terminal is doing (a 409 usually means the
    terminal took the intention)."""
    if not intent_send_cancel_request(intent, actor=actor):
        intent_poll(intent, actor=actor)
