"""Audit of settings (issue 14 item 7), on django-auditlog: who changed what and when for a
store's environment and credential, credentials, terminals, roles and members, POS keys, and the
merchant's pilot decisions. Saves are logged by auditlog's signals (the request's person is the
actor, `auditlog.middleware.AuditlogMiddleware`); the services' guarded `update()`s, which send
no signal, log through `record()`. Secrets are never in a log: only the listed fields are."""

from auditlog.models import LogEntry
from auditlog.registry import auditlog

from stores.models import Credential, Membership, Merchant, PosClient, Store, Terminal

AUDITED = {
    Store: ["name", "code", "environment", "credential", "batch_close_hour", "time_zone"],
    Terminal: ["terminal_id", "store", "label", "enabled", "purpose"],
    Credential: [
        "name",
        "environment",
        "base_url",
        "public_key",
        "integrator",
        "retired_at",
        "homologation_approved_at",
    ],
    Membership: ["user", "role", "store", "merchant"],
    PosClient: ["name", "store", "revoked_at"],
    Merchant: ["legal_name", "cuit", "pilot_store", "pilot_passed_at", "pilot_passed_by"],
}


def register_models() -> None:
    for model, fields in AUDITED.items():
        m2m = ["merchants"] if model is Credential else None
        auditlog.register(model, include_fields=fields, m2m_fields=m2m)


def record(instance, changes: dict[str, tuple], *, user=None) -> None:
    """Logs a change written with `update()` (no signal): `changes` maps a field to (before,
    after). `user` is the person acting (None: a command, or the request's person)."""
    kwargs = {
        "action": LogEntry.Action.UPDATE,
        "changes": {field: [str(old), str(new)] for field, (old, new) in changes.items()},
    }
    if getattr(user, "pk", None):
        kwargs["actor"] = user
    LogEntry.objects.log_create(instance, **kwargs)
