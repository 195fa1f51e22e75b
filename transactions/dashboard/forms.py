"""Forms of the dashboard. They parse and validate input; the rules live in the services, whose
`IntentRuleError`s the views attach to these forms (see `add_rule_error`)."""

import re
from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from stores.models import Membership, Store, Terminal
from stores.roles import Role
from transactions.brands import brand_choices
from transactions.errors import IntentRuleError
from transactions.models import Method
from transactions.states import State

BRAND_CHOICES = brand_choices()

_ES_THOUSANDS = re.compile(r"^\d{1,3}(\.\d{3})+$")


def parse_amount(text: str) -> Decimal:
    """An amount as people type it: `1.234,56`, `1234,56`, `1234.56`, `$ 1.234` or `1234`.

    A dot followed by exactly three digits (and no comma) is a thousands separator, as in es-AR:
    `1.234` is one thousand two hundred thirty-four pesos, never 1.234 pesos.
    """
    raw = (text or "").strip().replace("$", "").replace(" ", "").replace("\u00a0", "")
    if not raw:
        raise forms.ValidationError("Ingresá un importe.", code="required")
    if "," in raw and "." in raw:
        decimal_sep = "," if raw.rfind(",") > raw.rfind(".") else "."
        thousands_sep = "." if decimal_sep == "," else ","
        raw = raw.replace(thousands_sep, "").replace(decimal_sep, ".")
    elif "," in raw:
        if raw.count(",") > 1:
            raise forms.ValidationError("El importe no es válido.", code="invalid")
        raw = raw.replace(",", ".")
    elif _ES_THOUSANDS.match(raw):
        raw = raw.replace(".", "")
    if not re.fullmatch(r"\d+(\.\d{1,2})?", raw):
        raise forms.ValidationError(
            "El importe no es válido: usá por ejemplo 1.234,56 (hasta dos decimales).",
            code="invalid",
        )
    try:
        amount = Decimal(raw)
    except InvalidOperation as exc:  # pragma: no cover - the regex above already rules it out
        raise forms.ValidationError("El importe no es válido.", code="invalid") from exc
    if amount <= 0:
        raise forms.ValidationError("El importe tiene que ser mayor que cero.", code="min")
    return amount.quantize(Decimal("0.01"))


class AmountField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("label", "Importe")
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault(
            "widget",
            forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "1.234,56"}),
        )
        super().__init__(**kwargs)

    def clean(self, value):
        return parse_amount(super().clean(value))


def add_rule_error(form: forms.Form, error: IntentRuleError) -> None:
    """Shows a service refusal on the field it names, or on the whole form."""
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)


class ChargeForm(forms.Form):
    amount = AmountField()
    installments = forms.IntegerField(
        label="Cuotas",
        min_value=1,
        max_value=24,
        initial=1,
        error_messages={
            "min_value": "Las cuotas van de 1 a 24.",
            "max_value": "Las cuotas van de 1 a 24.",
            "invalid": "Ingresá un número de cuotas.",
        },
    )
    brand = forms.ChoiceField(label="Tarjeta", choices=BRAND_CHOICES, required=False)
    method = forms.ChoiceField(
        label="Medio",
        choices=Method.choices,
        initial=Method.CARD,
        widget=forms.RadioSelect,
    )
    reference = forms.CharField(
        label="Referencia",
        max_length=64,
        required=False,
        help_text="Número de ticket o pedido del punto de venta (opcional).",
    )


class RefundForm(forms.Form):
    amount = AmountField(label="Importe a devolver")

    def __init__(self, *args, balance: Decimal | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.balance = balance

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if self.balance is not None and amount > self.balance:
            from transactions.money import format_ars

            raise forms.ValidationError(
                f"No se puede devolver más que el saldo: {format_ars(self.balance)}."
            )
        return amount


class ResolveForm(forms.Form):
    OUTCOMES = [
        (State.APPROVED, "Aprobada: el cliente pagó"),
        (State.DECLINED, "Rechazada: el cobro no se hizo"),
        (State.CANCELLED, "Cancelada"),
        (State.FAILED, "Con error"),
    ]
    outcome = forms.ChoiceField(label="Resultado", choices=OUTCOMES)
    evidence = forms.CharField(
        label="Evidencia",
        max_length=200,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="p. ej. cupón 1234 del ticket de la terminal, o el ticket de cierre de lote.",
    )
    reason = forms.CharField(
        label="Motivo", max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )


# --- Settings --------------------------------------------------------------------------------


class StoreForm(forms.ModelForm):
    class Meta:
        model = Store
        fields = [
            "merchant",
            "name",
            "code",
            "address",
            "time_zone",
            "environment",
            "batch_close_hour",
            "pending_timeout_seconds",
        ]

    def __init__(self, *args, merchants, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["merchant"].queryset = merchants
        self.fields["merchant"].label = "Comercio"
        if self.instance.pk:
            # Moving a store to another merchant would move its ledger too: not from here.
            self.fields["merchant"].disabled = True


class TerminalForm(forms.ModelForm):
    class Meta:
        model = Terminal
        fields = ["store", "terminal_id", "label", "serial", "model", "enabled"]

    def __init__(self, *args, stores, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = stores
        self.fields["store"].label = "Sucursal"
        self.fields["terminal_id"].help_text = "El número de 8 dígitos que Prisma le asignó."


class PosKeyForm(forms.Form):
    store = forms.ModelChoiceField(label="Sucursal", queryset=Store.objects.none())
    name = forms.CharField(label="Nombre", max_length=120, help_text="p. ej. 'Caja 1 - POS'.")

    def __init__(self, *args, stores, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = stores


class MemberForm(forms.Form):
    """Gives a person a role on one store or on every store of a merchant.

    An unknown username creates the user with the given password; a known one just gets the role.
    """

    username = forms.CharField(label="Usuario", max_length=150)
    first_name = forms.CharField(label="Nombre", max_length=150, required=False)
    password = forms.CharField(
        label="Contraseña inicial",
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Solo para usuarios nuevos.",
    )
    role = forms.ChoiceField(label="Rol", choices=Role.choices)
    store = forms.ModelChoiceField(
        label="Sucursal",
        queryset=Store.objects.none(),
        required=False,
        empty_label="Todas las sucursales del comercio",
    )

    def __init__(self, *args, stores, merchants, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = stores
        self.merchants = merchants

    def clean(self):
        data = super().clean()
        username = data.get("username")
        if not username:
            return data
        user_model = get_user_model()
        user = user_model.objects.filter(username=username).first()
        if user is None and not data.get("password"):
            self.add_error("password", "El usuario no existe: indicá una contraseña inicial.")
        elif user is None:
            try:
                validate_password(data["password"], user=user_model(username=username))
            except ValidationError as exc:
                self.add_error("password", exc)
        data["user"] = user
        store = data.get("store")
        if store is None:
            merchant = self.merchants.first() if self.merchants.count() == 1 else None
            if merchant is None:
                self.add_error(
                    "store",
                    "Elegí una sucursal: solo un dueño de un único comercio puede dar acceso a "
                    "todas.",
                )
            data["merchant"] = merchant
        else:
            data["merchant"] = None
        if user is not None:
            exists = Membership.objects.filter(user=user)
            exists = (
                exists.filter(store=store) if store else exists.filter(merchant=data["merchant"])
            )
            if exists.exists():
                self.add_error(None, "Esa persona ya tiene un rol ahí; editalo en la lista.")
        return data


class MembershipRoleForm(forms.Form):
    role = forms.ChoiceField(label="Rol", choices=Role.choices)
