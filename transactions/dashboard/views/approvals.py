"""Aprobaciones (maker-checker, issue 15): the refunds and reversals above their store's
threshold that wait for a second person, and the decisions taken.

The page lists only the stores where the person's role allows `approve` (403 without any); a
decision checks the role on the intent's store after the scoped lookup (404 outside the person's
stores). The rules (never the requester, expiry, a busy terminal) are `services.approvals`; their
refusals are shown as messages and change nothing.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from stores.roles import Action
from stores.selectors import store_list_for_user
from transactions import selectors, services
from transactions.dashboard.access import require
from transactions.dashboard.forms import ApprovalDecisionForm
from transactions.errors import IntentRuleError
from transactions.gateway.errors import GatewayError

RECENT_DECISIONS = 20


@login_required
@require_GET
def approval_list(request):
    if not store_list_for_user(user=request.user, action=Action.APPROVE).exists():
        raise PermissionDenied("Tu rol no permite aprobar devoluciones ni anulaciones.")
    pending = list(selectors.approval_list_for_user(user=request.user))
    decided = list(
        selectors.approval_list_for_user(user=request.user, pending=False)[:RECENT_DECISIONS]
    )
    return render(
        request,
        "transactions/approvals.html",
        {"pending": pending, "decided": decided, "now": timezone.now()},
    )


def _decide(request, public_id, decide, done: str):
    intent = selectors.intent_get_for_user(user=request.user, public_id=public_id)
    require(user=request.user, store=intent.store, action=Action.APPROVE)
    form = ApprovalDecisionForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        decide(intent=intent, user=request.user, note=note)
    except IntentRuleError as exc:
        messages.error(request, exc.message)
    except GatewayError as exc:
        messages.error(request, f"Aprobada, pero Prisma no respondió: {exc.message}")
    else:
        messages.success(request, done)
    return redirect("dashboard:approval_list")


@login_required
@require_POST
def approval_approve(request, public_id):
    return _decide(
        request,
        public_id,
        services.approval_approve,
        "Aprobada: se envió a la terminal. Pasá la tarjeta para confirmarla.",
    )


@login_required
@require_POST
def approval_reject(request, public_id):
    return _decide(
        request, public_id, services.approval_reject, "Rechazada: no se envió a la terminal."
    )
