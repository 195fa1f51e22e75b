"""Homologation assistant (owners): which of Prisma's homologation cases the merchant already ran,
the `payment_id` of each, the production pilot, and the CSV the integrator sends to Prisma.

Everything is derived from the ledger by `transactions.homologation`; this module only resolves
the merchant. Homologation is merchant-wide, so only merchant-wide roles that manage settings
(owners) see it: a merchant the user does not belong to is 404, one the user belongs to without
configuring it (finance, a store's manager) is 403.
"""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_POST

from stores import services as store_services
from stores.models import Credential, Merchant
from stores.permissions import credential_change_allowed
from stores.roles import Action
from stores.selectors import merchant_list_for_user, restrict
from transactions import homologation
from transactions.errors import IntentRuleError
from transactions.models import HomologationCase
from transactions.reporting import homologation_export
from transactions.reporting.exports import XLSX_CONTENT_TYPE
from transactions.services import homologation as homologation_services

_REFUSED = "Solo el dueño del comercio accede al asistente de homologación."


def _merchant_for(request) -> tuple[Merchant, list[Merchant]]:
    """(the merchant asked for in `?comercio=`, or the first one the user manages; the merchants
    the user may pick from)."""
    user = request.user
    managed = list(
        merchant_list_for_user(user=user, action=Action.MANAGE_SETTINGS).order_by("legal_name")
    )
    public_id = request.GET.get("comercio") or request.POST.get("comercio") or ""
    if not public_id:
        if not managed:
            raise PermissionDenied(_REFUSED)
        return managed[0], managed
    try:
        public_id = uuid.UUID(public_id)
    except ValueError as exc:
        raise Http404("Comercio no encontrado") from exc
    if not merchant_list_for_user(user=user).filter(public_id=public_id).exists():
        raise Http404("Comercio no encontrado")
    for merchant in managed:
        if merchant.public_id == public_id:
            return merchant, managed
    raise PermissionDenied(_REFUSED)


@login_required
@require_GET
def homologation_page(request):
    merchant, managed = _merchant_for(request)
    statuses = homologation.homologation_status(merchant=merchant)
    pilot = homologation.production_pilot_status(merchant=merchant, cases=statuses)
    pending = [s for s in statuses if not s.done]
    credentials = list(homologation.homologation_credentials(merchant).active().order_by("name"))
    approved = next((c for c in credentials if c.is_homologated), None)
    if approved is None:
        approved = homologation.approved_credential(merchant)  # a retired one still counts
    return render(
        request,
        "transactions/homologation.html",
        {
            "merchant": merchant,
            "managed": managed,
            "statuses": statuses,
            "done_count": len(statuses) - len(pending),
            "total": len(statuses),
            "pending": pending,
            "pilot": pilot,
            "has_credential": bool(credentials),
            "credentials": credentials,
            "approved": approved,
        },
    )


@login_required
@require_POST
def credential_homologated(request, public_id):
    """ "Prisma aprobó la homologación" of one credential: every merchant it serves is
    homologated from now on (a preintegrada's next clients too)."""
    credential = (
        restrict(Credential.objects.active(), user=request.user).filter(public_id=public_id).first()
    )
    if credential is None:
        raise Http404("Credencial no encontrada")
    if not credential_change_allowed(user=request.user, credential=credential):
        raise PermissionDenied(_REFUSED)
    try:
        store_services.credential_mark_homologated(credential=credential, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Homologación de «{credential.name}» registrada como aprobada.")
    return redirect("dashboard:homologation")


@login_required
@require_GET
def homologation_csv(request):
    """One row per case, as the integrator hands them to Prisma (see
    `transactions.reporting.homologation_export`): simulator evidence is left out."""
    merchant, _managed = _merchant_for(request)
    response = HttpResponse(
        homologation_export.homologation_csv(merchant), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{_filename(merchant)}.csv"'
    return response


@login_required
@require_GET
def homologation_xlsx(request):
    """The same rows in the shape of Prisma's "HOMOLOGACION ECR.xlsx"."""
    merchant, _managed = _merchant_for(request)
    return FileResponse(
        homologation_export.homologation_xlsx(merchant),
        as_attachment=True,
        filename=f"{_filename(merchant)}.xlsx",
        content_type=XLSX_CONTENT_TYPE,
    )


def _filename(merchant: Merchant) -> str:
    return f"homologacion-{slugify(merchant.legal_name) or merchant.public_id}"


@login_required
@require_POST
def homologation_record(request):
    """ "Registrar": the guided run records the chosen operation as the evidence of a case."""
    merchant, _managed = _merchant_for(request)
    case = HomologationCase.objects.filter(code=request.POST.get("case", ""), active=True).first()
    intent = (
        homologation.homologation_intents(merchant)
        .filter(public_id=_uuid_or_none(request.POST.get("intent")))
        .select_related("credential", "terminal")
        .first()
    )
    back = redirect(f"{reverse('dashboard:homologation')}?comercio={merchant.public_id}")
    if case is None or intent is None:
        # Out of the merchant's scope reads the same as a stale form: nothing to record.
        messages.error(request, "Elegí un caso y una operación de la lista.")
        return back
    try:
        homologation_services.homologation_evidence_record(
            merchant=merchant, case=case, intent=intent, user=request.user
        )
    except IntentRuleError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Caso «{case.title}» registrado con {intent.provider_id}.")
    return redirect(f"{reverse('dashboard:homologation')}?comercio={merchant.public_id}")


@login_required
@require_POST
def homologation_forget(request):
    """ "Quitar": takes the recorded operation off its case, to record another."""
    merchant, _managed = _merchant_for(request)
    evidence = (
        homologation.recorded_evidence(merchant)
        .filter(public_id=_uuid_or_none(request.POST.get("evidence")))
        .first()
    )
    if evidence is None:
        messages.error(request, "Esa evidencia ya no está registrada.")
        return redirect(f"{reverse('dashboard:homologation')}?comercio={merchant.public_id}")
    homologation_services.homologation_evidence_forget(evidence=evidence)
    messages.success(request, f"Se quitó la operación del caso «{evidence.case.title}».")
    return redirect(f"{reverse('dashboard:homologation')}?comercio={merchant.public_id}")


def _uuid_or_none(value):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


@login_required
@require_POST
def pilot_pass(request):
    """ "Marcar piloto aprobado" (owners): the roll-out opens for the merchant in `?comercio=`."""
    merchant, _managed = _merchant_for(request)
    try:
        store_services.merchant_pilot_pass(merchant=merchant, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, "Piloto aprobado: ya podés pasar las demás sucursales a producción."
        )
    return redirect(f"{reverse('dashboard:homologation')}?comercio={merchant.public_id}")
