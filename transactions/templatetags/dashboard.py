"""Template helpers of the dashboard: state badges and the navigation's permission checks."""

from django import template

from stores.roles import Action
from transactions.dashboard.access import stores_where
from transactions.states import State

register = template.Library()

_BADGES = {
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


@register.simple_tag(takes_context=True)
def can_configure(context) -> bool:
    """Whether the signed-in person sees the settings link (owners); cached per request."""
    request = context.get("request")
    if request is None or not request.user.is_authenticated:
        return False
    cached = getattr(request, "_ecr_can_configure", None)
    if cached is None:
        cached = stores_where(user=request.user, action=Action.MANAGE_SETTINGS).exists()
        request._ecr_can_configure = cached
    return cached
