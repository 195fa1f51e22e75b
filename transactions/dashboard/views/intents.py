"""Intent page and its actions: cancel, anular (reversal), devolver (refund), resolver.

Every action checks the role on the intent's store (403 when refused) after the scoped lookup
(404 outside the user's stores); the services then apply the business rules and refuse with an
`IntentRuleError`, shown to the person as a message.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from stores.roles import Action
from transactions import controls, selectors, services
from transactions.dashboard.access import require
from transactions.dashboard.forms import NotReceivedForm, RefundForm, ResolveForm, add_rule_error
from transactions.dashboard.views.common import (
    approval_warning,
    followup_created,
    is_htmx,
    live_box_response,
    polled_fragment_response,
    refresh_quietly,
)
from transactions.dashboard.views.confirm import Confirmation, confirm_response, confirmed
from transactions.errors import IntentRuleError
from transactions.gateway.errors import GatewayError
from transactions.models import Intent
from transactions.money import format_ars, format_decimal_es
from transactions.states import Resolution, State
from transactions.templatetags.money import local_time

POLLED_STATES = frozenset({State.CREATED, State.PENDING, State.PROCESSING, State.CANCELLING})


def _get(request, public_id) -> Intent:
    return selectors.intent_get_for_user(user=request.user, public_id=public_id)


def _panel_context(
    request, intent: Intent, *, refund_form=None, resolve_form=None, not_received_form=None
) -> dict:
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
        "poll": intent.state in POLLED_STATES or intent.state == State.APPROVAL_PENDING,
        # A second person approves in minutes, not seconds: re-read the ledger every 5 s.
        "poll_every": "5s" if intent.state == State.APPROVAL_PENDING else "1s",
        "actions": actions,
        "balance": balance,
        "reversal_reason": reversal_reason,
        "timeline": timeline,
        "followups": list(intent.followups.all()),
        # Empty on purpose: the amount is typed, not the whole balance by default.
        "refund_form": refund_form or RefundForm(),
        "resolve_form": resolve_form or ResolveForm(),
        "not_received_form": not_received_form or NotReceivedForm(),
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
    return polled_fragment_response(
        request, "transactions/_intent_panel.html", _panel_context(request, intent)
    )


@login_required
@require_GET
def intent_live(request, public_id):
    """The small live box under the charge form of a terminal page."""
    intent = refresh_quietly(_get(request, public_id))
    return live_box_response(
        request,
        intent,
        actions=selectors.intent_actions_for_user(intent=intent, user=request.user),
    )


@login_required
@require_POST
def intent_cancel(request, public_id):
    intent = _get(request, public_id)
    require(user=request.user, store=intent.store, action=Action.CANCEL)
    ok, notice = False, ""
    try:
        intent = services.intent_cancel(intent=intent, user=request.user)
        ok, notice = True, "Cancelación pedida."
    except IntentRuleError as exc:
        notice = exc.message
    except GatewayError as exc:
        notice = f"Prisma no respondió a la cancelación: {exc.message}"
    if is_htmx(request) and request.POST.get("from") == "live":
        # The notice lives in the box it is about: a django message would wait in the session
        # and show up on whatever page is loaded next.
        return live_box_response(
            request,
            intent,
            actions=selectors.intent_actions_for_user(intent=intent, user=request.user),
            notice=notice,
        )
    (messages.info if ok else messages.error)(request, notice)
    return redirect("dashboard:intent_detail", public_id=intent.public_id)


def _detail_url(intent: Intent) -> str:
    return reverse("dashboard:intent_detail", args=[intent.public_id])


@login_required
@require_POST
def intent_reverse(request, public_id):
    payment = _get(request, public_id)
    require(user=request.user, store=payment.store, action=Action.REVERSE)
    if not confirmed(request):
        allowed, refusal = selectors.reversal_allowed(payment=payment)
        if not allowed and refusal is not None:
            # Nothing to confirm: say why now (the service checks again when it acts).
            messages.error(request, refusal[1])
            return redirect("dashboard:intent_detail", public_id=payment.public_id)
        return confirm_response(
            request,
            Confirmation(
                title="Anular el cobro",
                question="¿Anulás este cobro? Se envía la anulación a la terminal y el cliente "
                "vuelve a pasar la tarjeta para confirmarla.",
                details=[
                    ("Importe", format_ars(payment.amount)),
                    ("Tarjeta", _card_text(payment)),
                    (
                        "Cobrado",
                        local_time(
                            payment.finished_at or payment.created_at, payment.store.time_zone
                        ),
                    ),
                ],
                action=reverse("dashboard:intent_reverse", args=[payment.public_id]),
                button="Sí, anular",
                back=_detail_url(payment),
                warning=approval_warning(
                    controls.reversal_approval_need(
                        payment=payment, controls=controls.controls_for(payment.store)
                    )
                ),
            ),
        )
    try:
        reversal = services.reversal_create(payment=payment, user=request.user)
    except IntentRuleError as exc:
        messages.error(request, exc.message)
        return redirect("dashboard:intent_detail", public_id=payment.public_id)
    except GatewayError as exc:
        messages.error(request, f"Prisma no respondió: {exc.message}")
        return redirect("dashboard:intent_detail", public_id=payment.public_id)
    return followup_created(
        request, reversal, sent="Anulación enviada a la terminal: pasá la tarjeta para confirmarla."
    )


def _card_text(intent: Intent) -> str:
    if not intent.card_last_four:
        return "—"
    return f"{intent.card_brand} •••• {intent.card_last_four}".strip()


@login_required
@require_POST
def intent_refund(request, public_id):
    payment = _get(request, public_id)
    require(user=request.user, store=payment.store, action=Action.REFUND)
    form = RefundForm(request.POST)
    if form.is_valid() and not confirmed(request):
        # The amount is typed, never pre-filled with the whole balance, and shown once more
        # before anything moves. The balance rule is checked again by `refund_create`.
        amount = form.cleaned_data["amount"]
        balance = selectors.refundable_balance(payment=payment)
        if amount > balance:
            form.add_error(
                "amount", f"El importe supera el saldo devolvible ({format_ars(balance)})."
            )
        else:
            return confirm_response(
                request,
                Confirmation(
                    title="Devolver",
                    question=f"¿Devolvés {format_ars(amount)} de este cobro? El cliente vuelve "
                    "a pasar la tarjeta en la terminal.",
                    details=[
                        ("Importe a devolver", format_ars(amount)),
                        ("Cobro original", format_ars(payment.amount)),
                        ("Saldo devolvible", format_ars(balance)),
                        ("Tarjeta", _card_text(payment)),
                    ],
                    hidden=[("amount", format_decimal_es(amount, thousands=False))],
                    action=reverse("dashboard:intent_refund", args=[payment.public_id]),
                    button=f"Sí, devolver {format_ars(amount)}",
                    back=_detail_url(payment),
                    warning=approval_warning(
                        controls.refund_approval_need(
                            amount=amount, controls=controls.controls_for(payment.store)
                        )
                    ),
                ),
            )
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
            return followup_created(request, refund, sent="Devolución enviada a la terminal.")
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
def intent_not_received(request, public_id):
    """ "No recibida por Prisma": asks the provider once more and, if it does not have the
    intention, closes it (see `services.intent_close_not_received`)."""
    intent = _get(request, public_id)
    require(user=request.user, store=intent.store, action=Action.RESOLVE)
    form = NotReceivedForm(request.POST)
    if form.is_valid():
        try:
            intent = services.intent_close_not_received(
                intent=intent,
                user=request.user,
                reason=form.cleaned_data["reason"],
                release_reference=form.cleaned_data["release_reference"],
            )
        except IntentRuleError as exc:
            add_rule_error(form, exc)
        else:
            if intent.resolution == Resolution.NOT_RECEIVED:
                messages.success(
                    request,
                    "Cerrada como no recibida por Prisma. Quedó registrado quién y por qué.",
                )
            else:
                messages.warning(
                    request,
                    "Prisma sí tiene esta intención: se registró su estado y se sigue desde ahí. "
                    "No se cerró.",
                )
            return redirect("dashboard:intent_detail", public_id=intent.public_id)
    return render(
        request,
        "transactions/intent_detail.html",
        _panel_context(request, intent, not_received_form=form),
        status=422,
    )


@login_required
@require_POST
def intent_release_reference(request, public_id):
    intent = _get(request, public_id)
    require(user=request.user, store=intent.store, action=Action.RESOLVE)
    if not confirmed(request):
        return confirm_response(
            request,
            Confirmation(
                title="Liberar la referencia POS",
                question=f"¿Liberás la referencia {intent.reference}? El pedido se podrá volver "
                "a cobrar: hacelo solo si no se pagó de otra forma.",
                action=reverse("dashboard:intent_release_reference", args=[intent.public_id]),
                button="Sí, liberar",
                back=_detail_url(intent),
            ),
        )
    try:
        services.intent_release_reference(intent=intent, user=request.user)
    except IntentRuleError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Referencia {intent.reference} liberada.")
    return redirect("dashboard:intent_detail", public_id=intent.public_id)


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
