"""Maker-checker (issue 15): a refund or reversal above its store's threshold is written in
`approval_pending` with an `ApprovalRequest`, and is sent to the provider only when a second
person with the `approve` action approves it. The approver is never the requester. A request
nobody decides before `expires_at` expires (the `ecr-approvals-expire` schedule, and at once when
someone tries to decide it late). Rejected, expired or withdrawn: the intent is `cancelled`;
nothing ever reached the provider.

Every decision is one guarded transition with its IntentEvent (type `approval`, with the actor),
and the POS that asked gets a webhook (`intent.approval_approved`, `intent.approval_rejected`,
`intent.approval_expired`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from stores.models import Terminal
from stores.roles import Action
from transactions.backoff import created_grace_seconds
from transactions.controls import ApprovalNeed
from transactions.errors import Code, IntentRuleError
from transactions.events import SYSTEM, Actor, intent_note
from transactions.models import ApprovalRequest, Intent, IntentEvent, MoneyControls
from transactions.selectors import reversal_refusals, terminals_busy
from transactions.services.common import actor_for, require_role
from transactions.services.pipeline import create_row
from transactions.services.sending import refund_send, reversal_send
from transactions.states import Kind, State
from transactions.transitions import intent_transition

if TYPE_CHECKING:
    from django.contrib.auth.models import User

APPROVED_EVENT = "intent.approval_approved"
REJECTED_EVENT = "intent.approval_rejected"
EXPIRED_EVENT = "intent.approval_expired"


def create_row_held(
    need: ApprovalNeed | None,
    *,
    actor: Actor,
    store_limit: Callable[[], None] | None = None,
    **create_row_kwargs,
) -> Intent:
    """`pipeline.create_row`; when `need` is not None the intent is written in
    `approval_pending` (not sent, no terminal held) with its ApprovalRequest, in one
    transaction.

    `store_limit` (the daily refund limit) runs again in that transaction with the store's
    `MoneyControls` row locked, so two refunds at two terminals of the store cannot both fit
    the day's remainder."""
    if need is None and store_limit is None:
        return create_row(actor=actor, **create_row_kwargs)
    with transaction.atomic():
        if store_limit is not None:
            list(MoneyControls.objects.select_for_update().filter(store=create_row_kwargs["store"]))
            store_limit()
        if need is None:
            return create_row(actor=actor, **create_row_kwargs)
        intent = create_row(
            actor=actor,
            state=State.APPROVAL_PENDING,
            approval_expires_at=need.expires_at,
            **create_row_kwargs,
        )
        ApprovalRequest.objects.create(
            intent=intent,
            store=intent.store,
            reason=need.reason,
            threshold=need.threshold,
            requested_by_user=actor.user,
            requested_by_pos=actor.pos_client,
            expires_at=need.expires_at,
        )
        intent_note(
            intent,
            type=IntentEvent.Type.APPROVAL,
            message=f"Espera aprobación de otra persona. {need.reason}",
            actor=actor,
        )
    return intent


def _pending_approval(intent: Intent) -> ApprovalRequest:
    approval = ApprovalRequest.objects.filter(intent=intent).first()
    if (
        approval is None
        or intent.state != State.APPROVAL_PENDING
        or approval.status != ApprovalRequest.Status.PENDING
    ):
        raise IntentRuleError(
            Code.APPROVAL_NOT_PENDING,
            "La operación ya no espera aprobación.",
        )
    return approval


def _is_requester(user: User, intent: Intent) -> bool:
    return intent.requested_by_user_id is not None and intent.requested_by_user_id == user.pk


def _close(
    intent: Intent,
    *,
    status: str,
    actor: Actor,
    message: str,
    note: str = "",
    decided_by: User | None = None,
    webhook: str | None = None,
) -> bool:
    """Ends a pending approval without sending: the intent is cancelled (guarded) and the
    request records who and why. False when someone else decided it first."""
    now = timezone.now()
    with transaction.atomic():
        changed = ApprovalRequest.objects.filter(
            intent=intent, status=ApprovalRequest.Status.PENDING
        ).update(status=status, decided_by=decided_by, decided_at=now, note=note[:200])
        if changed != 1:
            return False
        if not intent_transition(
            intent,
            to_state=State.CANCELLED,
            actor=actor,
            event_type=IntentEvent.Type.APPROVAL,
            message=message,
            fields={"response_message": message[:200]},
        ):
            # The intent left approval_pending meanwhile: undo the request's update too.
            transaction.set_rollback(True)
            return False
        if webhook:
            _webhook_on_commit(intent, webhook)
    return True


def _webhook_on_commit(intent: Intent, event: str) -> None:
    from transactions.webhooks.services import webhook_enqueue_for_intent

    if intent.requested_by_pos_id is None:
        return
    intent_id = intent.pk
    transaction.on_commit(
        lambda: webhook_enqueue_for_intent(intent_id=intent_id, event=event), robust=True
    )


def _expire_if_due(intent: Intent, *, now=None) -> bool:
    now = now or timezone.now()
    expires_at = intent.approval_expires_at
    if intent.state != State.APPROVAL_PENDING or expires_at is None or expires_at > now:
        return False
    return _close(
        intent,
        status=ApprovalRequest.Status.EXPIRED,
        actor=SYSTEM,
        message="La aprobación venció sin que nadie la decidiera: no se envió a la terminal.",
        webhook=EXPIRED_EVENT,
    )


def _load(intent: Intent) -> Intent:
    return Intent.objects.select_related(
        "store__merchant", "credential", "terminal", "original"
    ).get(pk=intent.pk)


def _decidable(intent: Intent, user: User, *, by_requester: str) -> Intent:
    """The intent, freshly loaded, if `user` may decide its approval now: a role that approves,
    still pending, not the person who asked (`by_requester` says why), not expired (then it is
    expired here and refused)."""
    intent = _load(intent)
    require_role(user, intent.store, Action.APPROVE)
    _pending_approval(intent)
    if _is_requester(user, intent):
        raise IntentRuleError(Code.APPROVAL_BY_REQUESTER, by_requester)
    if _expire_if_due(intent):
        raise IntentRuleError(
            Code.APPROVAL_EXPIRED, "La aprobación venció: la operación se canceló."
        )
    return intent


def approval_approve(*, intent: Intent, user: User, note: str = "") -> Intent:
    """A second person approves a pending refund or reversal: it is sent to the terminal now.

    Refused (nothing changes) when the user's role does not allow approving, when the user asked
    for it, when it expired (it is expired then) or was decided, or when its terminal is busy
    (it stays pending: approve again once the terminal is free)."""
    intent = _decidable(
        intent,
        user,
        by_requester="Quien pidió la operación no puede aprobarla: tiene que hacerlo otra persona.",
    )
    original = intent.original
    if intent.kind == Kind.REVERSAL and original is not None:
        # The batch may have closed while it waited: then only a refund is possible. (Its own
        # pending reversal makes the rule answer "already has a reversal": not a refusal here.)
        refusal = reversal_refusals([original])[original.pk]
        if refusal is not None and refusal[0] == Code.BATCH_CLOSED:
            # It can never be sent now: cancelled at once, so nobody approves it again.
            _close(
                intent,
                status=ApprovalRequest.Status.REJECTED,
                actor=actor_for(user, None),
                message=f"No se envió: {refusal[1]}",
                note="Lote cerrado",
                decided_by=user,
                webhook=REJECTED_EVENT,
            )
            raise IntentRuleError(refusal[0], f"{refusal[1]} La anulación se canceló.")
        if refusal is not None and refusal[0] != Code.REVERSAL_NOT_ALLOWED:
            raise IntentRuleError(refusal[0], refusal[1])
    actor = actor_for(user, None)
    now = timezone.now()
    terminals = list(intent.offered_terminals.all())
    with transaction.atomic():
        list(
            Terminal.objects.select_for_update()
            .filter(pk__in=[t.pk for t in terminals])
            .order_by("pk")
        )
        busy = terminals_busy(terminals=terminals)
        if busy:
            raise IntentRuleError(
                Code.TERMINAL_BUSY,
                f"La terminal {busy[0].terminal_id} tiene una operación pendiente: aprobá de "
                "nuevo cuando se libere.",
            )
        changed = ApprovalRequest.objects.filter(
            intent=intent, status=ApprovalRequest.Status.PENDING
        ).update(
            status=ApprovalRequest.Status.APPROVED,
            decided_by=user,
            decided_at=now,
            note=note[:200],
        )
        moved = changed == 1 and intent_transition(
            intent,
            to_state=State.CREATED,
            actor=actor,
            event_type=IntentEvent.Type.APPROVAL,
            message=f"Aprobada por {user.get_username()}" + (f": {note}" if note else "."),
            # From here on it is a create like any other: the sweeper resolves it if this
            # process dies before recording the provider's answer.
            fields={"next_poll_at": now + timedelta(seconds=created_grace_seconds())},
        )
        if not moved:
            transaction.set_rollback(True)
            raise IntentRuleError(Code.APPROVAL_NOT_PENDING, "Otra persona ya la decidió.")
        _webhook_on_commit(intent, APPROVED_EVENT)
    if intent.kind == Kind.REVERSAL:
        return reversal_send(intent, actor=actor)
    return refund_send(intent, actor=actor)


def approval_reject(*, intent: Intent, user: User, note: str = "") -> Intent:
    """A second person rejects a pending refund or reversal: it is cancelled, never sent. The
    requester may not decide it (withdrawing is `intent_cancel`)."""
    intent = _decidable(
        intent,
        user,
        by_requester="Quien pidió la operación no puede decidirla: cancelala o pedí a otra "
        "persona.",
    )
    if not _close(
        intent,
        status=ApprovalRequest.Status.REJECTED,
        actor=actor_for(user, None),
        message=f"Rechazada por {user.get_username()}" + (f": {note}" if note else "."),
        note=note,
        decided_by=user,
        webhook=REJECTED_EVENT,
    ):
        raise IntentRuleError(Code.APPROVAL_NOT_PENDING, "Otra persona ya la decidió.")
    return intent


def approval_withdraw(*, intent: Intent, actor: Actor) -> bool:
    """The requester (or anyone who may cancel) withdraws a pending request: cancelled, not
    sent."""
    return _close(
        intent,
        status=ApprovalRequest.Status.REJECTED,
        actor=actor,
        message=f"Retirada por {actor.label or 'quien la pidió'} antes de aprobarse.",
        note="Retirada",
        webhook=REJECTED_EVENT,
    )


def approvals_expire_due(*, now=None) -> int:
    """Expires every pending approval whose time is up. Safe to run twice (guarded)."""
    now = now or timezone.now()
    expired = 0
    due = Intent.objects.filter(
        state=State.APPROVAL_PENDING, approval_expires_at__lte=now
    ).order_by("approval_expires_at")[:500]
    for intent in due:
        with contextlib.suppress(IntentRuleError):
            expired += _expire_if_due(intent, now=now)
    return expired
