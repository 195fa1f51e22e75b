"""The terminal screen: a person picks an intention and pays it with a test card or QR.

Plain HTML forms posting back to the screen (POST, redirect, GET), so it works under the strict
CSP with no script at all; the page refreshes itself every 2 s while the terminal is idle.
"""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from simulator import engine
from simulator.cards import CARDS
from simulator.control_views import intention_summary, terminal_act
from simulator.errors import SimError
from simulator.models import SimTerminal

ACTIONS = ("pick", "pay", "qr", "reject")


@require_GET
def index(request):
    with engine.locked():
        engine.advance_due(timezone.now())
        rows = [
            {"terminal": t, "pending": len(engine.terminal_pending(t))}
            for t in SimTerminal.objects.all()
        ]
    return render(request, "simulator/index.html", {"rows": rows})


@require_GET
def terminal_screen(request, terminal_id):
    with engine.locked():
        engine.advance_due(timezone.now())
        terminal = SimTerminal.objects.filter(terminal_id=terminal_id).first()
        if terminal is None:
            raise Http404("Terminal inexistente")
        current = engine.terminal_current(terminal)
        pending = [intention_summary(i) for i in engine.terminal_pending(terminal)]
        recent = [intention_summary(i) for i in engine.terminal_recent(terminal)]
    return render(
        request,
        "simulator/terminal.html",
        {
            "terminal": terminal,
            "current": intention_summary(current) if current else None,
            "pending": pending,
            "recent": recent,
            "cards": list(CARDS.values()),
        },
    )


@require_POST
def terminal_screen_action(request, terminal_id, action):
    if action not in ACTIONS:
        raise Http404("Acción desconocida")
    body = {"intention_id": request.POST.get("intention_id"), "card": request.POST.get("card")}
    try:
        intention = terminal_act(terminal_id=terminal_id, action=action, body=body)
    except SimError as error:
        if error.title.startswith("Terminal ") and error.status == 404:
            raise Http404(error.title) from None
        messages.error(request, error.title)
    else:
        if action != "pick":
            messages.info(request, f"Operación {intention.status}")
    return redirect("simulator:terminal_screen", terminal_id=terminal_id)
