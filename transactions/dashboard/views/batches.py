"""Batches: close one terminal's lote or every terminal of a store, watch the progress, and read
the closed batches with their tickets."""

import uuid

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
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
from transactions.errors import IntentRuleError
from transactions.gateway.errors import GatewayError
from transactions.models import Batch
from transactions.reporting.activity import batch_list
from transactions.states import Kind


@login_required
@require_GET
def batch_index(request):
    stores = list(store_list_for_user(user=request.user).prefetch_related("terminals"))
    permissions = StorePermissions(user=request.user, stores=stores)
    page = Paginator(batch_list(stores=stores), 30).get_page(request.GET.get("page"))
    return render(
        request,
        "transactions/batch_index.html",
        {
            "stores": [
                {"store": s, "can_close": permissions.allows(s, Action.CLOSE_BATCH)} for s in stores
            ],
            "page": page,
        },
    )


def _close(request, terminals) -> tuple[list, list[str], list[str]]:
    settlements, errors, blocking_ids = [], [], []
    for terminal in terminals:
        try:
            settlements.append(services.settlement_create(terminal=terminal, user=request.user))
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
    return render(
        request,
        "transactions/_batch_close_result.html",
        {
            "errors": errors,
            "blocking": _blocking_intents(request, blocking_ids),
            **_progress_context(settlements),
        },
    )


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
                details=[("Terminales", ", ".join(str(t) for t in terminals) or "—")],
                action=reverse("dashboard:batch_close_store", args=[store.public_id]),
                button="Sí, cerrar todos los lotes",
                back=reverse("dashboard:batch_index"),
                target=f"#close-{store.public_id}",
            ),
        )
    settlements, errors, blocking_ids = [], [], []
    for terminal, outcome in services.store_batch_close(store=store, user=request.user):
        if isinstance(outcome, IntentRuleError):
            errors.append(f"{terminal}: {outcome.message}")
            if outcome.blocking_intent_id:
                blocking_ids.append(outcome.blocking_intent_id)
        else:
            settlements.append(outcome)
    if not settlements and not errors:
        errors.append("La sucursal no tiene terminales habilitadas.")
    return render(
        request,
        "transactions/_batch_close_result.html",
        {
            "errors": errors,
            "blocking": _blocking_intents(request, blocking_ids),
            **_progress_context(settlements),
        },
    )


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
    return render(request, "transactions/_batch_progress.html", _progress_context(settlements))


@login_required
@require_GET
def batch_detail(request, public_id):
    stores = store_list_for_user(user=request.user)
    batch = (
        batch_list(stores=stores).filter(public_id=public_id).first() if stores.exists() else None
    )
    if batch is None:
        raise Http404("Lote no encontrado")
    return render(request, "transactions/batch_detail.html", {"batch": batch})
