"""Control endpoints under /simulator/control/: set-up, knobs, counters, and a person's actions.

No authentication: the simulator is only mounted in development and tests. Bodies and answers
are JSON; refusals use the provider's error shape (always JSON here, whatever the faults say).

    GET|PUT /control/faults          {"latency_ms", "error_rate", "drop_rate", "token_ttl_seconds",
                                      "plain_text_errors", "seed", "lost_answer_sleep_ms",
                                      "undo_delay_ms", "settlement_delay_ms",
                                      "settlement_fault": ""|"refuse"|"error"|"illegible_ticket",
                                      "sandbox_fixed_data": bool (contract §6: sandbox
                                      credentials accept only the fixed test data)}; PUT is
                                      partial and also takes "revoke_tokens": true
    POST    /control/tokens/revoke   expire every issued token -> {"revoked": n}
    POST    /control/reset           {"all": false} -> {"reset": true}
    POST    /control/credentials     {"public_key", "secret_key", "cuit", "environment",
                                      "merchant_name", "merchant_id"?} (upsert by public_key)
    GET|POST /control/terminals      list | {"terminal_id", "cuit", "serial"?, "model"?,
                                      "mobitef_app_vers"?, "batch_number"?} (upsert)
    <id> below is the terminal's 8-digit number (the provider's terminal_id, the portal's
    "número"), never the portal API's UUID "terminal id" (answered 404 with that explanation).

    GET     /control/terminals/<id>  the terminal: batch, pending list, current intention
    GET|PUT /control/autopilot       {"enabled", "pick_delay_ms", "processing_ms",
                                      "stuck_processing_ms"}
    GET|PUT /control/terminals/<id>/autopilot   same fields, null = use the global value;
                                      the answer adds "effective"
    POST    /control/terminals/<id>/pick    {"intention_id"?}
    POST    /control/terminals/<id>/pay     {"card": "visa_credito|visa_debito|mastercard|amex|
                                             cabal|naranja|declinada"}
    POST    /control/terminals/<id>/qr      {}
    POST    /control/terminals/<id>/reject  {"intention_id"?}
            (the four actions answer the intention, see `intention_summary`)
    GET     /control/counters        {"creates_by_ecr_transaction_id", "creates_total",
                                      "reads_by_intention_id", "reads_total", "tokens_issued",
                                      "calls_by_operation"}; a create refused with 401
                                      (token rejected) is not counted
"""

import re
from functools import wraps

from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from simulator import engine, receipts, services, validation
from simulator.errors import SimError, error_response
from simulator.models import SimIntention, SimTerminal


def control_endpoint(*methods: str):
    def decorator(view):
        @csrf_exempt
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            try:
                if request.method not in methods:
                    raise SimError(405, "Método no soportado")
                return view(request, *args, **kwargs)
            except SimError as error:
                return error_response(error)

        return wrapper

    return decorator


def _terminal(terminal_id: str) -> SimTerminal:
    """The terminal by its 8-digit number: the provider's `terminal_id`, which the portal shows as
    the terminal's "número". The portal's API calls its own UUID "terminal id"; the simulator
    cannot know it, so a UUID here gets a 404 that says which id is meant."""
    terminal = SimTerminal.objects.filter(terminal_id=terminal_id).first()
    if terminal is None:
        if not re.fullmatch(r"\d{8}", terminal_id):
            raise SimError(
                404,
                f"Terminal {terminal_id} inexistente: use el número de 8 dígitos de la terminal "
                "(el terminal_id del proveedor), no el id (UUID) de la API del portal",
            )
        raise SimError(404, f"Terminal {terminal_id} inexistente")
    return terminal


def intention_summary(intention: SimIntention) -> dict:
    request = intention.request_data or {}
    amount = intention.amount_cents
    return {
        "id": str(intention.pk),
        "kind": intention.kind,
        "status": intention.status,
        "terminal_menu_text": request.get("terminal_menu_text"),
        "amount": None if amount is None else str(amount),
        "amount_display": None if amount is None else f"$ {receipts.format_money(amount)}",
        "ecr_transaction_id": intention.ecr_transaction_id,
        "operation_method": intention.operation_method,
        "card_brand_product_restriction": intention.brand_restriction,
        "terminal_id": intention.terminal.terminal_id if intention.terminal_id else None,
        "card_brand": intention.card_brand,
        "authorization_code": intention.authorization_code,
        "transaction_receipt": intention.transaction_receipt,
        "batch_number": intention.batch_number,
        "created_at": receipts.format_date(intention.created_at),
    }


def terminal_state(terminal: SimTerminal) -> dict:
    current = engine.terminal_current(terminal)
    return {
        "terminal_id": terminal.terminal_id,
        "cuit": terminal.cuit,
        "serial": terminal.serial,
        "model": terminal.model,
        "mobitef_app_vers": terminal.mobitef_app_vers,
        "batch_number": terminal.batch_number,
        "next_receipt": terminal.next_receipt,
        "busy": engine.terminal_is_busy(terminal),
        "pending": [intention_summary(i) for i in engine.terminal_pending(terminal)],
        "current": intention_summary(current) if current else None,
        "autopilot": services.autopilot_effective(terminal),
    }


# --- Knobs ---------------------------------------------------------------------------------


@control_endpoint("GET", "PUT")
def faults(request):
    if request.method == "PUT":
        state = services.faults_update(changes=validation.json_body(request))
    else:
        state = services.state_get()
    return JsonResponse(services.faults_as_dict(state))


@control_endpoint("POST")
def tokens_revoke(request):
    return JsonResponse({"revoked": services.tokens_revoke()})


@control_endpoint("POST")
def reset(request):
    body = validation.json_body(request)
    services.reset(everything=body.get("all") is True)
    return JsonResponse({"reset": True, "all": body.get("all") is True})


@control_endpoint("GET", "PUT")
def autopilot(request):
    if request.method == "PUT":
        state = services.autopilot_global_update(changes=validation.json_body(request))
    else:
        state = services.state_get()
    return JsonResponse(services.autopilot_global_as_dict(state))


@control_endpoint("GET", "PUT")
def terminal_autopilot(request, terminal_id):
    terminal = _terminal(terminal_id)
    if request.method == "PUT":
        changes = validation.json_body(request)
        terminal = services.autopilot_terminal_update(terminal=terminal, changes=changes)
    return JsonResponse(services.autopilot_terminal_as_dict(terminal))


@control_endpoint("GET")
def counters(request):
    return JsonResponse(services.counters())


# --- Set-up --------------------------------------------------------------------------------

_CREDENTIAL_FIELDS = {
    "public_key", "secret_key", "cuit", "environment", "merchant_name", "merchant_id",
}  # fmt: skip
_TERMINAL_FIELDS = {"terminal_id", "cuit", "serial", "model", "mobitef_app_vers", "batch_number"}


def _fields(body: dict, allowed: set[str]) -> dict:
    unknown = set(body) - allowed
    if unknown:
        raise SimError(400, f"campos desconocidos: {', '.join(sorted(unknown))}")
    for name, value in body.items():
        if name != "batch_number" and value is not None and not isinstance(value, str):
            raise SimError(400, f"{name}: formato inválido")
    return body


@control_endpoint("POST")
def credentials(request):
    body = _fields(validation.json_body(request), _CREDENTIAL_FIELDS)
    credential = services.credential_upsert(
        public_key=body.get("public_key") or "",
        secret_key=body.get("secret_key") or "",
        cuit=body.get("cuit") or "",
        environment=body.get("environment") or "",
        merchant_name=body.get("merchant_name") or "",
        merchant_id=body.get("merchant_id"),
    )
    return JsonResponse(services.credential_as_dict(credential))


@control_endpoint("GET", "POST")
def terminals(request):
    if request.method == "GET":
        with engine.locked():
            engine.advance_due(timezone.now())
            return JsonResponse(
                {"terminals": [terminal_state(t) for t in SimTerminal.objects.all()]}
            )
    body = _fields(validation.json_body(request), _TERMINAL_FIELDS)
    terminal = services.terminal_upsert(
        terminal_id=body.get("terminal_id") or "",
        cuit=body.get("cuit") or "",
        serial=body.get("serial"),
        model=body.get("model"),
        mobitef_app_vers=body.get("mobitef_app_vers"),
        batch_number=body.get("batch_number"),
    )
    return JsonResponse(terminal_state(terminal))


@control_endpoint("GET")
def terminal_detail(request, terminal_id):
    with engine.locked():
        engine.advance_due(timezone.now())
        return JsonResponse(terminal_state(_terminal(terminal_id)))


# --- A person at the terminal --------------------------------------------------------------


def terminal_act(*, terminal_id: str, action: str, body: dict) -> SimIntention:
    """Run one person's action on a terminal; shared by the control API and the screen."""
    with engine.locked():
        now = timezone.now()
        engine.advance_due(now)
        terminal = _terminal(terminal_id)
        intention_id = body.get("intention_id") or None
        if action == "pick":
            return engine.terminal_pick(terminal=terminal, now=now, intention_id=intention_id)
        if action == "pay":
            return engine.terminal_pay(terminal=terminal, card_key=body.get("card"), now=now)
        if action == "qr":
            return engine.terminal_qr(terminal=terminal, now=now)
        if action == "reject":
            return engine.terminal_reject(terminal=terminal, now=now, intention_id=intention_id)
    raise SimError(404, f"Acción desconocida: {action}")


@control_endpoint("POST")
def terminal_action(request, terminal_id, action):
    intention = terminal_act(
        terminal_id=terminal_id, action=action, body=validation.json_body(request)
    )
    return JsonResponse(intention_summary(intention))
