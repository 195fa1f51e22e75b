"""Integrators' pages: one of an integrator's people onboards a merchant (CUIT, razón social)
and shares the integrator's credentials with it. The rules are `stores.services.merchant_create`'s;
who is an integrator's person, `stores.permissions.integrator_member`."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from stores import services as store_services
from stores.models import Credential, Integrator
from stores.validators import normalize_cuit


class MerchantCreateForm(forms.Form):
    integrator = forms.ModelChoiceField(
        label="Integrador", queryset=Integrator.objects.none(), empty_label=None
    )
    cuit = forms.CharField(label="CUIT", max_length=20, help_text="p. ej. 30-71234567-1")
    legal_name = forms.CharField(label="Razón social", max_length=200)
    sandbox_only = forms.BooleanField(
        label="Solo sandbox",
        required=False,
        help_text="Permite el CUIT ficticio del sandbox de Prisma (30-12345678-9).",
    )
    credentials = forms.ModelMultipleChoiceField(
        label="Credenciales preintegradas",
        queryset=Credential.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Las credenciales del integrador que va a usar el comercio.",
    )

    def __init__(self, *args, integrators, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["integrator"].queryset = integrators
        self.fields["credentials"].queryset = (
            Credential.objects.active().filter(integrator__in=integrators).order_by("name")
        )

    def clean_cuit(self) -> str:
        return normalize_cuit(self.cleaned_data["cuit"])


def _integrators(user):
    if user.is_superuser:
        return Integrator.objects.all()
    return Integrator.objects.filter(members=user)


@login_required
@require_http_methods(["GET", "POST"])
def merchant_create(request):
    """ "Nuevo comercio" for an integrator's people; they become the merchant's owners."""
    integrators = _integrators(request.user)
    if not integrators.exists():
        raise PermissionDenied("Solo la gente de un integrador da de alta comercios.")
    form = MerchantCreateForm(request.POST or None, integrators=integrators)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            merchant = store_services.merchant_create(
                user=request.user,
                integrator=data["integrator"],
                cuit=data["cuit"],
                legal_name=data["legal_name"],
                sandbox_only=data["sandbox_only"],
                credentials=data["credentials"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request, f"Comercio «{merchant.legal_name}» creado: ya podés cargar sus sucursales."
            )
            return redirect("dashboard:settings")
    return render(
        request,
        "transactions/settings/form.html",
        {"form": form, "title": "Nuevo comercio", "back": "dashboard:home"},
        status=422 if form.errors else 200,
    )
