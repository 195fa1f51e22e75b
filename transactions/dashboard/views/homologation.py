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
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_POST

from stores import services as store_services
from stores.models import Credential, Merchant
from stores.permissions import credential_change_allowed
from stores.roles import Action
from stores.selectors import merchant_list_for_user, restrict
from transactions import homologation
from transactions.reporting.exports import csv_text, spreadsheet_text

_REFUSED = "Solo el dueño del comercio accede al asistente de homologación."


def _merchant_for(request) -> tuple[Merchant, list[Merchant]]:
    """(the merchant asked for in `?comercio=`, or the first one the user manages; the merchants
    the user may pick from)."""
    user = request.user
    managed = list(
        merchant_list_for_user(user=user, action=Action.MANAGE_SETTINGS).order_by("legal_name")
    )
    public_id = request.GET.get("comercio") or ""
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
    """One row per case, as the integrator hands them to Prisma: every `payment_id` of the
    evidence (newest first, separated by spaces) and the date of the newest."""
    merchant, _managed = _merchant_for(request)
    statuses = homologation.homologation_status(merchant=merchant)
    rows = []
    for status in statuses:
        done_at = timezone.localtime(status.done_at) if status.done_at else None
        rows.append(
            [
                status.case.code,
                spreadsheet_text(status.case.title),
                "Hecho" if status.done else "Pendiente",
                spreadsheet_text(" ".join(status.payment_ids)),
                done_at.strftime("%d/%m/%Y %H:%M:%S") if done_at else "",
            ]
        )
    content = csv_text(["codigo", "caso", "estado", "payment_id", "fecha"], rows)
    response = HttpResponse(content, content_type="text/csv; charset=utf-8")
    filename = f"homologacion-{slugify(merchant.legal_name) or merchant.public_id}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
