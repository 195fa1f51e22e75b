"""Settings (owners): stores, terminals, credentials, POS keys, webhooks, members and roles.

Scope: stores where the user's role allows `manage_settings`; merchant-wide owners also create
stores and manage their merchant's credentials. Something the user cannot see at all is 404;
something the user sees (e.g. as a manager) but cannot configure is 403. The scopes come from
`stores.selectors`, the decisions from `stores.permissions`, and the writes with their rules
(members, roles, credentials) from `stores.services`; a rule's refusal is shown as a form error.
"""

import logging

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from stores import audit
from stores import services as store_services
from stores.fleet import fleet_import
from stores.fleet import read_rows as read_fleet_rows
from stores.forms import CredentialForm
from stores.models import Credential, Integrator, Membership, Merchant, PosClient, Terminal
from stores.permissions import credential_change_allowed, user_manages_membership
from stores.roles import Action
from stores.selectors import (
    audit_entries_for_user,
    credential_choices_for_store,
    credential_for_store,
    merchant_list_for_user,
    pos_client_get_for_user,
    restrict,
    store_get_for_user,
    store_list_for_user,
    terminal_get_for_user,
)
from stores.services import pos_client_create, pos_client_revoke, pos_client_set_permissions
from transactions.controls import controls_for
from transactions.dashboard.access import require
from transactions.dashboard.forms import (
    MemberForm,
    MembershipRoleForm,
    MoneyControlsForm,
    PosKeyForm,
    PosKeyPermissionsForm,
    StoreCredentialForm,
    StoreForm,
    TerminalForm,
    add_rule_error,
)
from transactions.dashboard.views.confirm import Confirmation, confirm_response, confirmed
from transactions.errors import IntentRuleError
from transactions.money import format_decimal_es
from transactions.services.money_controls import WINDOW_KEYS, money_controls_save
from transactions.webhooks.selectors import webhook_endpoint_list_for_stores
from transactions.webhooks.services import webhook_endpoint_set_active

logger = logging.getLogger(__name__)


def _scope(request):
    """(stores, merchants) the user configures; 403 when there is nothing to configure."""
    stores = store_list_for_user(user=request.user, action=Action.MANAGE_SETTINGS)
    merchants = merchant_list_for_user(user=request.user, action=Action.MANAGE_SETTINGS)
    if (
        not stores.exists()
        and not merchants.exists()
        # An integrator's person before its first merchant: the page offers "Nuevo comercio".
        and not Integrator.objects.filter(members=request.user).exists()
    ):
        raise PermissionDenied("Solo el dueño del comercio accede a la configuración.")
    return stores, merchants


def _members(user):
    return (
        restrict(Membership, user=user, action=Action.MANAGE_SETTINGS)
        .select_related("user", "store", "merchant")
        .order_by("user__username")
    )


def _form_page(request, form, *, title, back="dashboard:settings", status=200, extra=None):
    return render(
        request,
        "transactions/settings/form.html",
        {"form": form, "title": title, "back": back, **(extra or {})},
        status=status,
    )


@login_required
def settings_index(request):
    stores, merchants = _scope(request)
    context = {
        "stores": stores.select_related("credential").order_by("name"),
        "merchants": merchants,
        "terminals": Terminal.objects.filter(store__in=stores).select_related("store"),
        # Retired ones stay listed (their intents point at them), last and without actions.
        "credentials": restrict(Credential, user=request.user, action=Action.MANAGE_SETTINGS)
        .order_by(F("retired_at").asc(nulls_first=True), "name")
        .prefetch_related("merchants", "stores"),
        "pos_clients": PosClient.objects.filter(store__in=stores).select_related("store"),
        "members": _members(request.user),
        "webhooks": webhook_endpoint_list_for_stores(stores=stores)[:200],
        "is_integrator": Integrator.objects.filter(members=request.user).exists(),
    }
    return render(request, "transactions/settings/index.html", context)


@login_required
def settings_audit(request):
    """ "Auditoría" (owners): who changed which setting, when, from what to what."""
    _scope(request)
    entries = list(audit_entries_for_user(user=request.user))
    changes = audit.shown_changes(entries)
    rows = [
        (entry, audit.ACTION_LABELS.get(entry.action, "Otro"), changes[entry.pk])
        for entry in entries
    ]
    return render(request, "transactions/settings/audit.html", {"rows": rows})


class FleetImportForm(forms.Form):
    file = forms.FileField(
        label="Archivo CSV o XLSX",
        help_text="Columnas en el README, «De las credenciales al piloto», paso 4.",
    )
    apply = forms.BooleanField(
        label="Aplicar (sin marcar: solo vista previa)", required=False, initial=False
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith((".csv", ".xlsx")):
            raise forms.ValidationError("Subí un archivo .csv o .xlsx.")
        if upload.size > 2_000_000:
            raise forms.ValidationError("El archivo supera los 2 MB.")
        return upload


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def fleet_import_page(request):
    """ "Alta de flota" (owners): a file of stores, terminals, members and POS keys; a preview
    first (dry run), then apply. New POS keys are shown once, on this answer."""
    _stores, merchants = _scope(request)
    if not merchants.exists():
        raise PermissionDenied("Solo el dueño del comercio da de alta su flota.")
    form = FleetImportForm(request.POST or None, request.FILES or None)
    result = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            rows = read_fleet_rows(upload.name, upload.read())
        except (ValueError, UnicodeDecodeError):
            form.add_error("file", "No se pudo leer el archivo: ¿es un CSV en UTF-8 o un XLSX?")
        else:
            result = fleet_import(
                rows=rows, user=request.user, dry_run=not form.cleaned_data["apply"]
            )
    return render(
        request,
        "transactions/settings/fleet_import.html",
        {"form": form, "result": result},
        status=422 if form.errors or (result and result.errors) else 200,
    )


# --- Stores ---------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def store_create(request):
    _stores, merchants = _scope(request)
    if not merchants.exists():
        raise PermissionDenied("Solo el dueño del comercio crea sucursales.")
    form = StoreForm(request.POST or None, merchants=merchants)
    if request.method == "POST" and form.is_valid():
        store = form.save()
        messages.success(request, f"Sucursal «{store.name}» creada.")
        return redirect("dashboard:settings")
    return _form_page(request, form, title="Nueva sucursal", status=422 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def store_edit(request, public_id):
    store = store_get_for_user(user=request.user, public_id=public_id)
    require(user=request.user, store=store, action=Action.MANAGE_SETTINGS)
    form = StoreForm(
        request.POST or None,
        instance=store,
        merchants=Merchant.objects.filter(pk=store.merchant_id),
    )
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Sucursal guardada.")
        return redirect("dashboard:settings")
    return _form_page(
        request,
        form,
        title=f"Sucursal {store.name}",
        status=422 if form.errors else 200,
        extra={"store": store, "store_credential": credential_for_store(store=store)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def store_credential(request, public_id):
    """ "Cambiar credencial": pick one (GET), confirm what moves (POST), switch (POST with
    `confirm`). Only active credentials of the store's merchant are offered; the service refuses
    one that has not passed "Probar conexión" since its URL or keys changed."""
    store = store_get_for_user(user=request.user, public_id=public_id)
    require(user=request.user, store=store, action=Action.MANAGE_SETTINGS)
    current = credential_for_store(store=store)
    form = StoreCredentialForm(
        request.POST or None,
        credentials=credential_choices_for_store(store=store),
        initial={"credential": current},
    )
    context = {"store": store, "current": current, "form": form}
    if request.method == "POST" and form.is_valid():
        chosen = form.cleaned_data["credential"]
        if chosen == current:
            form.add_error("credential", "La sucursal ya cobra con esa credencial.")
        elif chosen.last_tested_ok_at is None:
            form.add_error(
                "credential",
                "Probá la conexión de esa credencial (Configuración → Probar conexión) antes "
                "de usarla en una sucursal.",
            )
        elif not form.cleaned_data["confirm"]:
            return render(
                request,
                "transactions/settings/store_credential_confirm.html",
                {**context, "chosen": chosen},
            )
        else:
            try:
                store_services.store_set_credential(
                    store=store, credential=chosen, user=request.user
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(
                    request, f"«{store.name}» ahora cobra con la credencial «{chosen.name}»."
                )
                return redirect("dashboard:store_edit", public_id=store.public_id)
    return render(
        request,
        "transactions/settings/store_credential.html",
        context,
        status=422 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def store_money_controls(request, public_id):
    """The store's money controls (issue 15): approval thresholds and expiry, the daily refund
    limit, cash-back and the refund windows per brand."""
    store = store_get_for_user(user=request.user, public_id=public_id)
    require(user=request.user, store=store, action=Action.MANAGE_SETTINGS)
    current = controls_for(store)
    initial = {}
    if current is not None:
        initial = {
            "refund_approval_threshold": _decimal_text(current.refund_approval_threshold),
            "reversal_approval_threshold": _decimal_text(current.reversal_approval_threshold),
            "approval_expiry_minutes": current.approval_expiry_minutes,
            "daily_refund_limit": _decimal_text(current.daily_refund_limit),
            "cashback_max": _decimal_text(current.cashback_max or None),
            **{
                MoneyControlsForm.window_field(key): days
                for key, days in current.refund_window_days.items()
            },
        }
    form = MoneyControlsForm(request.POST or None, initial=initial, window_keys=WINDOW_KEYS)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            money_controls_save(
                store=store,
                user=request.user,
                refund_approval_threshold=data["refund_approval_threshold"],
                reversal_approval_threshold=data["reversal_approval_threshold"],
                approval_expiry_minutes=data["approval_expiry_minutes"],
                daily_refund_limit=data["daily_refund_limit"],
                cashback_max=data["cashback_max"],
                refund_window_days=form.windows(),
            )
        except IntentRuleError as exc:
            add_rule_error(form, exc)
        else:
            messages.success(request, f"Controles de dinero de {store.name} guardados.")
            return redirect("dashboard:settings")
    return _form_page(
        request,
        form,
        title=f"Controles de dinero · {store.name}",
        status=422 if form.errors else 200,
    )


def _decimal_text(value) -> str:
    return "" if value is None else format_decimal_es(value, thousands=False)


# --- Terminals ------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def terminal_create(request):
    stores, _merchants = _scope(request)
    form = TerminalForm(request.POST or None, stores=stores)
    if request.method == "POST" and form.is_valid():
        terminal = form.save()
        messages.success(
            request,
            f"Terminal {terminal.terminal_id} agregada, sin verificar: Prisma no permite "
            "consultar terminales, así que queda verificada cuando tome su primera operación.",
        )
        return redirect("dashboard:settings")
    return _form_page(request, form, title="Nueva terminal", status=422 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def terminal_edit(request, public_id):
    terminal = terminal_get_for_user(user=request.user, public_id=public_id)
    require(user=request.user, store=terminal.store, action=Action.MANAGE_SETTINGS)
    stores, _merchants = _scope(request)
    form = TerminalForm(request.POST or None, instance=terminal, stores=stores)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Terminal guardada.")
        return redirect("dashboard:settings")
    return _form_page(
        request, form, title=f"Terminal {terminal.terminal_id}", status=422 if form.errors else 200
    )


# --- Credentials ----------------------------------------------------------------------------


def _credential_for(request, public_id) -> Credential:
    """404 unless the credential serves a merchant the user sees (or is retired: it is offered
    nowhere); 403 unless the shared-credential rule lets him change it."""
    credential = (
        restrict(Credential.objects.active(), user=request.user).filter(public_id=public_id).first()
    )
    if credential is None:
        raise Http404("Credencial no encontrada")
    if not credential_change_allowed(user=request.user, credential=credential):
        raise PermissionDenied(
            "Esta credencial es compartida con otros comercios: solo la cambia quien los "
            "administra a todos."
        )
    return credential


def _credential_form(request, instance=None):
    form = CredentialForm(request.POST or None, instance=instance)
    form.fields["merchants"].queryset = merchant_list_for_user(
        user=request.user, action=Action.MANAGE_SETTINGS
    )
    form.fields["merchants"].label = "Comercios"
    integrators = (
        Integrator.objects.all()
        if request.user.is_superuser
        else Integrator.objects.filter(members=request.user)
    )
    if integrators.exists():
        form.fields["integrator"].queryset = integrators
        form.fields["integrator"].required = False
    else:
        del form.fields["integrator"]  # nothing to choose; an update keeps the owner
    return form


def _credential_fields(form) -> dict:
    data = form.cleaned_data
    return {
        "name": data["name"],
        "environment": data["environment"],
        "base_url": data["base_url"],
        "public_key": data["public_key"],
        "secret_key": data["secret_key"],
        "merchants": data["merchants"],
        "integrator": data.get("integrator", store_services.KEEP),
        "ecr_provider": data.get("ecr_provider", ""),
        "ecr_name": data.get("ecr_name", ""),
        "ecr_version": data.get("ecr_version", ""),
    }


@login_required
@require_http_methods(["GET", "POST"])
def credential_create(request):
    _stores, merchants = _scope(request)
    if not merchants.exists():
        raise PermissionDenied("Solo el dueño del comercio configura credenciales.")
    form = _credential_form(request)
    if request.method == "POST" and form.is_valid():
        try:
            credential = store_services.credential_create(
                user=request.user, **_credential_fields(form)
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Credencial «{credential.name}» guardada.")
            return redirect("dashboard:settings")
    return _form_page(request, form, title="Nueva credencial", status=422 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def credential_edit(request, public_id):
    credential = _credential_for(request, public_id)
    form = _credential_form(request, instance=credential)
    if request.method == "POST" and form.is_valid():
        try:
            store_services.credential_update(
                credential=credential, user=request.user, **_credential_fields(form)
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Credencial guardada.")
            return redirect("dashboard:settings")
    return _form_page(
        request,
        form,
        title=f"Credencial {credential.name}",
        status=422 if form.errors else 200,
        extra={"credential": credential},
    )


@login_required
@require_http_methods(["GET", "POST"])
def credential_retire(request, public_id):
    """ "Retirar": GET asks for confirmation, POST retires. The credential stays for the history
    of its intents; new charges of its merchants need another one for that environment."""
    credential = _credential_for(request, public_id)
    if request.method == "POST":
        store_services.credential_retire(credential=credential, user=request.user)
        messages.success(request, f"Credencial «{credential.name}» retirada.")
        return redirect("dashboard:settings")
    return render(
        request, "transactions/settings/credential_retire.html", {"credential": credential}
    )


@login_required
@require_POST
def credential_test(request, public_id):
    """ "Probar conexión": asks the provider for a token and its liveness with this credential."""
    credential = _credential_for(request, public_id)
    from transactions.gateway import gateway_for
    from transactions.gateway.errors import GatewayError

    try:
        alive = gateway_for(credential).liveness()
    except GatewayError as exc:
        ok, detail = False, str(exc)
    else:
        ok = bool(alive)
        detail = (
            "Prisma respondió y aceptó la credencial."
            if ok
            else "Prisma respondió pero informa que el servicio no está disponible."
        )
    if ok:
        # What makes the credential selectable for a store (see `store_set_credential`).
        store_services.credential_record_test_ok(credential=credential)
    return render(
        request,
        "transactions/settings/_credential_test.html",
        {"ok": ok, "detail": detail, "credential": credential},
    )


# --- POS keys -------------------------------------------------------------------------------


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def pos_key_create(request):
    stores, _merchants = _scope(request)
    form = PosKeyForm(request.POST or None, stores=stores)
    if request.method == "POST" and form.is_valid():
        client, raw_key = pos_client_create(
            store=form.cleaned_data["store"],
            name=form.cleaned_data["name"],
            permissions={field: form.cleaned_data[field] for field in PosKeyForm.PERMISSIONS},
        )
        # Shown once, on this answer only (never_cache): it is not stored anywhere readable.
        return render(
            request,
            "transactions/settings/pos_key_created.html",
            {"client": client, "key": raw_key},
        )
    return _form_page(request, form, title="Nueva clave POS", status=422 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def pos_key_permissions(request, public_id):
    """Changes what an existing POS key may do (charge only, cancel, reverse, refund, close)."""
    client = pos_client_get_for_user(user=request.user, public_id=public_id)
    require(user=request.user, store=client.store, action=Action.MANAGE_SETTINGS)
    initial = {field: getattr(client, field) for field in PosKeyPermissionsForm.PERMISSIONS}
    form = PosKeyPermissionsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        pos_client_set_permissions(
            client=client,
            permissions={f: form.cleaned_data[f] for f in PosKeyPermissionsForm.PERMISSIONS},
        )
        messages.success(request, f"Permisos de la clave «{client.name}» guardados.")
        return redirect("dashboard:settings")
    return _form_page(
        request,
        form,
        title=f"Permisos de la clave {client.name}",
        status=422 if form.errors else 200,
    )


@login_required
@require_POST
def pos_key_revoke(request, public_id):
    client = pos_client_get_for_user(user=request.user, public_id=public_id)
    require(user=request.user, store=client.store, action=Action.MANAGE_SETTINGS)
    if not confirmed(request):
        return confirm_response(
            request,
            Confirmation(
                title="Revocar la clave POS",
                question=f"¿Revocás la clave «{client.name}» de {client.store.name}? El POS "
                "que la usa deja de poder cobrar hasta que le cargues una clave nueva.",
                details=[("Prefijo", f"{client.prefix}…")],
                action=reverse("dashboard:pos_key_revoke", args=[client.public_id]),
                button="Sí, revocar",
                back=reverse("dashboard:settings"),
            ),
        )
    pos_client_revoke(client=client)
    messages.success(request, f"Clave «{client.name}» revocada.")
    return redirect("dashboard:settings")


@login_required
@require_POST
def webhook_toggle(request, public_id):
    """Pauses or resumes deliveries to a POS's webhook (the POS registers it through the API)."""
    endpoint = (
        webhook_endpoint_list_for_stores(stores=store_list_for_user(user=request.user))
        .filter(public_id=public_id)
        .first()
    )
    if endpoint is None:
        raise Http404("Webhook no encontrado")
    require(user=request.user, store=endpoint.pos_client.store, action=Action.MANAGE_SETTINGS)
    webhook_endpoint_set_active(endpoint=endpoint, active=not endpoint.active, user=request.user)
    messages.success(request, "Webhook activado." if endpoint.active else "Webhook pausado.")
    return redirect("dashboard:settings")


# --- Members --------------------------------------------------------------------------------


def _membership_for(request, public_id) -> Membership:
    """404 unless the role is on a store or merchant the user sees; 403 unless he manages it."""
    membership = (
        restrict(Membership, user=request.user)
        .filter(public_id=public_id)
        .select_related("user", "store", "merchant")
        .first()
    )
    if membership is None:
        raise Http404("Miembro no encontrado")
    if not user_manages_membership(user=request.user, membership=membership):
        raise PermissionDenied("No podés cambiar ese rol.")
    return membership


@login_required
@require_http_methods(["GET", "POST"])
def member_create(request):
    stores, _merchants = _scope(request)
    form = MemberForm(request.POST or None, stores=stores)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            membership = store_services.membership_create(
                user=request.user,
                username=data["username"],
                password=data["password"],
                first_name=data["first_name"],
                role=data["role"],
                store=data["store"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"{membership.user.get_username()} ahora tiene acceso.")
            return redirect("dashboard:settings")
    return _form_page(request, form, title="Nuevo miembro", status=422 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def member_edit(request, public_id):
    membership = _membership_for(request, public_id)
    form = MembershipRoleForm(request.POST or None, initial={"role": membership.role})
    if request.method == "POST" and form.is_valid():
        try:
            store_services.membership_set_role(
                membership=membership, role=form.cleaned_data["role"], user=request.user
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Rol guardado.")
            return redirect("dashboard:settings")
    return _form_page(
        request,
        form,
        title=f"Rol de {membership.user.get_username()}",
        status=422 if form.errors else 200,
        extra={"membership": membership},
    )


@login_required
@require_POST
def member_delete(request, public_id):
    membership = _membership_for(request, public_id)
    if not confirmed(request):
        where = (
            membership.store.name
            if membership.store
            else f"todas las sucursales de {membership.merchant.legal_name}"
        )
        return confirm_response(
            request,
            Confirmation(
                title="Quitar un miembro",
                question=f"¿Le quitás a {membership.user.get_username()} el rol "
                f"{membership.get_role_display()} en {where}?",
                action=reverse("dashboard:member_delete", args=[membership.public_id]),
                button="Sí, quitar",
                back=reverse("dashboard:settings"),
                warning="Deja de ver y operar esa sucursal al instante.",
            ),
        )
    try:
        store_services.membership_delete(membership=membership, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Acceso quitado.")
    return redirect("dashboard:settings")
