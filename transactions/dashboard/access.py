"""The dashboard's translation of a permission refusal into an HTTP answer.

Who may do what is decided by `stores.permissions`; which objects a person sees by
`stores.selectors`. Scope first, role second: an object outside the user's stores is 404 (the
selectors raise it); an object inside but an action the role does not allow is 403 (raised here).
Templates hide what is refused, but the server never trusts that.
"""

from django.core.exceptions import PermissionDenied

from stores.models import Store
from stores.permissions import user_can
from stores.roles import Action


def require(*, user, store: Store, action: str) -> None:
    """403 unless one of the user's roles on `store` allows `action`."""
    if not user_can(user=user, store=store, action=action):
        raise PermissionDenied(f"Tu rol no permite: {Action(action).label}.")
