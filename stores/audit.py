"""Audit of settings (issue 14 item 7), on django-auditlog: who changed what and when for a
store's environment and credential, credentials, terminals, roles and members, POS keys, and the
merchant's pilot decisions. Saves are logged by auditlog's signals (the request's person is the
actor, `auditlog.middleware.AuditlogMiddleware`); the services' guarded `update()`s, which send
no signal, log through `record()`. Secrets are never in a log: only the listed fields are."""

import datetime as dt
from dataclasses import dataclass

from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.core.exceptions import FieldDoesNotExist
from django.utils import timezone
from django.utils.dateparse import parse_datetime

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


@dataclass(frozen=True)
class ShownChange:
    """One field of an audit entry as the audit page shows it: the field's Spanish name and
    both values readable (choice labels, related objects by name, Sí/No, local dates, "—")."""

    label: str
    before: str
    after: str


# Fields whose model name is not the one people read (no verbose_name, or an acronym).
LABELS = {
    "merchants": "Comercios",
    "merchant": "Comercio",
    "store": "Sucursal",
    "user": "Persona",
    "cuit": "CUIT",
    "base_url": "URL base",
}
_EMPTY = {"", "None", "null"}
_BOOLEANS = {"True": "Sí", "False": "No"}
ACTION_LABELS = {
    LogEntry.Action.CREATE: "Alta",
    LogEntry.Action.UPDATE: "Cambio",
    LogEntry.Action.DELETE: "Baja",
}


def _field(model, name: str):
    try:
        return model._meta.get_field(name) if model is not None else None
    except FieldDoesNotExist:
        return None


def _local(text: str) -> str:
    moment = parse_datetime(text)
    if moment is None:
        return text
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, dt.UTC)
    return timezone.localtime(moment).strftime("%d/%m/%Y %H:%M")


def _value(field, text: str, names: dict) -> str:
    if text in _EMPTY:
        return "—"
    if field is None:
        return _BOOLEANS.get(text, text)
    if getattr(field, "choices", None):
        return str(dict(field.choices).get(text, text))
    if field.is_relation and field.many_to_one:
        # auditlog logs the related pk; `record()` logs the object's name already.
        return names.get((field.related_model, text), text)
    internal = field.get_internal_type()
    if internal == "BooleanField":
        return _BOOLEANS.get(text, text)
    if internal == "DateTimeField":
        return _local(text)
    return text


def shown_changes(entries) -> dict[int, list[ShownChange]]:
    """Each entry's changes for people, by entry pk: the fields' Spanish names, choice labels,
    related objects by name (one query per related model for the whole page, where auditlog's
    own display form runs one per value), Sí/No, local dates and "—" for nothing."""
    entries = list(entries)
    wanted: dict = {}
    for entry in entries:
        model = entry.content_type.model_class()
        for name, values in entry.changes_dict.items():
            field = _field(model, name)
            if field is not None and field.is_relation and field.many_to_one:
                for text in values if isinstance(values, list) else []:
                    if str(text).isdigit():
                        wanted.setdefault(field.related_model, set()).add(int(text))
    names = {
        (related, str(pk)): str(obj)
        for related, pks in wanted.items()
        for pk, obj in related._default_manager.in_bulk(pks).items()
    }
    shown: dict[int, list[ShownChange]] = {}
    for entry in entries:
        model = entry.content_type.model_class()
        rows = []
        for name, values in entry.changes_dict.items():
            field = _field(model, name)
            label = LABELS.get(name) or str(getattr(field, "verbose_name", name)).capitalize()
            if isinstance(values, dict):  # a many-to-many change: {"type", "objects"}
                operation = values.get("operation", "")
                verb = {"add": "agregó", "delete": "quitó", "clear": "quitó todos"}.get(
                    operation, "cambió"
                )
                objects = ", ".join(str(o) for o in values.get("objects", [])) or "—"
                rows.append(ShownChange(label, "", f"{verb}: {objects}"))
                continue
            before, after = [str(v).strip() for v in (list(values) + ["", ""])[:2]]
            rows.append(
                ShownChange(label, _value(field, before, names), _value(field, after, names))
            )
        shown[entry.pk] = rows
    return shown
