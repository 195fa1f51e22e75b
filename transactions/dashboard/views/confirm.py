"""The confirmation step before anything irreversible (anular, devolver, cerrar todos los lotes,
revocar una clave POS, quitar un miembro).

Server-side, so it holds without JavaScript: the action's POST without `confirmar=1` changes
nothing and answers a page (or, for htmx, a fragment) that says what is about to happen and
posts the same form again with `confirmar=1`.
"""

from dataclasses import dataclass, field

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from transactions.dashboard.views.common import is_htmx

CONFIRM_FIELD = "confirmar"


def confirmed(request: HttpRequest) -> bool:
    return request.POST.get(CONFIRM_FIELD) == "1"


@dataclass
class Confirmation:
    """What the confirmation page shows and posts back."""

    title: str
    question: str
    action: str  # the URL the confirmed form posts to (the action's own)
    button: str
    back: str  # where "No, volver" goes
    details: list[tuple[str, str]] = field(default_factory=list)
    hidden: list[tuple[str, str]] = field(default_factory=list)
    warning: str = "No se puede deshacer."
    # For htmx: the element the confirmed answer replaces (the action's own target).
    target: str = ""


def confirm_response(request: HttpRequest, confirmation: Confirmation) -> HttpResponse:
    template = "transactions/_confirm.html" if is_htmx(request) else "transactions/confirm.html"
    return render(request, template, {"confirm": confirmation})
