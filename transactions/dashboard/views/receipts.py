"""The receipt (comprobante) of an approved payment, reversal or refund: a printable page and
its "Enviar por e-mail" form (issue 12, item 14)."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from stores.permissions import user_can
from stores.roles import Action
from transactions import selectors
from transactions.dashboard.access import require
from transactions.errors import IntentRuleError
from transactions.receipts import receipt_available, receipt_for
from transactions.services.receipts import receipt_send


class ReceiptEmailForm(forms.Form):
    email = forms.EmailField(
        label="E-mail del cliente",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "off", "inputmode": "email"}),
        error_messages={
            "required": "Ingresá el e-mail del cliente.",
            "invalid": "Ingresá un e-mail válido, p. ej. nombre@dominio.com.",
        },
    )


def _receipt_intent(request, public_id):
    intent = selectors.intent_get_for_user(user=request.user, public_id=public_id)
    if not receipt_available(intent):
        # An operation that did not move money has no receipt: nothing to print or send.
        raise Http404("Esta operación no tiene comprobante.")
    return intent


def _page(request, intent, form, status=200):
    return render(
        request,
        "transactions/extras/receipt.html",
        {
            "intent": intent,
            "receipt": receipt_for(intent),
            "form": form,
            "can_send": user_can(user=request.user, store=intent.store, action=Action.CHARGE),
        },
        status=status,
    )


@login_required
@require_GET
def intent_receipt(request, public_id):
    intent = _receipt_intent(request, public_id)
    return _page(request, intent, ReceiptEmailForm())


@login_required
@require_POST
def intent_receipt_send(request, public_id):
    """Sends the receipt to the address typed; a refusal re-shows the form with the reason."""
    intent = _receipt_intent(request, public_id)
    # Whoever may charge at the store hands the customer the receipt; finance only reads it.
    require(user=request.user, store=intent.store, action=Action.CHARGE)
    form = ReceiptEmailForm(request.POST)
    status = 422
    if form.is_valid():
        try:
            receipt_send(intent=intent, email=form.cleaned_data["email"], user=request.user)
        except IntentRuleError as exc:
            form.add_error("email", exc.message)
            status = exc.http_status  # 429 past the limits, 503 when the mail did not leave
        else:
            messages.success(request, f"Comprobante enviado a {form.cleaned_data['email']}.")
            return redirect("dashboard:intent_receipt", public_id=intent.public_id)
    return _page(request, intent, form, status=status)
