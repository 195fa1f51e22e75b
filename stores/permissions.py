"""Who may do what: the one module that decides.

`stores.roles` is the vocabulary (roles, actions and the table between them); this module applies
it to a person and a store, a merchant, a membership or a credential. Reads that return querysets
restricted by these decisions live in `stores.selectors`; writes that enforce them live in
`stores.services`. Views only translate a refusal into 403 (or 404 when the object is outside the
person's scope, which the selectors decide).

Superusers may do everything. Anonymous users may do nothing.
"""

from django.db.models import Q

from stores.models import Credential, Integrator, Membership, Merchant, Store
from stores.roles import PERMISSIONS, Action, role_allows


def roles_allowing(action: str) -> list[str]:
    """Every role whose table entry includes `action`."""
    return [role for role, actions in PERMISSIONS.items() if action in actions]


def _is_superuser(user) -> bool:
    return bool(user.is_authenticated and user.is_superuser)


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
    """Whether one of the user's roles on this store (its own or its merchant's) allows `action`."""
    if _is_superuser(user):
        return True
    return any(role_allows(role, action) for role in store_roles_for_user(user=user, store=store))


def user_can_for_merchant(*, user, merchant: Merchant, action: str) -> bool:
    """Whether the user may do `action` on the merchant as a whole (its credentials, new stores,
    merchant-wide members, homologation): only a merchant-wide role counts; the role of one of
    its stores does not."""
    if _is_superuser(user):
        return True
    if not user.is_authenticated:
        return False
    return Membership.objects.filter(
        user=user, merchant=merchant, role__in=roles_allowing(action)
    ).exists()


def user_manages_merchant(*, user, merchant: Merchant) -> bool:
    """Who manages which merchant: a merchant-wide role that allows managing settings (owners)."""
    return user_can_for_merchant(user=user, merchant=merchant, action=Action.MANAGE_SETTINGS)


def user_manages_membership(*, user, membership: Membership) -> bool:
    """Whether the user may change or remove this role: the settings of its store, or the whole
    merchant for a merchant-wide role."""
    if membership.store is not None:
        return user_can(user=user, store=membership.store, action=Action.MANAGE_SETTINGS)
    if membership.merchant is None:
        return False
    return user_manages_merchant(user=user, merchant=membership.merchant)


def is_own_membership(*, user, membership: Membership) -> bool:
    """The "own role" rule: nobody changes or removes their own role, so an owner cannot lock
    himself (and with him the merchant's settings) out by mistake."""
    return membership.user_id == user.pk


def credential_change_allowed(*, user, credential: Credential) -> bool:
    """The shared-credential rule: a credential is changed (URL, keys, merchants, retired) only by
    someone who manages every merchant it serves. An integrator's credential shared with
    merchants this person does not manage would change for them too: their payments could stop
    or their keys leak. A credential serving no merchant at all is the superusers' to change."""
    if _is_superuser(user):
        return True
    if not user.is_authenticated:
        return False
    if (
        credential.integrator_id is not None
        and Integrator.objects.filter(pk=credential.integrator_id, members=user).exists()
    ):
        # The integrator registered the keys: its people change them for all its merchants.
        return True
    served = set(credential.merchants.values_list("pk", flat=True))
    if not served:
        return False
    managed = set(
        Membership.objects.filter(
            user=user,
            merchant_id__in=served,
            role__in=roles_allowing(Action.MANAGE_SETTINGS),
        ).values_list("merchant_id", flat=True)
    )
    return managed == served


def integrator_member(*, user, integrator: Integrator) -> bool:
    """Whether the user is one of the integrator's people (who onboard its merchants)."""
    if _is_superuser(user):
        return True
    return bool(user.is_authenticated) and integrator.members.filter(pk=user.pk).exists()


class StorePermissions:
    """Which actions the user holds on each of some stores, in one query for all of them (for
    pages that list many stores and show or hide an action on each)."""

    def __init__(self, *, user, stores):
        self._superuser = _is_superuser(user)
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
