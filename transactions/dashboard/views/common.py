"""Small helpers shared by the dashboard views."""

import hashlib
import logging
import re

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string

from transactions import services
from transactions.gateway.errors import GatewayError
from transactions.models import Intent
from transactions.states import State

logger = logging.getLogger(__name__)


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


# The htmx event a charge box sends when it sees its intent change (HX-Trigger): the terminal
# page's other boxes (state, today's list) listen for it on <body> and read the ledger again at
# once, so the page never shows "Aprobada" beside "Ocupada · En proceso" until their next poll.
TERMINAL_CHANGED_EVENT = "terminal-changed"


def live_box_response(request, intent: Intent, *, actions, notice: str = "", terminal=None):
    """The charge box (`_intent_live.html`) of `intent`. When the box last showed another state
    (its `seen` parameter) or the intent is new, the answer carries `HX-Trigger` so the page's
    other boxes refresh from the same ledger at once.

    `terminal` is the page's terminal, for the "Nuevo cobro" button: the intent's own terminal,
    else the one it was offered (a charge cancelled before any terminal took it has none)."""
    shown = live_box_version(intent, actions)
    if request.method == "GET" and not intent.is_final and request.GET.get("shown") == shown:
        # Nothing the box shows changed: 204, and htmx leaves it as it is. Replacing it every
        # second made a tap on Cancelar that spanned a refresh land on a box already gone (the
        # browser then clicks nothing), and re-rendered the same HTML for nobody.
        return HttpResponse(status=204)
    if terminal is None and intent.is_final:
        # Only a finished charge shows the button: no extra query on every poll of a live one.
        terminal = intent.terminal or intent.offered_terminals.first()
    response = render(
        request,
        "transactions/_intent_live.html",
        {
            "intent": intent,
            "terminal": terminal,
            "actions": actions,
            "notice": notice,
            "shown": shown,
        },
    )
    seen = request.GET.get("seen") if request.method == "GET" else None
    if seen != intent.state:
        response["HX-Trigger"] = TERMINAL_CHANGED_EVENT
    return response


def live_box_version(intent: Intent, actions) -> str:
    """What a live box shows that can change while the intent is live, in a few characters:
    its state and status, the attention badge, and the buttons the person may press. The
    amount, cuotas and card never change before the intent is final, and a final box is always
    sent. Named from the intent, not hashed from the HTML like the intent page's panel
    (`polled_fragment_response`), so the terminal page can put it in the box it renders."""
    shown = "|".join(
        [
            intent.state,
            intent.status,
            "1" if intent.needs_attention else "0",
            intent.attention_reason or "",
            ",".join(sorted(actions)),
        ]
    )
    return hashlib.sha256(shown.encode()).hexdigest()[:12]


# Django masks the CSRF token anew on every render: two renders of the same panel differ there.
_CSRF_INPUT = re.compile(r'<input type="hidden" name="csrfmiddlewaretoken" value="[^"]*">')
_VERSION_SLOT = "version-slot-5e7"


def polled_fragment_response(request, template: str, context: dict) -> HttpResponse:
    """A fragment that polls itself (`hx-get` with `shown={{ shown }}`), answered 204 when the
    poll already shows this very HTML, so htmx leaves it, and the buttons in it, in place.

    Its version is a hash of the rendered HTML without the per-render CSRF tokens, so anything
    it shows that changes (a new event, a provider call, a button) sends it again; it is written
    into the fragment's own `hx-get` after hashing."""
    html = render_to_string(template, {**context, "shown": _VERSION_SLOT}, request=request)
    version = hashlib.sha256(_CSRF_INPUT.sub("", html).encode()).hexdigest()[:12]
    if request.GET.get("shown") == version:
        return HttpResponse(status=204)
    return HttpResponse(html.replace(_VERSION_SLOT, version))


def refresh_quietly(intent: Intent) -> Intent:
    """Asks the provider for news of a live intent; on a provider failure shows what the ledger
    knows (the sweeper keeps trying, and the page polls again in a second)."""
    if intent.is_final:
        return intent
    try:
        return services.intent_refresh(intent=intent, wait=0)
    except GatewayError as exc:
        logger.info("refresh of %s failed: %r", intent.public_id, exc)
        return intent


def approval_warning(need) -> str:
    """A refund or reversal confirmation's warning: what the store's maker-checker threshold
    (`controls.refund_approval_need` and the like) will do to it."""
    if need is None:
        return "No se puede deshacer."
    return f"{need.reason} Esperará la aprobación de otra persona antes de enviarse a la terminal."


# Maker-checker (issue 15): above the store's threshold the operation waits, unsent.
HELD_MESSAGE = (
    "Supera el umbral de la sucursal: espera la aprobación de otra persona (Aprobaciones). "
    "No se envió a la terminal."
)


def followup_created(request, intent: Intent, *, sent: str):
    """After a reversal or refund was created: to its page, saying whether it went to the
    terminal (`sent`) or waits for a second person's approval."""
    if intent.state == State.APPROVAL_PENDING:
        messages.warning(request, HELD_MESSAGE)
    else:
        messages.success(request, sent)
    return redirect("dashboard:intent_detail", public_id=intent.public_id)
