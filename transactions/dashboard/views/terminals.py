"""Terminal page: live state, the charge form, the terminal's intents of today, and (for the roles
allowed to) a refund that names no original payment."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from stores.permissions import user_can
from stores.roles import Action
from stores.selectors import terminal_get_for_user
from transactions import controls, selectors, services
from transactions.brands import brand_choices
from transactions.dashboard.access import require
from transactions.dashboard.forms import ChargeForm, UnreferencedRefundForm, add_rule_error
from transactions.dashboard.views.common import (
    approval_warning,
    followup_created,
    is_htmx,
    live_box_response,
    live_box_version,
)
from transactions.dashboard.views.confirm import Confirmation, confirm_response, confirmed
from transactions.errors import IntentRuleError
from transactions.gateway.errors import GatewayError
from transactions.labels import PROVIDER_UNREACHABLE_MESSAGE
from transactions.money import format_ars, format_decimal_es
from transactions.reporting.activity import terminal_intents_today


def _context(request, terminal, form=None, blocking=None, refund_form=None):
    store = terminal.store
    return {
        "blocking": blocking,
        "terminal": terminal,
        "store": store,
        "live": selectors.terminal_live_state(terminal=terminal),
        "form": form or ChargeForm(),
        "can_charge": user_can(user=request.user, store=store, action=Action.CHARGE),
        "can_refund_unreferenced": user_can(
            user=request.user, store=store, action=Action.REFUND_UNREFERENCED
        ),
        "refund_form": refund_form or UnreferencedRefundForm(),
        "intents": terminal_intents_today(terminal=terminal),
    }


@login_required
@require_GET
def terminal_detail(request, public_id):
    """The terminal page. While an operation holds the terminal, the charge area shows its live
    box, not a blank form: a cashier who reloaded mid-charge, or came back to the page, follows
    (and can cancel) the charge in progress instead of meeting "tiene una operación pendiente"."""
    terminal = terminal_get_for_user(user=request.user, public_id=public_id)
    context = _context(request, terminal)
    current = context["live"].current_intent
    if context["can_charge"] and current is not None and current.store_id == terminal.store_id:
        context["intent"] = current
        context["actions"] = selectors.intent_actions_for_user(intent=current, user=request.user)
        context["shown"] = live_box_version(current, context["actions"])
    return render(request, "transactions/terminal_detail.html", context)


@login_required
@require_GET
def terminal_live(request, public_id):
    """The state box, polled by the terminal page."""
    terminal = terminal_get_for_user(user=request.user, public_id=public_id)
    return render(
        request,
        "transactions/_terminal_live.html",
        {"terminal": terminal, "live": selectors.terminal_live_state(terminal=terminal)},
    )


@login_required
@require_GET
def terminal_today(request, public_id):
    terminal = terminal_get_for_user(user=request.user, public_id=public_id)
    return render(
        request,
        "transactions/_terminal_today.html",
        {"terminal": terminal, "intents": terminal_intents_today(terminal=terminal)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def terminal_charge(request, public_id):
    """Creates a payment on this terminal. With htmx it answers the live intent box in place of
    the form's result area; without, it redirects to the intent page. GET gives a blank form
    (the "Nuevo cobro" button of a finished charge)."""
    terminal = terminal_get_for_user(user=request.user, public_id=public_id)
    require(user=request.user, store=terminal.store, action=Action.CHARGE)
    if request.method == "GET":
        return render(
            request,
            "transactions/_charge_result.html",
            {"form": ChargeForm(), "intent": None, "terminal": terminal, "can_charge": True},
        )
    form = ChargeForm(request.POST)
    intent = blocking = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            intent = services.payment_create(
                store=terminal.store,
                terminals=[terminal],
                amount=data["amount"],
                installments=data["installments"],
                brand=data["brand"],
                method=data["method"],
                reference=data["reference"],
                change_amount=data["change_amount"],
                user=request.user,
            )
        except IntentRuleError as exc:
            add_rule_error(form, exc)
            blocking = _blocking_intent(request, exc)
        except GatewayError:
            # Nothing was sent (the services catch what happens after the send); the detail is
            # in the provider calls and the logs, not for the cashier.
            form.add_error(None, PROVIDER_UNREACHABLE_MESSAGE)
    if intent is not None and not is_htmx(request):
        return redirect("dashboard:intent_detail", public_id=intent.public_id)
    if is_htmx(request):
        # 200 even for a refused form: htmx swaps only 2xx answers by default.
        if intent is not None:
            return live_box_response(
                request,
                intent,
                actions=selectors.intent_actions_for_user(intent=intent, user=request.user),
                terminal=terminal,
            )
        return render(
            request,
            "transactions/_charge_result.html",
            {"form": form, "intent": None, "terminal": terminal, "blocking": blocking},
        )
    return render(
        request,
        "transactions/terminal_detail.html",
        _context(request, terminal, form, blocking),
        status=422,
    )


def _blocking_intent(request, exc: IntentRuleError):
    """The intent a busy refusal names, if the person may see it (the form links to it)."""
    if not exc.blocking_intent_id:
        return None
    return (
        selectors.intent_list_for_user(user=request.user)
        .filter(public_id=exc.blocking_intent_id)
        .first()
    )


_BRAND_LABELS = dict(brand_choices())


@login_required
@require_POST
def terminal_refund(request, public_id):
    """A devolución on this terminal that names no original payment (a sale from before the
    portal or from another system): only roles allowed to, confirmed first, and under the
    store's money controls like any refund (`refund_create`: daily limit, approval threshold)."""
    terminal = terminal_get_for_user(user=request.user, public_id=public_id)
    require(user=request.user, store=terminal.store, action=Action.REFUND_UNREFERENCED)
    form = UnreferencedRefundForm(request.POST)
    if form.is_valid() and not confirmed(request):
        data = form.cleaned_data
        amount = data["amount"]
        return confirm_response(
            request,
            Confirmation(
                title="Devolver sin cobro original",
                question=f"¿Devolvés {format_ars(amount)} sin indicar el cobro original? El "
                f"cliente pasa la tarjeta en la terminal {terminal.terminal_id} y recibe el "
                "dinero.",
                details=[
                    ("Importe a devolver", format_ars(amount)),
                    ("Terminal", terminal.label or terminal.terminal_id),
                    ("Tarjeta", _BRAND_LABELS.get(data["brand"], data["brand"])),
                    ("Referencia", data["reference"] or "—"),
                ],
                hidden=[
                    (form.add_prefix("amount"), format_decimal_es(amount, thousands=False)),
                    (form.add_prefix("brand"), data["brand"]),
                    (form.add_prefix("reference"), data["reference"]),
                ],
                action=reverse("dashboard:terminal_refund", args=[terminal.public_id]),
                button=f"Sí, devolver {format_ars(amount)}",
                back=reverse("dashboard:terminal_detail", args=[terminal.public_id]),
                warning=approval_warning(
                    controls.refund_approval_need(
                        amount=amount, controls=controls.controls_for(terminal.store)
                    )
                ),
            ),
        )
    if form.is_valid():
        data = form.cleaned_data
        try:
            refund = services.refund_create(
                store=terminal.store,
                terminal=terminal,
                amount=data["amount"],
                brand=data["brand"],
                reference=data["reference"],
                user=request.user,
            )
        except IntentRuleError as exc:
            add_rule_error(form, exc)
        except GatewayError:
            form.add_error(None, PROVIDER_UNREACHABLE_MESSAGE)
        else:
            return followup_created(request, refund, sent="Devolución enviada a la terminal.")
    return render(
        request,
        "transactions/terminal_detail.html",
        _context(request, terminal, refund_form=form),
        status=422,
    )
