"""Finance pages: the fee and terms table (owners), the liquidación import (owners and finance)
and the reconciliation differences (whoever sees the store's reports).

Scope first, role second, as everywhere: a merchant or difference outside the user's scope is
404; in scope without the role, 403. The writes and their rules are in `transactions.services`
(fees, liquidation, differences); a refusal shows as a form error and changes nothing.
"""

import base64
import hashlib

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from stores.models import Merchant
from stores.roles import Action
from stores.selectors import merchant_list_for_user, restrict, store_list_for_user
from transactions.dashboard.access import require
from transactions.dashboard.finance_forms import (
    DifferenceForm,
    FeeRuleFormSet,
    FeeScheduleForm,
    InstallmentCostFormSet,
    LiquidationMappingForm,
    LiquidationUploadForm,
    plans_initial,
    rules_initial,
)
from transactions.dashboard.forms import add_rule_error
from transactions.errors import IntentRuleError
from transactions.models import Difference, LiquidationImport, LiquidationMapping
from transactions.reporting.deposits import UNCONFIRMED_NOTE, fee_terms_for_merchants
from transactions.reporting.liquidation import FIELDS, FileUnreadable, file_headers
from transactions.services.differences import (
    difference_assign,
    difference_note,
    difference_reopen,
    difference_resolve,
    people_for_difference,
)
from transactions.services.fees import FeeRuleInput, fee_schedule_save
from transactions.services.liquidation import (
    liquidation_import,
    liquidation_mapping_save,
    liquidation_preview,
)

_UPLOAD_SESSION_KEY = "liquidation_upload"


def _merchant_for(request, action: str) -> tuple[Merchant, list[Merchant]]:
    """The merchant named by `?comercio=` (or the first one the user may act on) and the list
    to pick from: 404 outside the user's scope, 403 without a merchant-wide role for `action`."""
    permitted = list(
        merchant_list_for_user(user=request.user, action=action).order_by("legal_name")
    )
    public_id = request.GET.get("comercio") or request.POST.get("comercio") or ""
    if public_id:
        try:
            merchant = merchant_list_for_user(user=request.user).get(public_id=public_id)
        except (Merchant.DoesNotExist, ValueError, ValidationError) as exc:
            raise Http404("Comercio no encontrado") from exc
        if merchant.pk not in {m.pk for m in permitted}:
            raise PermissionDenied(f"Tu rol no permite: {Action(action).label}.")
        return merchant, permitted
    if not permitted:
        raise PermissionDenied(f"Tu rol no permite: {Action(action).label}.")
    return permitted[0], permitted


# --- Fee and terms table ----------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def fee_settings(request):
    merchant, merchants = _merchant_for(request, Action.MANAGE_SETTINGS)
    terms = fee_terms_for_merchants([merchant])[merchant.pk]
    if request.method == "POST":
        form = FeeScheduleForm(request.POST)
        rules = FeeRuleFormSet(request.POST, prefix="rules")
        plans = InstallmentCostFormSet(request.POST, prefix="plans")
        if form.is_valid() and rules.is_valid() and plans.is_valid():
            rule_rows = [
                FeeRuleInput(
                    brand=row["brand"],
                    payment_type=row["payment_type"],
                    fee_percent=row["fee_percent"],
                    term_business_days=row["term_business_days"],
                )
                for row in rules.cleaned_data
                if row and not row.get("DELETE")
            ]
            plan_rows = [row for row in plans.cleaned_data if row and not row.get("DELETE")]
            if len({row["installments"] for row in plan_rows}) != len(plan_rows):
                form.add_error(None, "Cada plan de cuotas aparece una sola vez.")
            else:
                try:
                    fee_schedule_save(
                        merchant=merchant,
                        user=request.user,
                        iva_percent=form.cleaned_data["iva_percent"],
                        iibb_withholding_percent=form.cleaned_data["iibb_withholding_percent"],
                        iva_withholding_percent=form.cleaned_data["iva_withholding_percent"],
                        ganancias_withholding_percent=form.cleaned_data[
                            "ganancias_withholding_percent"
                        ],
                        rules=rule_rows,
                        plans={row["installments"]: row["cost_percent"] for row in plan_rows},
                        confirmed=form.cleaned_data["confirmed"],
                    )
                except IntentRuleError as exc:
                    add_rule_error(form, exc)
                else:
                    messages.success(request, "Guardamos la tabla de aranceles y plazos.")
                    return redirect(
                        f"{reverse('dashboard:fee_settings')}?comercio={merchant.public_id}"
                    )
        status = 400
    else:
        form = FeeScheduleForm(initial=FeeScheduleForm.initial_from(terms))
        rules = FeeRuleFormSet(initial=rules_initial(terms), prefix="rules")
        plans = InstallmentCostFormSet(initial=plans_initial(terms), prefix="plans")
        status = 200
    return render(
        request,
        "transactions/settings/fees.html",
        {
            "merchant": merchant,
            "merchants": merchants,
            "terms": terms,
            "form": form,
            "rules": rules,
            "plans": plans,
            "note": UNCONFIRMED_NOTE,
        },
        status=status,
    )


# --- Liquidación import -----------------------------------------------------------------------


def _mapping_form(merchant, data=None, headers=()):
    mapping = LiquidationMapping.objects.filter(merchant=merchant).first()
    return LiquidationMappingForm(
        data, initial=(mapping.columns if mapping else {}), headers=headers
    ), mapping


@login_required
@require_http_methods(["GET", "POST"])
def liquidation_index(request):
    merchant, merchants = _merchant_for(request, Action.VIEW_REPORTS)
    upload_form = LiquidationUploadForm()
    mapping_form, mapping = _mapping_form(merchant)
    preview = result = None
    page_errors: list[str] = []
    status = 200
    stored = request.session.get(_UPLOAD_SESSION_KEY) or {}
    if stored.get("merchant") != str(merchant.public_id):
        stored = {}
    if request.method == "POST":
        step = request.POST.get("step", "")
        if step == "mapping":
            mapping_form, mapping = _mapping_form(
                merchant, request.POST, headers=stored.get("headers", ())
            )
            if mapping_form.is_valid():
                try:
                    liquidation_mapping_save(
                        merchant=merchant, user=request.user, columns=mapping_form.cleaned_data
                    )
                except IntentRuleError as exc:
                    add_rule_error(mapping_form, exc)
                else:
                    messages.success(request, "Guardamos qué columna tiene cada dato.")
                    return redirect(_here(merchant))
            status = 400
        elif step == "preview":
            upload_form = LiquidationUploadForm(request.POST, request.FILES)
            if upload_form.is_valid():
                upload = upload_form.cleaned_data["file"]
                content = upload.read()
                try:
                    headers = file_headers(content, upload.name)
                except FileUnreadable as exc:
                    upload_form.add_error("file", str(exc))
                    status = 400
                else:
                    stored = {
                        "merchant": str(merchant.public_id),
                        "name": upload.name,
                        "sha256": hashlib.sha256(content).hexdigest(),
                        "content": base64.b64encode(content).decode("ascii"),
                        "headers": headers,
                    }
                    request.session[_UPLOAD_SESSION_KEY] = stored
                    mapping_form, mapping = _mapping_form(merchant, headers=headers)
                    if mapping is not None:
                        try:
                            preview, _stores = liquidation_preview(
                                merchant=merchant,
                                user=request.user,
                                file_name=upload.name,
                                content=content,
                            )
                        except IntentRuleError as exc:
                            add_rule_error(upload_form, exc)
                            status = 400
            else:
                status = 400
        elif step == "import":
            if not stored or request.POST.get("sha256") != stored.get("sha256"):
                page_errors.append("Volvé a elegir el archivo: la vista previa venció.")
                status = 400
            else:
                content = base64.b64decode(stored["content"])
                try:
                    record, new = liquidation_import(
                        merchant=merchant,
                        user=request.user,
                        file_name=stored["name"],
                        content=content,
                    )
                except IntentRuleError as exc:
                    page_errors.append(exc.message)
                    status = 400
                else:
                    request.session.pop(_UPLOAD_SESSION_KEY, None)
                    if new:
                        messages.success(
                            request,
                            f"Importamos {record.rows_new} líneas nuevas de {record.file_name}.",
                        )
                    else:
                        messages.info(
                            request,
                            f"Ese archivo ya se había importado el "
                            f"{record.created_at:%d/%m/%Y}: no se agregó nada.",
                        )
                    return redirect(f"{_here(merchant)}&importacion={record.public_id}")
        else:
            status = 400
    if request.GET.get("importacion"):
        result = LiquidationImport.objects.filter(
            merchant=merchant, public_id__in=_uuid_list(request.GET.get("importacion"))
        ).first()
    imports = LiquidationImport.objects.filter(merchant=merchant).select_related("created_by")[:20]
    return render(
        request,
        "transactions/liquidation_index.html",
        {
            "merchant": merchant,
            "merchants": merchants,
            "mapping": mapping,
            "mapping_form": mapping_form,
            "upload_form": upload_form,
            "fields": FIELDS,
            "headers": stored.get("headers", []),
            "pending_file": stored.get("name", ""),
            "pending_sha": stored.get("sha256", ""),
            "preview": preview,
            "preview_lines": preview.lines[:50] if preview else [],
            "result": result,
            "imports": imports,
            "page_errors": page_errors,
        },
        status=status,
    )


def _here(merchant) -> str:
    return f"{reverse('dashboard:liquidation_index')}?comercio={merchant.public_id}"


def _uuid_list(value: str) -> list[str]:
    import uuid

    try:
        return [str(uuid.UUID(value))]
    except ValueError:
        return []


# --- Differences ------------------------------------------------------------------------------


def _difference_stores(user):
    stores = store_list_for_user(user=user, action=Action.VIEW_REPORTS)
    if not stores.exists():
        raise PermissionDenied(f"Tu rol no permite: {Action.VIEW_REPORTS.label}.")
    return stores


@login_required
@require_GET
def difference_list(request):
    stores = _difference_stores(request.user)
    status = request.GET.get("estado") or Difference.Status.OPEN
    kind = request.GET.get("tipo") or ""
    rows = Difference.objects.filter(store__in=stores).select_related("store", "assigned_to")
    if status in Difference.Status.values:
        rows = rows.filter(status=status)
    if kind in Difference.Kind.values:
        rows = rows.filter(kind=kind)
    if request.GET.get("mias"):
        rows = rows.filter(assigned_to=request.user)
    page = Paginator(rows.order_by("-created_at", "-pk"), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "transactions/difference_list.html",
        {
            "page": page,
            "status": status,
            "kind": kind,
            "kinds": Difference.Kind.choices,
            "statuses": Difference.Status.choices,
            "open_count": Difference.objects.filter(
                store__in=stores, status=Difference.Status.OPEN
            ).count(),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def difference_detail(request, public_id):
    difference = (
        restrict(Difference, user=request.user)
        .select_related(
            "store", "assigned_to", "resolved_by", "line__liquidation", "intent", "batch"
        )
        .filter(public_id=public_id)
        .first()
    )
    if difference is None:
        raise Http404("Diferencia no encontrada")
    require(user=request.user, store=difference.store, action=Action.VIEW_REPORTS)
    people = list(people_for_difference(difference))
    choices = [(str(p.pk), p.get_full_name() or p.get_username()) for p in people]
    status = 200
    if request.method == "POST":
        form = DifferenceForm(request.POST, people=choices)
        action = request.POST.get("action", "")
        if form.is_valid():
            try:
                if action == "assign":
                    chosen = form.cleaned_data["assigned_to"]
                    assignee = get_user_model().objects.get(pk=chosen) if chosen else None
                    difference_assign(difference=difference, user=request.user, assignee=assignee)
                    messages.success(request, "Asignación guardada.")
                elif action == "note":
                    difference_note(
                        difference=difference, user=request.user, text=form.cleaned_data["note"]
                    )
                    messages.success(request, "Nota agregada.")
                elif action == "resolve":
                    difference_resolve(
                        difference=difference,
                        user=request.user,
                        explanation=form.cleaned_data["note"],
                    )
                    messages.success(request, "Diferencia explicada.")
                elif action == "reopen":
                    difference_reopen(
                        difference=difference, user=request.user, reason=form.cleaned_data["note"]
                    )
                    messages.success(request, "Diferencia reabierta.")
                else:
                    form.add_error(None, "Elegí qué hacer con la diferencia.")
                    status = 400
            except IntentRuleError as exc:
                add_rule_error(form, exc)
                status = 400
            if status == 200:
                return redirect("dashboard:difference_detail", public_id=difference.public_id)
        else:
            status = 400
    else:
        form = DifferenceForm(
            initial={"assigned_to": str(difference.assigned_to_id or "")}, people=choices
        )
    return render(
        request,
        "transactions/difference_detail.html",
        {
            "difference": difference,
            "events": difference.events.select_related("actor"),
            "form": form,
        },
        status=status,
    )
