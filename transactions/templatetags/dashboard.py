"""Template helpers of the dashboard: state badges and the navigation's permission checks."""

import logging

from django import template
from django.db import DatabaseError

from stores.roles import Action, roles_allowed_text
from stores.selectors import store_list_for_user
from transactions.selectors import attention_count_for_user
from transactions.states import State

register = template.Library()
logger = logging.getLogger(__name__)

_BADGES: dict[str, str] = {
    State.APPROVAL_PENDING: "warn",
    State.APPROVED: "ok",
    State.DECLINED: "error",
    State.FAILED: "error",
    State.IN_DOUBT: "error",
    State.CANCELLED: "off",
    State.CREATED: "warn",
    State.PENDING: "warn",
    State.PROCESSING: "warn",
    State.CANCELLING: "warn",
}


@register.filter
def state_badge(state: str) -> str:
    """The CSS modifier of a portal state's badge."""
    return _BADGES.get(state, "off")


@register.filter
def state_label(state: str) -> str:
    """The Spanish name of a portal state (`pending` -> `Esperando terminal`)."""
    try:
        return State(state).label
    except ValueError:
        return state or "·"


def _can_anywhere(context, action: str) -> bool:
    """Whether the signed-in person may do `action` in at least one store; cached per request.
    The navigation uses it to hide links; the pages check again."""
    request = context.get("request")
    if request is None or not request.user.is_authenticated:
        return False
    cache = request.__dict__.setdefault("_ecr_can_anywhere", {})
    if action not in cache:
        cache[action] = store_list_for_user(user=request.user, action=action).exists()
    return cache[action]


@register.simple_tag(takes_context=True)
def can_configure(context) -> bool:
    """Whether the settings link is shown (owners)."""
    return _can_anywhere(context, Action.MANAGE_SETTINGS)


@register.simple_tag(takes_context=True)
def can_approve(context) -> bool:
    """Whether the Aprobaciones link is shown (owners and managers: maker-checker)."""
    return _can_anywhere(context, Action.APPROVE)


@register.simple_tag(takes_context=True)
def can_view_reports(context) -> bool:
    """Whether the reports link is shown (owners, managers, finance; not cashiers)."""
    return _can_anywhere(context, Action.VIEW_REPORTS)


@register.simple_tag(takes_context=True)
def attention_count(context) -> int:
    """The navigation's attention badge: operations needing a person in the user's stores. One
    query, once per request."""
    request = context.get("request")
    if request is None or not request.user.is_authenticated:
        return 0
    if not hasattr(request, "_ecr_attention_count"):
        try:
            request._ecr_attention_count = attention_count_for_user(user=request.user)
        except DatabaseError:
            # A badge never takes a page down with it (the error page of a database outage
            # has the navigation too): no count rather than no page.
            logger.warning("attention count unavailable", exc_info=True)
            request._ecr_attention_count = 0
    return request._ecr_attention_count


@register.simple_tag
def who_can(action: str) -> str:
    """Who may do `action`, by role, as prose ("un dueño o un encargado"): pages say who can act
    instead of telling a person to do what his role does not allow."""
    return roles_allowed_text(action)
