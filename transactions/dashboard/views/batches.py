"""Batches: close one terminal's lote or every terminal of a store, watch the progress, and read
the closed batches with their tickets."""

import uuid

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from stores.permissions import StorePermissions
from stores.roles import Action
from stores.selectors import store_get_for_user, store_list_for_user, terminal_get_for_user
from transactions import selectors, services
from transactions.dashboard.access import require
from transactions.dashboard.views.common import refresh_quietly
from transactions.dashboard.views.confirm import Confirmation, confirm_response, confirmed
from transactions.errors import Code, IntentRuleError
from transactions.gateway.errors import GatewayError
from transactions.models import Batch, Difference
from transactions.reporting.activity import batch_list
from transactions.reporting.reconciliation import batch_reconciliation
from transactions.states import Kind

# Sent with a close's progress once every close it shows has ended: the closed-batches list of
# the Lotes page listens for it and reloads itself (issue 12: it did not refresh after closing).
BATCHES_CHANGED = "batches-changed"


def _print_receipt(request) -> bool:
    """The close prints its ticket unless "sin imprimir ticket" was ticked (contract §2:
    `print_receipt` on the settlement; the homologation case "cierre sin ticket")."""
    return request.POST.get("sin_ticket") not in ("1", "on", "true")


def _ticket_hidden(request) -> list[tuple[str, str]]:
    """The "sin ticket" choice, carried through the confirmation step."""
    return [] if _print_receipt(request) else [("sin_ticket", "1")]


def _ticket_detail(request) -> list[tuple[str, str]]:
    return [] if _print_receipt(request) else [("Ticket de cierre", "No se imprime")]


def _close_answer(request, settlements, errors, notices=(), *, blocking_ids=()):
    context = {
        "errors": errors,
        "notices": list(notices),
        "blocking": _blocking_intents(request, list(blocking_ids)),
        **_progress_context(settlements),
    }
    response = render(request, "transactions/_batch_close_result.html", context)
    if context["finished"] and settlements:
        response["HX-Trigger"] = BATCHES_CHANGED
    return response


def _split(outcomes) -> tuple[list, list[str], list[str], list[str]]:
    """Settlements asked, refusals, terminals with nothing to close (said apart: an empty
    batch is not an error), and the intents that busy refusals named."""
    settlements, errors, notices, blocking_ids = [], [], [], []
    for terminal, outcome in outcomes:
        if isinstance(outcome, IntentRuleError):
            if outcome.code == Code.BATCH_EMPTY:
                notices.append(f"{terminal}: lote vacío, no hay nada que cerrar.")
            else:
                errors.append(f"{terminal}: {outcome.message}")
                if outcome.blocking_intent_id:
                    blocking_ids.append(outcome.blocking_intent_id)
        else:
            settlements.append(outcome)
    return settlements, errors, notices, blocking_ids


@login_required
@require_GET
def batch_index(request):
    stores = list(store_list_for_user(user=request.user).prefetch_related("terminals"))
    permissions = StorePermissions(user=request.user, stores=stores)
    # The ticket's verdict is one side; an open difference with the liquidación is the other.
    open_difference = Difference.objects.filter(
        store=OuterRef("settlement__store"),
        terminal_id=OuterRef("terminal__terminal_id"),
        batch_number=OuterRef("batch_number"),
        status=Difference.Status.OPEN,
    )
    batches = batch_list(stores=stores).annotate(has_open_difference=Exists(open_difference))
    page = Paginator(batches, 30).get_page(request.GET.get("page"))
    closable = [s for s in stores if permissions.allows(s, Action.CLOSE_BATCH)]
    reporting = [s for s in stores if permissions.allows(s, Action.VIEW_REPORTS)]
    return render(
        request,
        "transactions/batch_index.html",
        {
            "stores": [{"store": s, "can_close": s in closable} for s in stores],
            "can_close_all": len(closable) > 1,
            "page": page,
            "store_closes": selectors.store_closes_to_show(stores=stores),
            "open_differences": (
                Difference.objects.filter(
                    store__in=reporting, status=Difference.Status.OPEN
                ).count()
                if reporting
                else 0
            ),
        },
    )


def _close(request, terminals) -> tuple[list, list[str], list[str]]:
    settlements, errors, blocking_ids = [], [], []
    for terminal in terminals:
        try:
            settlements.append(
                services.settlement_create(
                    terminal=terminal, user=request.user, print_receipt=_print_receipt(request)
                )
            )
        except IntentRuleError as exc:
            errors.append(f"{terminal}: {exc.message}")
            if exc.blocking_intent_id:
                blocking_ids.append(exc.blocking_intent_id)
        except GatewayError as exc:
            errors.append(f"{terminal}: Prisma no respondió ({exc.message}).")
    return settlements, errors, blocking_ids


def _blocking_intents(request, blocking_ids: list[str]) -> list:
    """The intents that busy refusals named, those the person may see, in one query: the result
    links to each, as the charge form does (the refusal's advice says who can act on it)."""
    if not blocking_ids:
        return []
    return list(
        selectors.intent_list_for_user(user=request.user)
        .filter(public_id__in=blocking_ids)
        .order_by("pk")
    )


def _progress_context(settlements) -> dict:
    total = len(settlements)
    done = sum(1 for s in settlements if s.is_final)
    batches = {
        b.settlement_id: b for b in Batch.objects.filter(settlement__in=[s.pk for s in settlements])
    }
    rows = [{"settlement": s, "batch": batches.get(s.pk)} for s in settlements]
    return {
        "rows": rows,
        "total": total,
        "done": done,
        "finished": done == total,
        "ids": [str(s.public_id) for s in settlements],
    }


@login_required
@require_POST
def batch_close_terminal(request, public_id):
    terminal = terminal_get_for_user(user=request.user, public_id=public_id)
    require(user=request.user, store=terminal.store, action=Action.CLOSE_BATCH)
    settlements, errors, blocking_ids = _close(request, [terminal])
    return _close_answer(request, settlements, errors, blocking_ids=blocking_ids)


@login_required
@require_POST
def batch_close_store(request, public_id):
    store = store_get_for_user(user=request.user, public_id=public_id)
    require(user=request.user, store=store, action=Action.CLOSE_BATCH)
    if not confirmed(request):
        terminals = [t for t in store.terminals.all() if t.enabled]
        return confirm_response(
            request,
            Confirmation(
                title=f"Cerrar el lote de todas las terminales de {store.name}",
                question=f"¿Cerrás el lote de las {len(terminals)} terminales habilitadas? "
                "Después de cerrar, los cobros del lote ya no se anulan: solo se devuelven.",
                details=[
                    ("Terminales", ", ".join(str(t) for t in terminals) or "—"),
                    *_ticket_detail(request),
                ],
                hidden=_ticket_hidden(request),
                action=reverse("dashboard:batch_close_store", args=[store.public_id]),
                button="Sí, cerrar todos los lotes",
                back=reverse("dashboard:batch_index"),
                target=f"#close-{store.public_id}",
            ),
        )
    settlements, errors, notices, blocking_ids = _split(
        services.store_batch_close(
            store=store, user=request.user, print_receipt=_print_receipt(request)
        )
    )
    if not settlements and not errors and not notices:
        errors.append("La sucursal no tiene terminales habilitadas.")
    return _close_answer(request, settlements, errors, notices, blocking_ids=blocking_ids)


@login_required
@require_POST
def batch_close_all(request):
    """ "Cerrar todo": every terminal of every store the person may close."""
    stores = list(store_list_for_user(user=request.user, action=Action.CLOSE_BATCH))
    if not stores:
        raise PermissionDenied(f"Tu rol no permite: {Action.CLOSE_BATCH.label}.")
    if not confirmed(request):
        return confirm_response(
            request,
            Confirmation(
                title="Cerrar todo",
                question=f"¿Cerrás el lote de todas las terminales de tus {len(stores)} "
                "sucursales? Después de cerrar, los cobros de esos lotes ya no se anulan: solo "
                "se devuelven.",
                details=[
                    ("Sucursales", ", ".join(s.name for s in stores)),
                    *_ticket_detail(request),
                ],
                hidden=_ticket_hidden(request),
                action=reverse("dashboard:batch_close_all"),
                button="Sí, cerrar todo",
                back=reverse("dashboard:batch_index"),
                target="#close-all",
            ),
        )
    try:
        outcomes = services.merchant_batch_close(
            user=request.user, print_receipt=_print_receipt(request)
        )
    except IntentRuleError as exc:
        return _close_answer(request, [], [exc.message])
    settlements, errors, notices, blocking_ids = _split(outcomes)
    if not settlements and not errors and not notices:
        errors.append("No hay terminales habilitadas para cerrar.")
    return _close_answer(request, settlements, errors, notices, blocking_ids=blocking_ids)


@login_required
@require_GET
def batch_progress(request):
    try:
        ids = [uuid.UUID(value) for value in request.GET.getlist("i")[:50]]
    except ValueError as exc:
        raise Http404("Cierre no encontrado") from exc
    settlements = list(
        selectors.intent_list_for_user(user=request.user)
        .filter(kind=Kind.SETTLEMENT, public_id__in=ids)
        .select_related("store", "terminal")
        .order_by("pk")
    )
    settlements = [refresh_quietly(s) for s in settlements]
    context = _progress_context(settlements)
    response = render(request, "transactions/_batch_progress.html", context)
    if context["finished"] and settlements:
        response["HX-Trigger"] = BATCHES_CHANGED
    return response


@login_required
@require_GET
def batch_detail(request, public_id):
    stores = store_list_for_user(user=request.user)
    batch = (
        batch_list(stores=stores).filter(public_id=public_id).first() if stores.exists() else None
    )
    if batch is None:
        raise Http404("Lote no encontrado")
    differences = Difference.objects.filter(
        store=batch.settlement.store,
        terminal_id=batch.terminal.terminal_id,
        batch_number=batch.batch_number,
    ).order_by("-created_at")
    return render(
        request,
        "transactions/batch_detail.html",
        {
            "batch": batch,
            "reconciliation": batch_reconciliation(batch=batch),
            "differences": differences,
        },
    )
