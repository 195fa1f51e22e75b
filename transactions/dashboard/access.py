"""Permission checks of the dashboard, on top of the scoped selectors of `stores`.

Scope first, role second: an object outside the user's stores is 404 (the selectors raise it);
an object inside but an action the role does not allow is 403. Templates hide what is refused
here, but the server never trusts that.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet

from stores.models import Membership, Merchant, Store
from stores.roles import PERMISSIONS, Action
from stores.selectors import store_list_for_user, user_can


def require(*, user, store: Store, action: str) -> None:
    if not user_can(user=user, store=store, action=action):
        raise PermissionDenied(f"Tu rol no permite: {Action(action).label}.")


def roles_allowing(action: str) -> list[str]:
    return [role for role, actions in PERMISSIONS.items() if action in actions]


def stores_where(*, user, action: str) -> QuerySet[Store]:
    """The user's stores where one of the user's roles allows `action` (one query)."""
    if not user.is_authenticated:
        return Store.objects.none()
    if user.is_superuser:
        return store_list_for_user(user=user)
    roles = roles_allowing(action)
    return (
        Store.objects.filter(
            Q(memberships__user=user, memberships__role__in=roles)
            | Q(merchant__memberships__user=user, merchant__memberships__role__in=roles)
        )
        .select_related("merchant")
        .distinct()
    )


def merchants_managed_by(*, user) -> QuerySet[Merchant]:
    """Merchants the user configures as a whole (credentials, new stores): merchant-wide roles
    that allow managing settings."""
    if not user.is_authenticated:
        return Merchant.objects.none()
    if user.is_superuser:
        return Merchant.objects.all()
    return Merchant.objects.filter(
        memberships__user=user,
        memberships__role__in=roles_allowing(Action.MANAGE_SETTINGS),
    ).distinct()


class StorePermissions:
    """Which actions the user holds on each of some stores, in one query for all of them."""

    def __init__(self, *, user, stores):
        self._superuser = bool(user.is_authenticated and user.is_superuser)
        self._by_store: dict[int, set[str]] = {}
        stores = list(stores)
        if not user.is_authenticated or self._superuser or not stores:
            return
        by_merchant: dict[int, set[str]] = {}
        by_store: dict[int, set[str]] = {}
        for store_id, merchant_id, role in Membership.objects.filter(user=user).values_list(
            "store_id", "merchant_id", "role"
        ):
            actions = PERMISSIONS.get(role, frozenset())
            if store_id:
                by_store.setdefault(store_id, set()).update(actions)
            else:
                by_merchant.setdefault(merchant_id, set()).update(actions)
        for store in stores:
            self._by_store[store.pk] = by_store.get(store.pk, set()) | by_merchant.get(
                store.merchant_id, set()
            )

    def allows(self, store: Store, action: str) -> bool:
        return self._superuser or action in self._by_store.get(store.pk, set())

    def any(self, action: str) -> bool:
        return self._superuser or any(action in a for a in self._by_store.values())
