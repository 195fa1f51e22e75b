"""Forms of the finance pages: the fee and terms table, the liquidación column mapping and
upload, and the work on a reconciliation difference. Spanish labels, es-AR numbers ("1,8")."""

from decimal import Decimal, InvalidOperation

from django import forms

from transactions.brands import PRODUCTS
from transactions.reporting.deposits import ANY_BRAND, FeeTerms
from transactions.reporting.liquidation import FIELDS, MAX_FILE_BYTES
from transactions.reporting.totals import CREDIT, DEBIT

PAYMENT_TYPES = [(CREDIT, "Crédito"), (DEBIT, "Débito")]


def brand_choices() -> list[tuple[str, str]]:
    brands = sorted({product.brand for product in PRODUCTS})
    return [(ANY_BRAND, "Otras marcas")] + [(brand, brand.title()) for brand in brands]


class PercentField(forms.CharField):
    """A percentage between 0 and 100 written the Argentine way ("1,8") or with a dot."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 10)
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "size": 6}))
        super().__init__(**kwargs)

    def clean(self, value):
        text = (super().clean(value) or "").strip().replace("%", "").replace(",", ".")
        if not text:
            if self.required:
                raise forms.ValidationError("Ingresá un porcentaje.")
            return None
        try:
            number = Decimal(text)
        except InvalidOperation as exc:
            raise forms.ValidationError("Ingresá un porcentaje, por ejemplo 1,8.") from exc
        if not number.is_finite() or number < 0 or number > 100:
            raise forms.ValidationError("El porcentaje va de 0 a 100.")
        if number != number.quantize(Decimal("0.001")):
            raise forms.ValidationError("Usá hasta tres decimales.")
        return number


def percent_text(value: Decimal) -> str:
    return format(value.normalize(), "f").replace(".", ",")


class FeeScheduleForm(forms.Form):
    iva_percent = PercentField(label="IVA sobre aranceles y costo financiero (%)")
    iibb_withholding_percent = PercentField(label="Retención de IIBB (%)")
    iva_withholding_percent = PercentField(label="Retención de IVA (%)")
    ganancias_withholding_percent = PercentField(label="Retención de Ganancias (%)")
    confirmed = forms.BooleanField(
        label="Confirmé estos valores con mi contrato de adquirente", required=False
    )

    @classmethod
    def initial_from(cls, terms: FeeTerms) -> dict:
        return {
            "iva_percent": percent_text(terms.iva_percent),
            "iibb_withholding_percent": percent_text(terms.iibb_withholding_percent),
            "iva_withholding_percent": percent_text(terms.iva_withholding_percent),
            "ganancias_withholding_percent": percent_text(terms.ganancias_withholding_percent),
            "confirmed": terms.confirmed,
        }


class FeeRuleForm(forms.Form):
    brand = forms.ChoiceField(label="Marca", choices=brand_choices, required=False)
    payment_type = forms.ChoiceField(label="Tipo", choices=PAYMENT_TYPES)
    fee_percent = PercentField(label="Arancel (%)")
    term_business_days = forms.IntegerField(
        label="Plazo (días hábiles)",
        min_value=0,
        max_value=120,
        error_messages={
            "invalid": "Ingresá un número de días.",
            "min_value": "El plazo no puede ser negativo.",
            "max_value": "El plazo va hasta 120 días hábiles.",
        },
    )


class InstallmentCostForm(forms.Form):
    installments = forms.IntegerField(
        label="Cuotas",
        min_value=2,
        max_value=99,
        error_messages={
            "invalid": "Ingresá un número de cuotas.",
            "min_value": "Un plan tiene al menos 2 cuotas.",
            "max_value": "Hasta 99 cuotas.",
        },
    )
    cost_percent = PercentField(label="Costo financiero (%)")


class _LabelledRows(forms.BaseFormSet):
    """Rows of a table: each input carries its column's name as `aria-label` (the visible
    label is the column header, which a screen reader does not tie to the input)."""

    def add_fields(self, form, index):
        super().add_fields(form, index)
        row = (index or 0) + 1
        for name, field in form.fields.items():
            label = "Quitar" if name == "DELETE" else field.label
            field.widget.attrs["aria-label"] = f"{label} (fila {row})"


FeeRuleFormSet = forms.formset_factory(
    FeeRuleForm, formset=_LabelledRows, extra=2, can_delete=True, max_num=60
)
InstallmentCostFormSet = forms.formset_factory(
    InstallmentCostForm, formset=_LabelledRows, extra=2, can_delete=True, max_num=40
)


def rules_initial(terms: FeeTerms) -> list[dict]:
    rows = sorted(terms.rules.items(), key=lambda item: (item[0][0] != ANY_BRAND, item[0]))
    return [
        {
            "brand": brand,
            "payment_type": payment_type,
            "fee_percent": percent_text(rule.fee_percent),
            "term_business_days": rule.term_business_days,
        }
        for (brand, payment_type), rule in rows
    ]


def plans_initial(terms: FeeTerms) -> list[dict]:
    return [
        {"installments": n, "cost_percent": percent_text(cost)}
        for n, cost in sorted(terms.plans.items())
    ]


class LiquidationMappingForm(forms.Form):
    """One text field per liquidación field: the header of its column in the file."""

    def __init__(self, *args, headers: list[str] = (), **kwargs):  # type: ignore[assignment]
        super().__init__(*args, **kwargs)
        for spec in FIELDS:
            self.fields[spec.name] = forms.CharField(
                label=spec.label,
                required=spec.required,
                max_length=120,
                help_text=spec.help,
                widget=forms.TextInput(attrs={"list": "liquidation-headers"}),
                error_messages={"required": "Indicá la columna de este dato."},
            )
        self.headers = list(headers)


class LiquidationUploadForm(forms.Form):
    file = forms.FileField(
        label="Archivo de liquidación (CSV o XLSX)",
        error_messages={
            "required": "Elegí el archivo de liquidación.",
            "empty": "El archivo está vacío.",
        },
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        name = upload.name.lower()
        if not (name.endswith(".csv") or name.endswith(".xlsx") or name.endswith(".txt")):
            raise forms.ValidationError("El archivo tiene que ser CSV o XLSX.")
        if upload.size > MAX_FILE_BYTES:
            raise forms.ValidationError("El archivo es demasiado grande (hasta 5 MB).")
        return upload


class DifferenceForm(forms.Form):
    """Assign, annotate or explain a difference: one form, the button says which."""

    assigned_to = forms.ChoiceField(label="Asignada a", required=False)
    note = forms.CharField(
        label="Nota", required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, people: list[tuple[str, str]] = (), **kwargs):  # type: ignore[assignment]
        super().__init__(*args, **kwargs)
        self.fields["assigned_to"].choices = [("", "Nadie")] + list(people)  # type: ignore[attr-defined]
