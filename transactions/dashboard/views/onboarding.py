"""Onboarding tracker (owners): the merchant's stages with Prisma, dates, who, the next step,
the incident number and the test-terminals request ready to paste. Rules in `stores.onboarding`."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from stores import onboarding
from stores.models import OnboardingStage
from transactions.dashboard.views.homologation import _merchant_for


class AdvanceForm(forms.Form):
    stage = forms.ChoiceField(label="Etapa alcanzada", choices=OnboardingStage.choices)
    incident_number = forms.CharField(
        label="Número de incidente de Prisma", max_length=40, required=False
    )
    next_step = forms.CharField(
        label="Próximo paso", max_length=300, required=False, help_text="Vacío: el habitual."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for key, label in onboarding.TEST_TERMINALS_FIELDS:
            self.fields[f"t_{key}"] = forms.CharField(
                label=f"{label} (pedido de terminales)", max_length=200, required=False
            )


@login_required
@require_http_methods(["GET", "POST"])
def onboarding_page(request):
    merchant, managed = _merchant_for(request)
    form = AdvanceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        details = {key: data[f"t_{key}"] for key, _label in onboarding.TEST_TERMINALS_FIELDS}
        try:
            onboarding.onboarding_advance(
                merchant=merchant,
                stage=data["stage"],
                user=request.user,
                next_step=data["next_step"],
                incident_number=data["incident_number"],
                details=details
                if data["stage"] == OnboardingStage.TEST_TERMINALS_REQUESTED
                else {},
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Etapa registrada.")
            return redirect(f"{reverse('dashboard:onboarding')}?comercio={merchant.public_id}")
    steps = onboarding.steps(merchant)
    current = steps[-1] if steps else None
    request_step = next(
        (s for s in steps if s.stage == OnboardingStage.TEST_TERMINALS_REQUESTED), None
    )
    return render(
        request,
        "transactions/settings/onboarding.html",
        {
            "merchant": merchant,
            "managed": managed,
            "steps": steps,
            "current": current,
            "notice": onboarding.waiting_notice(current),
            "request_text": onboarding.request_text(request_step.details) if request_step else "",
            "form": form,
        },
        status=422 if form.errors else 200,
    )
