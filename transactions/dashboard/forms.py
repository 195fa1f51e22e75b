"""Forms of the dashboard. They parse and validate input; the rules live in the services, whose
`IntentRuleError`s the views attach to these forms (see `add_rule_error`)."""

from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError

from stores import services as store_services
from stores.models import Environment, Store, Terminal
from stores.roles import Role
from transactions import money
from transactions.brands import brand_choices
from transactions.errors import IntentRuleError
from transactions.labels import time_zone_choices
from transactions.models import Method
from transactions.rules import MAX_INSTALLMENTS
from transactions.states import State

BRAND_CHOICES = brand_choices()
# The provider sandbox's one fictitious terminal (contract, "Sandbox fixtures").
SANDBOX_TERMINAL_ID = "12345678"


def parse_amount(text: str) -> Decimal:
    """An amount as people type it (`1.234,56`, `1234,56`, `1234.56`, `$ 1.234`, `1234`): the
    project's one amount reader, `transactions.money.parse_amount`, as a form error."""
    try:
        return money.parse_amount(text)
    except money.AmountUnreadable as exc:
        raise forms.ValidationError(str(exc), code="invalid") from exc


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
        max_value=MAX_INSTALLMENTS,
        initial=1,
        error_messages={
            "min_value": f"Las cuotas van de 1 a {MAX_INSTALLMENTS}.",
            "max_value": f"Las cuotas van de 1 a {MAX_INSTALLMENTS}.",
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
    # Issue 15: cash-back on debit (rules: `transactions.controls.clean_cashback`).
    change_amount = forms.CharField(
        label="Extracción (cash-back)",
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "0,00"}),
        help_text="Efectivo que se entrega además del importe: solo débito, en un pago.",
    )

    def clean_change_amount(self):
        text = (self.cleaned_data.get("change_amount") or "").strip()
        return parse_amount(text) if text and text.strip("0,.$ ") else None


class RefundForm(forms.Form):
    """Shape only: whether the amount fits the refundable balance is `refund_create`'s rule,
    whose refusal the view shows on the amount field."""

    amount = AmountField(label="Importe a devolver")


class UnreferencedRefundForm(forms.Form):
    """A devolución that names no original payment (a sale made before the portal, or by
    another system): only for roles allowed to (REFUND_UNREFERENCED). Prefixed, because it
    shares the terminal page with the charge form and its `amount`."""

    prefix = "devolucion"
    amount = AmountField(label="Importe a devolver")
    brand = forms.ChoiceField(label="Tarjeta", choices=BRAND_CHOICES, required=False)
    reference = forms.CharField(
        label="Referencia",
        max_length=64,
        required=False,
        help_text="Ticket o pedido de la venta que se devuelve (opcional, queda en el detalle).",
    )


class ResolveForm(forms.Form):
    OUTCOMES = [
        (State.APPROVED, "Aprobada: el cliente pagó"),
        (State.DECLINED, "Rechazada: el cobro no se hizo"),
        (State.CANCELLED, "Cancelada"),
        (State.FAILED, "Con error"),
    ]
    outcome = forms.ChoiceField(label="Resultado", choices=OUTCOMES)
    # Only "Aprobada" needs it (`intent_resolve`): a charge that never happened has no ticket.
    evidence = forms.CharField(
        label="Evidencia",
        required=False,
        max_length=200,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="p. ej. cupón 1234 del ticket de la terminal, o el ticket de cierre de lote.",
    )
    reason = forms.CharField(
        label="Motivo", max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )


class NotReceivedForm(forms.Form):
    """ "No recibida por Prisma": why, and whether the POS reference is freed now."""

    reason = forms.CharField(
        label="Motivo",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="p. ej. el cliente no vio el cobro en la terminal y pagó en efectivo.",
    )
    release_reference = forms.BooleanField(
        label="Liberar la referencia POS para volver a cobrar el pedido",
        required=False,
        help_text="Dejala sin marcar si el pedido pudo haberse pagado de otra forma: la podés "
        "liberar después.",
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
            "batch_close_hour",
            "pending_timeout_seconds",
            "opens_at",
            "closes_at",
            "idle_alert_minutes",
        ]
        error_messages = {
            "code": {
                "unique": (
                    "Ese código ya lo usa otra sucursal. Elegí otro, por ejemplo con el barrio "
                    "o la calle ('centro-florida')."
                )
            }
        }
        widgets = {
            "opens_at": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "closes_at": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }

    # The environment follows the store's credential, which is switched on its own page after a
    # connection test and a confirmation (`stores.services.store_set_credential`).

    def __init__(self, *args, merchants, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["merchant"].queryset = merchants
        self.fields["merchant"].label = "Comercio"
        # "Córdoba", not "America/Argentina/Cordoba" (the stored value stays the zone's name).
        self.fields["time_zone"].choices = time_zone_choices(self.fields["time_zone"].choices)
        if self.instance.pk:
            # Moving a store to another merchant would move its ledger too: not from here.
            self.fields["merchant"].disabled = True
        # Opening hours and the idle alert (terminal health) may be left empty: they keep
        # what the store has (its defaults for a new one).
        for name in self.KEEP_WHEN_EMPTY:
            self.fields[name].required = False

    KEEP_WHEN_EMPTY = ("opens_at", "closes_at", "idle_alert_minutes")

    def clean(self):
        data = super().clean()
        for name in self.KEEP_WHEN_EMPTY:
            if data.get(name) in (None, "") and name not in self.errors:
                data[name] = getattr(self.instance, name)
        return data


class StoreCredentialForm(forms.Form):
    """Which credential a store charges with; `confirm` is the second step's "Sí, cambiar"."""

    credential = forms.ModelChoiceField(
        label="Credencial",
        queryset=Store.objects.none(),
        widget=forms.RadioSelect,
        empty_label=None,
        error_messages={
            "required": "Elegí una credencial.",
            "invalid_choice": "Elegí una credencial de la lista.",
        },
    )
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, credentials, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["credential"].queryset = credentials
        self.fields["credential"].label_from_instance = _credential_label


def _credential_label(credential) -> str:
    tested = (
        "probada"
        if credential.last_tested_ok_at is not None
        else "sin probar: probala en Configuración antes de elegirla"
    )
    return f"{credential.name} · {credential.get_environment_display()} · {tested}"


class TerminalForm(forms.ModelForm):
    class Meta:
        model = Terminal
        fields = ["store", "terminal_id", "label", "serial", "model", "purpose", "enabled"]
        # Django's own ("Ya existe un/a Terminal con este/a Número de terminal.") says neither
        # what happened in words a person uses nor what to do next.
        error_messages = {
            "terminal_id": {
                "unique": (
                    "Esa terminal ya está cargada en el portal. Revisá el número; si la "
                    "terminal cambió de sucursal, editá la que ya está cargada en lugar de "
                    "agregarla otra vez."
                )
            }
        }

    def __init__(self, *args, stores, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = stores
        self.fields["store"].label = "Sucursal"
        self.fields["terminal_id"].help_text = "El número de 8 dígitos que Prisma le asignó."
        self.fields["purpose"].required = False  # omitted: the model's default (test)
        self.fields["purpose"].help_text = (
            "Las de prueba cobran solo en sandbox y homologación; las de producción, solo en "
            "producción (durante el piloto, hasta dos en la sucursal piloto)."
        )

    def _post_clean(self):
        super()._post_clean()  # fills self.instance with the cleaned values
        if not self.errors:
            # The pilot gate is a settings rule of `stores.services`; shown on the field.
            try:
                store_services.terminal_check_purpose(terminal=self.instance)
            except ValidationError as exc:
                self.add_error(None, exc)

    def clean(self):
        # What the provider is known to allow (the contract's sandbox fixtures): its sandbox
        # accepts one fictitious terminal only. Beyond that the contract has no call to ask
        # whether a terminal exists: it stays "sin verificar" until it takes an intention.
        data = super().clean()
        store, terminal_id = data.get("store"), data.get("terminal_id")
        if (
            store is not None
            and terminal_id
            and store.environment == Environment.SANDBOX
            and terminal_id != SANDBOX_TERMINAL_ID
        ):
            self.add_error(
                "terminal_id",
                f"El sandbox de Prisma solo acepta la terminal {SANDBOX_TERMINAL_ID}: usá ese "
                "número o pasá la sucursal a homologación.",
            )
        return data


class PosKeyPermissionsForm(forms.Form):
    """What a POS key may do (issue 15): a till that only charges gets a charge-only key."""

    can_charge = forms.BooleanField(label="Puede cobrar", required=False, initial=True)
    can_cancel = forms.BooleanField(
        label="Puede cancelar intenciones pendientes", required=False, initial=True
    )
    can_reverse = forms.BooleanField(label="Puede anular", required=False, initial=False)
    can_refund = forms.BooleanField(label="Puede devolver", required=False, initial=False)
    can_close_batch = forms.BooleanField(label="Puede cerrar lote", required=False, initial=False)
    can_refund_unreferenced = forms.BooleanField(
        label="Puede devolver sin indicar el cobro original",
        required=False,
        initial=False,
        help_text="Solo para POS que lo necesiten: es la devolución más fácil de abusar.",
    )
    PERMISSIONS = (
        "can_charge",
        "can_cancel",
        "can_reverse",
        "can_refund",
        "can_close_batch",
        "can_refund_unreferenced",
    )


class PosKeyForm(PosKeyPermissionsForm):
    store = forms.ModelChoiceField(label="Sucursal", queryset=Store.objects.none())
    name = forms.CharField(label="Nombre", max_length=120, help_text="p. ej. 'Caja 1 - POS'.")
    field_order = ["store", "name"]

    def __init__(self, *args, stores, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = stores


class OptionalAmountField(AmountField):
    """An amount that may be left blank (None): "no limit"."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def clean(self, value):
        if not (value or "").strip():
            return None
        return super().clean(value)


class MoneyControlsForm(forms.Form):
    """A store's money controls (issue 15). Shape only: `services.money_controls_save` checks
    the values; blank means "no control"."""

    refund_approval_threshold = OptionalAmountField(
        label="Devoluciones: pedir aprobación por encima de",
        help_text="Vacío: ninguna devolución espera aprobación.",
    )
    reversal_approval_threshold = OptionalAmountField(
        label="Anulaciones: pedir aprobación por encima de",
        help_text="Vacío: ninguna anulación espera aprobación.",
    )
    approval_expiry_minutes = forms.IntegerField(
        label="Vencimiento de la aprobación (minutos)",
        min_value=1,
        max_value=7 * 24 * 60,
        initial=60,
        help_text="Lo que nadie aprueba en este tiempo se cancela solo.",
    )
    daily_refund_limit = OptionalAmountField(
        label="Límite diario de devoluciones",
        help_text="Suma de las devoluciones del día. Vacío: sin límite.",
    )
    cashback_max = OptionalAmountField(
        label="Extracción máxima (cash-back)",
        help_text="Solo débito. Vacío: la sucursal no da extracciones.",
    )

    def __init__(self, *args, window_keys: tuple[str, ...], **kwargs):
        super().__init__(*args, **kwargs)
        self.window_keys = window_keys
        for key in window_keys:
            label = "otras marcas" if key == "*" else key
            self.fields[self.window_field(key)] = forms.IntegerField(
                label=f"Plazo para devolver {label} (días)",
                required=False,
                min_value=0,
                max_value=3650,
                help_text="Vacío: sin plazo." if key == "*" else "Vacío: el de otras marcas.",
            )

    @staticmethod
    def window_field(key: str) -> str:
        return "window_other" if key == "*" else f"window_{key}"

    def windows(self) -> dict[str, int | None]:
        return {key: self.cleaned_data.get(self.window_field(key)) for key in self.window_keys}


class ApprovalDecisionForm(forms.Form):
    note = forms.CharField(label="Nota", max_length=200, required=False)


class MemberForm(forms.Form):
    """Gives a person a role on one store or on every store of a merchant.

    Shape only: who the person is, whether a password is needed and valid, and whether the role
    already exists are `stores.services.membership_create`'s rules.
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

    def __init__(self, *args, stores, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = stores


class MembershipRoleForm(forms.Form):
    role = forms.ChoiceField(label="Rol", choices=Role.choices)
