"""The one place that says what each role may do.

Views, API and services ask `role_allows(role, action)` (or the selectors built on it); nothing
else in the code compares role names.
"""

from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Dueño"
    MANAGER = "manager", "Encargado"
    CASHIER = "cashier", "Cajero"
    FINANCE = "finance", "Finanzas"


class Action(models.TextChoices):
    VIEW = "view", "Ver"
    CHARGE = "charge", "Cobrar"
    CANCEL = "cancel", "Cancelar una intención pendiente"
    REVERSE = "reverse", "Anular"
    REFUND = "refund", "Devolver"
    CLOSE_BATCH = "close_batch", "Cerrar lote"
    # Refunds without an original payment: the favourite of a dishonest employee, so only the
    # roles (and POS keys, `PosClient.can_refund_unreferenced`) configured for them.
    REFUND_UNREFERENCED = "refund_unreferenced", "Devolver sin cobro original"
    # Maker-checker: approve or reject a refund or reversal above the store's threshold.
    APPROVE = "approve", "Aprobar devoluciones y anulaciones"
    RESOLVE = "resolve", "Resolver una intención en duda"
    VIEW_REPORTS = "view_reports", "Ver reportes"
    MANAGE_SETTINGS = "manage_settings", "Configurar"


_ALL = frozenset(Action)
PERMISSIONS: dict[str, frozenset[str]] = {
    Role.OWNER: _ALL,
    Role.MANAGER: _ALL - {Action.MANAGE_SETTINGS, Action.REFUND_UNREFERENCED},
    Role.CASHIER: frozenset({Action.VIEW, Action.CHARGE, Action.CANCEL}),
    # Finance reads everything and the reports, and moves no money.
    Role.FINANCE: frozenset({Action.VIEW, Action.VIEW_REPORTS}),
}


def role_allows(role: str, action: str) -> bool:
    return action in PERMISSIONS.get(role, frozenset())


def roles_allowed_text(action: str) -> str:
    """Who may do `action`, as Spanish prose for messages ("un dueño o un encargado")."""
    names = [f"un {role.label.lower()}" for role in Role if role_allows(role, action)]
    if len(names) <= 1:
        return names[0] if names else "nadie"
    return ", ".join(names[:-1]) + " o " + names[-1]
