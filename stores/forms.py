"""Forms of the stores app. They map fields to models; the rules live in models and services."""

from django import forms

from stores.models import Credential, Merchant
from stores.validators import normalize_cuit, provider_url_problem


class MerchantForm(forms.ModelForm):
    """Accepts a CUIT with or without dashes, dots or spaces and stores it as `XX-XXXXXXXX-X`.

    The check digit (and the sandbox exception) is enforced by `Merchant.clean`, which the model
    form runs after this.
    """

    # Wider than the model's 13 characters so "30 71234567 1" or "30.71234567.1" reach the
    # normaliser instead of failing a length check first.
    cuit = forms.CharField(label="CUIT", max_length=20, help_text="p. ej. 30-71234567-1")

    class Meta:
        model = Merchant
        fields = ["cuit", "legal_name", "sandbox_only"]

    def clean_cuit(self) -> str:
        return normalize_cuit(self.cleaned_data["cuit"])


class CredentialForm(forms.ModelForm):
    """Edits a credential with a write-only secret. Shape only: the writes (and the encryption of
    the secret) go through `stores.services` (`credential_create`, `credential_update`,
    `credential_set_secret`); do not call `save()` to store a secret.

    The secret is never rendered (not even masked: `render_value=False`), required when the
    credential is created, and optional afterwards, where leaving it empty keeps the stored one.
    """

    # Provider hosts are HTTPS; only the local simulator is plain http, and it is typed in full.
    base_url = forms.URLField(
        label="URL base",
        assume_scheme="https",
        help_text="p. ej. https://api-homo.prismamediosdepago.com (sin barra final).",
    )
    secret_key = forms.CharField(
        label="clave secreta",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=(
            "Se guarda cifrada y no se vuelve a mostrar. Dejala vacía para conservar la actual."
        ),
    )

    class Meta:
        model = Credential
        fields = [
            "name",
            "environment",
            "base_url",
            "public_key",
            "secret_key",
            "merchants",
            "integrator",
            "ecr_provider",
            "ecr_name",
            "ecr_version",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("ecr_provider", "ecr_name"):
            # Empty keeps the default (the portal's name); only a registration that declared
            # another needs them.
            if name in self.fields:
                self.fields[name].required = False
        if self.instance.pk is None:
            self.fields["secret_key"].required = True
            self.fields["secret_key"].help_text = "Se guarda cifrada y no se vuelve a mostrar."

    def clean_base_url(self) -> str:
        url = self.cleaned_data["base_url"].rstrip("/")
        error = provider_url_problem(url)
        if error:
            raise forms.ValidationError(error)
        return url

    def save(self, commit: bool = True) -> Credential:
        # The admin's save(commit=False) only fills the instance; writing goes through services.
        if commit:
            raise TypeError(
                "CredentialForm does not write: use stores.services.credential_create / "
                "credential_update, which encrypt the secret."
            )
        return super().save(commit=False)

    def clean(self):
        data = super().clean()
        if self.instance.retired_at is not None:
            raise forms.ValidationError("Esta credencial está retirada: ya no se puede cambiar.")
        return data
