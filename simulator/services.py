"""Writes and reads around the simulator's set-up: credentials, terminals, knobs, counters.

The state machine of intentions lives in `engine.py`; this module is what the control endpoints
and the management commands share (one function per write, keyword-only).
"""

import random
import re
from collections import Counter

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from simulator.errors import bad_request
from simulator.models import (
    ENVIRONMENT_SUBNETS,
    SimCall,
    SimCredential,
    SimIntention,
    SimState,
    SimTerminal,
    SimToken,
)

FAULT_FIELDS = {
    "latency_ms": int,
    "error_rate": float,
    "drop_rate": float,
    "token_ttl_seconds": int,
    "plain_text_errors": bool,
    "seed": int,
    "lost_answer_sleep_ms": int,
    "undo_delay_ms": int,
    "settlement_delay_ms": int,
    "settlement_fault": str,
    "sandbox_fixed_data": bool,
}
# "": batch closes work. "refuse": the create is refused (409, nothing created). "error": the
# close is accepted and ends in ERROR, the batch stays open. "illegible_ticket": the batch
# closes but its closing ticket is printed garbled.
SETTLEMENT_FAULTS = ("", "refuse", "error", "illegible_ticket")
AUTOPILOT_FIELDS = {
    "enabled": bool,
    "pick_delay_ms": int,
    "processing_ms": int,
    "stuck_processing_ms": int,
}
CREATE_OPERATIONS = frozenset(
    {"payment_create", "reversal_create", "refund_create", "settlement_create"}
)
READ_OPERATIONS = frozenset({"payment_get", "reversal_get", "refund_get", "settlement_get"})


def state_get() -> SimState:
    state, _ = SimState.objects.get_or_create(pk=1)
    return state


def digits_only(value: str) -> str:
    return re.sub(r"\D", "", value or "")


def _check_value(name: str, kind: type, value, *, nullable: bool = False):
    """Strict type check of one knob; bools are not ints and ints are fine where floats are."""
    if value is None and nullable:
        return None
    if kind is str:
        if name == "settlement_fault" and value in SETTLEMENT_FAULTS:
            return value
        raise bad_request(
            f"{name}: valor inválido ({' | '.join(repr(v) for v in SETTLEMENT_FAULTS)})"
        )
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    else:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1
    if not ok:
        raise bad_request(f"{name}: valor inválido")
    return float(value) if kind is float else value


# --- Credentials and terminals -------------------------------------------------------------


def credential_upsert(
    *,
    public_key: str,
    secret_key: str,
    cuit: str,
    environment: str,
    merchant_name: str,
    merchant_id: str | None = None,
) -> SimCredential:
    """Create or update the credential with this public key (idempotent)."""
    cuit_digits = digits_only(cuit)
    if len(cuit_digits) != 11:
        raise bad_request("cuit: debe tener 11 dígitos")
    if environment not in ENVIRONMENT_SUBNETS:
        raise bad_request("environment: debe ser sandbox, homologation o production")
    if not public_key or not secret_key:
        raise bad_request("public_key y secret_key son obligatorios")
    if not merchant_id:
        # The provider's merchant number looks like 00 + 8 digits; derive it from the CUIT.
        merchant_id = "00" + cuit_digits[2:10]
    credential, _ = SimCredential.objects.update_or_create(
        public_key=public_key,
        defaults={
            "secret_key": secret_key,
            "cuit": cuit_digits,
            "environment": environment,
            "merchant_name": merchant_name or "COMERCIO DEMO",
            "merchant_id": merchant_id,
        },
    )
    return credential


def terminal_upsert(
    *,
    terminal_id: str,
    cuit: str,
    serial: str | None = None,
    model: str | None = None,
    mobitef_app_vers: str | None = None,
    batch_number: int | None = None,
) -> SimTerminal:
    """Create or update a terminal (idempotent); a new one opens a batch numbered ~100."""
    if not re.fullmatch(r"\d{8}", terminal_id or ""):
        raise bad_request("terminal_id: debe tener 8 dígitos")
    cuit_digits = digits_only(cuit)
    if len(cuit_digits) != 11:
        raise bad_request("cuit: debe tener 11 dígitos")
    terminal = SimTerminal.objects.filter(terminal_id=terminal_id).first()
    if terminal is None:
        # Real batches are rarely at 1: start at a number derived from the id (reproducible).
        seeded = random.Random(terminal_id)
        terminal = SimTerminal(
            terminal_id=terminal_id,
            serial=f"6A{terminal_id[-6:]}",
            batch_number=seeded.randint(100, 199),
            next_receipt=seeded.randint(1, 90),
        )
    terminal.cuit = cuit_digits
    if serial:
        terminal.serial = serial
    if model:
        terminal.model = model
    if mobitef_app_vers:
        terminal.mobitef_app_vers = mobitef_app_vers
    if batch_number is not None:
        terminal.batch_number = _check_value("batch_number", int, batch_number)
    terminal.save()
    return terminal


def credential_as_dict(credential: SimCredential) -> dict:
    return {
        "public_key": credential.public_key,
        "cuit": credential.cuit,
        "environment": credential.environment,
        "subnet_acquirer_id": credential.subnet_acquirer_id,
        "merchant_name": credential.merchant_name,
        "merchant_id": credential.merchant_id,
    }


# --- Knobs ---------------------------------------------------------------------------------


def faults_as_dict(state: SimState) -> dict:
    return {name: getattr(state, name) for name in FAULT_FIELDS}


def faults_update(*, changes: dict) -> SimState:
    """Partial update of the faults; `revoke_tokens: true` expires every token issued so far."""
    unknown = set(changes) - set(FAULT_FIELDS) - {"revoke_tokens"}
    if unknown:
        raise bad_request(f"campos desconocidos: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        state = SimState.objects.select_for_update().get(pk=state_get().pk)
        for name, kind in FAULT_FIELDS.items():
            if name in changes:
                value = _check_value(name, kind, changes[name], nullable=name == "seed")
                setattr(state, name, value)
                if name == "seed":
                    state.rng_counter = 0
        state.save()
    if changes.get("revoke_tokens"):
        tokens_revoke()
    return state


def tokens_revoke() -> int:
    """Expire every current token at once: clients holding one get a 401 on the next call."""
    now = timezone.now()
    return SimToken.objects.filter(expires_at__gt=now).update(expires_at=now)


def autopilot_global_as_dict(state: SimState) -> dict:
    return {
        "enabled": state.autopilot_enabled,
        "pick_delay_ms": state.pick_delay_ms,
        "processing_ms": state.processing_ms,
        "stuck_processing_ms": state.stuck_processing_ms,
    }


def autopilot_global_update(*, changes: dict) -> SimState:
    unknown = set(changes) - set(AUTOPILOT_FIELDS)
    if unknown:
        raise bad_request(f"campos desconocidos: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        state = SimState.objects.select_for_update().get(pk=state_get().pk)
        for name, kind in AUTOPILOT_FIELDS.items():
            if name in changes:
                field = "autopilot_enabled" if name == "enabled" else name
                setattr(state, field, _check_value(name, kind, changes[name]))
        state.save()
    return state


def autopilot_effective(terminal: SimTerminal, state: SimState | None = None) -> dict:
    """The autopilot settings that apply to a terminal: its overrides, else the global ones."""
    state = state or state_get()
    glob = autopilot_global_as_dict(state)
    own = {
        "enabled": terminal.autopilot_enabled,
        "pick_delay_ms": terminal.pick_delay_ms,
        "processing_ms": terminal.processing_ms,
        "stuck_processing_ms": terminal.stuck_processing_ms,
    }
    return {name: glob[name] if own[name] is None else own[name] for name in glob}


def autopilot_terminal_as_dict(terminal: SimTerminal) -> dict:
    return {
        "terminal_id": terminal.terminal_id,
        "enabled": terminal.autopilot_enabled,
        "pick_delay_ms": terminal.pick_delay_ms,
        "processing_ms": terminal.processing_ms,
        "stuck_processing_ms": terminal.stuck_processing_ms,
        "effective": autopilot_effective(terminal),
    }


def autopilot_terminal_update(*, terminal: SimTerminal, changes: dict) -> SimTerminal:
    """Partial update of a terminal's overrides; null puts a field back on the global default."""
    unknown = set(changes) - set(AUTOPILOT_FIELDS)
    if unknown:
        raise bad_request(f"campos desconocidos: {', '.join(sorted(unknown))}")
    for name, kind in AUTOPILOT_FIELDS.items():
        if name in changes:
            field = "autopilot_enabled" if name == "enabled" else name
            setattr(terminal, field, _check_value(name, kind, changes[name], nullable=True))
    terminal.save()
    return terminal


def roll() -> float:
    """A die in [0, 1) for the fault rates; reproducible when the state has a seed."""
    state = state_get()
    if state.seed is None:
        return random.random()
    SimState.objects.filter(pk=state.pk).update(rng_counter=F("rng_counter") + 1)
    counter = SimState.objects.values_list("rng_counter", flat=True).get(pk=state.pk)
    return random.Random(f"{state.seed}:{counter}").random()


def reset(*, everything: bool = False) -> None:
    """Back to a clean slate: intentions, tokens, counters and knobs go; with `everything`,
    credentials and terminals too. Terminals kept lose their autopilot overrides."""
    with transaction.atomic():
        SimIntention.objects.update(settled_by=None)
        SimIntention.objects.exclude(original=None).delete()
        SimIntention.objects.all().delete()
        SimToken.objects.all().delete()
        SimCall.objects.all().delete()
        SimState.objects.all().delete()
        if everything:
            SimTerminal.objects.all().delete()
            SimCredential.objects.all().delete()
        else:
            SimTerminal.objects.update(
                autopilot_enabled=None,
                pick_delay_ms=None,
                processing_ms=None,
                stuck_processing_ms=None,
            )
        state_get()


# --- Counters ------------------------------------------------------------------------------


def call_record(*, operation: str, ecr_transaction_id=None, intention_id=None) -> None:
    SimCall.objects.create(
        operation=operation,
        ecr_transaction_id=ecr_transaction_id if isinstance(ecr_transaction_id, str) else None,
        intention_id=intention_id,
        received_at=timezone.now(),
    )


def counters() -> dict:
    calls = list(SimCall.objects.values_list("operation", "ecr_transaction_id", "intention_id"))
    creates = [c for c in calls if c[0] in CREATE_OPERATIONS]
    reads = [c for c in calls if c[0] in READ_OPERATIONS]
    return {
        "creates_by_ecr_transaction_id": dict(Counter(c[1] for c in creates if c[1])),
        "creates_total": len(creates),
        "reads_by_intention_id": dict(Counter(c[2] for c in reads if c[2])),
        "reads_total": len(reads),
        "tokens_issued": SimToken.objects.count(),
        "calls_by_operation": dict(Counter(c[0] for c in calls)),
    }
