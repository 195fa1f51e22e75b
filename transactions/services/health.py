"""The alert of a terminal that stopped taking intentions (issue 12, item 17).

Run every few minutes (`tasks.terminal_health_task`). A terminal whose last intentions expired
on its screen untaken (`reporting.terminal_health`, status `stopped`) raises the newest of them
to a person: it shows in the navigation's badge, on Hoy and in Operaciones' "Requiere atención".
Once per run of expired intentions: a run that was already raised (even if a person has since
marked it as reviewed) is not raised again; the next run, after the terminal took one, is.
"""

from django.utils import timezone

from stores.models import Terminal
from transactions.events import SYSTEM, intent_flag
from transactions.models import Intent, IntentEvent
from transactions.reporting.terminal_health import Status, terminal_health_list


def stopped_terminal_reason(terminal: Terminal) -> str:
    name = terminal.label or "La terminal"
    return (
        f"{name} ({terminal.terminal_id}) no toma intenciones: las últimas vencieron sin que la "
        "tomara. Revisá que esté encendida, con conexión y en la pantalla de cobro."
    )


def terminal_alerts_raise(*, now=None) -> int:
    """Flags the newest expired intention of every enabled terminal that stopped taking them,
    once per run. Returns how many were flagged. Safe to run twice (django-q2 may)."""
    now = now or timezone.now()
    stopped = [
        health
        for health in terminal_health_list(terminals=Terminal.objects.filter(enabled=True), now=now)
        if health.status == Status.STOPPED
    ]
    if not stopped:
        return 0
    run_ids = [pk for health in stopped for pk in health.expired_run]
    already = set(
        IntentEvent.objects.filter(
            intent_id__in=run_ids,
            type=IntentEvent.Type.ATTENTION,
            message__in=[stopped_terminal_reason(h.terminal) for h in stopped],
        ).values_list("intent_id", flat=True)
    )
    newest = {
        intent.pk: intent
        for intent in Intent.objects.filter(pk__in=[h.expired_run[0] for h in stopped])
    }
    flagged = 0
    for health in stopped:
        if already.intersection(health.expired_run):
            continue
        intent_flag(
            newest[health.expired_run[0]],
            reason=stopped_terminal_reason(health.terminal),
            actor=SYSTEM,
        )
        flagged += 1
    return flagged
