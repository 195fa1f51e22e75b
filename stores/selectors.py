"""Reads scoped to what a user or a POS key may see. Outside the scope is 404, never 403."""

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import Http404

from stores.models import Credential, Membership, Store, Terminal
from stores.roles import role_allows


def _membership_filter(user) -> Q:
    return Q(memberships__user=user) | Q(merchant__memberships__user=user)


def store_list_for_user(*, user) -> QuerySet[Store]:
    if not user.is_authenticated:
        return Store.objects.none()
    if user.is_superuser:
        return Store.objects.select_related("merchant").all()
    return Store.objects.filter(_membership_filter(user)).select_related("merchant").distinct()


def store_get_for_user(*, user, public_id) -> Store:
    try:
        return store_list_for_user(user=user).get(public_id=public_id)
    except (Store.DoesNotExist, ValueError, ValidationError) as exc:
        # A malformed id (from an API payload or a query string) is "not found", not a 500.
        raise Http404("Sucursal no encontrada") from exc


def terminal_list_for_user(*, user) -> QuerySet[Terminal]:
    stores = store_list_for_user(user=user)
    return Terminal.objects.filter(store__in=stores).select_related("store", "store__merchant")


def terminal_get_for_user(*, user, public_id) -> Terminal:
    try:
        return terminal_list_for_user(user=user).get(public_id=public_id)
    except (Terminal.DoesNotExist, ValueError, ValidationError) as exc:
        raise Http404("Terminal no encontrada") from exc


def store_roles_for_user(*, user, store: Store) -> set[str]:
    """Every role the user holds on this store, directly or through its merchant."""
    if not user.is_authenticated:
        return set()
    return set(
        Membership.objects.filter(user=user)
        .filter(Q(store=store) | Q(merchant_id=store.merchant_id))
        .values_list("role", flat=True)
    )


def user_can(*, user, store: Store, action: str) -> bool:
    if user.is_authenticated and user.is_superuser:
        return True
    return any(role_allows(role, action) for role in store_roles_for_user(user=user, store=store))


def credential_for_store(*, store: Store) -> Credential | None:
    """The merchant's credential for the environment the store operates in (newest wins)."""
    return (
        Credential.objects.filter(merchants=store.merchant_id, environment=store.environment)
        .order_by("-created_at")
        .first()
    )
