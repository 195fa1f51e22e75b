"""Intent page and its actions: cancel, anular (reversal), devolver (refund), resolver.

Every action checks the role on the intent's store (403 when refused) after the scoped lookup
(404 outside the user's stores); the services then apply the business rules and refuse with an
`IntentRuleError`, shown to the person as a message.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from stores.roles import Action
from transactions import selectors, services
from transactions.dashboard.access import require
from transactions.dashboard.forms import RefundForm, ResolveForm, add_rule_error
from transactions.dashboard.views.common import is_htmx, refresh_quietly
from transactions.errors import IntentRuleError
from transactions.gateway.errors import GatewayError
from transactions.models import Intent
from transactions.money import format_decimal_es
from transactions.states import State

# Maker-checker (issue 15): above the store's threshold the operation waits, unsent.
_HELD = (
    "Supera el umbral de la sucursal: espera la aprobación de otra persona (Aprobaciones). "
    "No se envió a la terminal."
)
POLLED_STATES = frozenset({State.CREATED, State.PENDING, State.PROCESSING, State.CANCELLING})


def _get(request, public_id) -> Intent:
    return selectors.intent_get_for_user(user=request.user, public_id=public_id)


def _panel_context(request, intent: Intent, *, refund_form=None, resolve_form=None) -> dict:
    # The rules once per render (the panel is polled every second while the intent is live).
    rules = selectors.intent_rules_for_user(intent=intent, user=request.user)
    actions = set(rules.actions)
    balance = rules.refundable
    reversal_reason = ""
    if "reverse" not in actions and rules.reversal_refusal is not None:
        reversal_reason = rules.reversal_refusal[1]
    events = list(intent.events.select_related("actor_user", "actor_pos"))
    calls = list(intent.gateway_calls.all())
    timeline = sorted(
        [("event", e.created_at, e) for e in events] + [("call", c.created_at, c) for c in calls],
        key=lambda row: row[1],
    )
    return {
        "intent": intent,
        # In doubt is left out: the resolver works on it slowly, and polling would wipe the
        # resolve form while a person fills it in.
        "poll": intent.state in POLLED_STATES,
        "actions": actions,
        "balance": balance,
        "reversal_reason": reversal_reason,
        "timeline": timeline,
        "followups": list(intent.followups.all()),
        "refund_form": refund_form
        or RefundForm(initial={"amount": format_decimal_es(balance) if balance else ""}),
        "resolve_form": resolve_form or ResolveForm(),
    }


@login_required
@require_GET
def intent_detail(request, public_id):
    intent = _get(request, public_id)
    return render(request, "transactions/intent_detail.html", _panel_context(request, intent))


@login_required
@require_GET
def intent_panel(request, public_id):
    """The intent page's live panel, polled every second while the intent is not final."""
    intent = refresh_quietly(_get(request, public_id))
    return render(request, "transactions/_intent_panel.html", _panel_context(request, intent))


@login_required
@require_GET
def intent_live(request, public_id):
    """The small live box under the charge form of a terminal page."""
    intent = refresh_quietly(_get(request, public_id))
    return render(
        request,
        "transactions/_intent_live.html",
        {
            "intent": intent,
            "terminal": intent.terminal,
            "actions": selectors.intent_actions_for_user(intent=intent, user=request.user),
        },
    )


def _after_action(request, intent: Intent, *, live_box: bool = False):
    if is_htmx(request) and live_box:
        return render(
            request,
            "transactions/_intent_live.html",
            {
                "intent": intent,
                "terminal": intent.terminal,
                "actions": selectors.intent_actions_for_user(intent=intent, user=request.user),
            },
        )
    return redirect("dashboard:intent_detail", public_id=intent.public_id)


@login_required
@require_POST
def intent_cancel(request, public_id):
    intent = _get(request, public_id)
    require(user=request.user, store=intent.store, action=Action.CANCEL)
    try:
        intent = services.intent_cancel(intent=intent, user=request.user)
        messages.info(request, "Cancelación pedida.")
    except IntentRuleError as exc:
        messages.error(request, exc.message)
    except GatewayError as exc:
        messages.error(request, f"Prisma no respondió a la cancelación: {exc.message}")
    return _after_action(request, intent, live_box=request.POST.get("from") == "live")


@login_required
@require_POST
def intent_reverse(request, public_id):
    payment = _get(request, public_id)
    require(user=request.user, store=payment.store, action=Action.REVERSE)
    try:
        reversal = services.reversal_create(payment=payment, user=request.user)
    except IntentRuleError as exc:
        messages.error(request, exc.message)
        return redirect("dashboard:intent_detail", public_id=payment.public_id)
    except GatewayError as exc:
        messages.error(request, f"Prisma no respondió: {exc.message}")
        return redirect("dashboard:intent_detail", public_id=payment.public_id)
    if reversal.state == State.APPROVAL_PENDING:
        messages.warning(request, _HELD)
    else:
        messages.success(
            request, "Anulación enviada a la terminal: pasá la tarjeta para confirmarla."
        )
    return redirect("dashboard:intent_detail", public_id=reversal.public_id)


@login_required
@require_POST
def intent_refund(request, public_id):
    payment = _get(request, public_id)
    require(user=request.user, store=payment.store, action=Action.REFUND)
    form = RefundForm(request.POST)
    if form.is_valid():
        try:
            refund = services.refund_create(
                store=payment.store,
                # A payment settled by hand may not know its terminal: use the one it was offered.
                terminal=payment.terminal or payment.offered_terminals.first(),
                amount=form.cleaned_data["amount"],
                original=payment,
                user=request.user,
            )
        except IntentRuleError as exc:
            add_rule_error(form, exc)
        except GatewayError as exc:
            form.add_error(None, f"Prisma no respondió: {exc.message}")
        else:
            if refund.state == State.APPROVAL_PENDING:
                messages.warning(request, _HELD)
            else:
                messages.success(request, "Devolución enviada a la terminal.")
            return redirect("dashboard:intent_detail", public_id=refund.public_id)
    return render(
        request,
        "transactions/intent_detail.html",
        _panel_context(request, payment, refund_form=form),
        status=422,
    )


@login_required
@require_POST
def intent_resolve(request, public_id):
    intent = _get(request, public_id)
    require(user=request.user, store=intent.store, action=Action.RESOLVE)
    form = ResolveForm(request.POST)
    if form.is_valid():
        try:
            intent = services.intent_resolve(
                intent=intent,
                outcome=form.cleaned_data["outcome"],
                evidence=form.cleaned_data["evidence"],
                reason=form.cleaned_data["reason"],
                user=request.user,
            )
        except IntentRuleError as exc:
            add_rule_error(form, exc)
        else:
            messages.success(request, "Intención resuelta. Quedó registrado quién y por qué.")
            return redirect("dashboard:intent_detail", public_id=intent.public_id)
    return render(
        request,
        "transactions/intent_detail.html",
        _panel_context(request, intent, resolve_form=form),
        status=422,
    )


@login_required
@require_POST
def intent_acknowledge(request, public_id):
    """Clears the attention flag of a final intent someone has looked at."""
    intent = _get(request, public_id)
    require(user=request.user, store=intent.store, action=Action.RESOLVE)
    try:
        services.intent_acknowledge(
            intent=intent, user=request.user, note=request.POST.get("note", "")
        )
    except IntentRuleError as exc:
        messages.error(request, f"No se marcó como revisada: {exc.message}")
    else:
        messages.success(request, "Marcada como revisada.")
    return redirect("dashboard:intent_detail", public_id=intent.public_id)
