"""Writes of the stores app: POS keys, credentials, members and roles, secret rotation.

The settings rules live here, not in forms or views: forms check shape, views call these. A
refusal is a `ValidationError` (keyed by the form field it concerns, or on the whole form) the
view shows as a form error, or `PermissionDenied` (403) when the person may not touch the object
at all. `user` is the person acting; None means a command or the demo seeding.
"""

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import timedelta

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from stores import crypto, permissions
from stores.models import Credential, Environment, Membership, Merchant, PosClient, Store
from stores.roles import Action, Role
from stores.selectors import merchant_list_for_user

POS_KEY_PREFIX = "ecr_"
# How stale `PosClient.last_used_at` may be: it is written at most once per this many seconds.
LAST_USED_RESOLUTION_S = 60


def _hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


# The permission fields of a POS key (issue 15): what `pos_client_create` accepts.
POS_KEY_PERMISSIONS = (
    "can_charge",
    "can_cancel",
    "can_reverse",
    "can_refund",
    "can_close_batch",
    "can_refund_unreferenced",
)


def pos_client_create(
    *, store: Store, name: str, permissions: dict[str, bool] | None = None
) -> tuple[PosClient, str]:
    """Creates a POS key and returns it with the raw key, which is never retrievable again.
    `permissions` sets the key's `can_*` fields (the others keep their defaults)."""
    unknown = set(permissions or {}) - set(POS_KEY_PERMISSIONS)
    if unknown:
        raise ValueError(f"permisos desconocidos: {sorted(unknown)}")
    prefix = POS_KEY_PREFIX + secrets.token_hex(4)
    raw_key = f"{prefix}.{secrets.token_urlsafe(32)}"
    client = PosClient.objects.create(
        store=store,
        name=name,
        prefix=prefix,
        key_hash=_hash_key(raw_key),
        **{field: bool(value) for field, value in (permissions or {}).items()},
    )
    return client, raw_key


def pos_client_set_permissions(*, client: PosClient, permissions: dict[str, bool]) -> PosClient:
    """Changes what an existing key may do (its `can_*` fields); takes effect on its next
    request (the API reads the key on every request)."""
    unknown = set(permissions) - set(POS_KEY_PERMISSIONS)
    if unknown:
        raise ValueError(f"permisos desconocidos: {sorted(unknown)}")
    for field, value in permissions.items():
        setattr(client, field, bool(value))
    client.save(update_fields=list(permissions))
    return client


def pos_client_authenticate(*, raw_key: str) -> PosClient | None:
    """The active client owning this key, or None. Constant-time comparison of the hash."""
    prefix, _, rest = (raw_key or "").partition(".")
    if not prefix.startswith(POS_KEY_PREFIX) or not rest:
        return None
    # One indexed lookup by the unique prefix (get() also drops the model's ordering: no sort).
    try:
        client = PosClient.objects.select_related("store", "store__merchant").get(
            prefix=prefix, revoked_at__isnull=True
        )
    except PosClient.DoesNotExist:
        return None
    if not hmac.compare_digest(client.key_hash, _hash_key(raw_key)):
        return None
    now = timezone.now()
    # Touch last_used_at at most once a minute: one write per request would double API writes.
    # Guarded, so of the requests that arrive together after a quiet minute one writes the row.
    stale = now - timedelta(seconds=LAST_USED_RESOLUTION_S)
    if client.last_used_at is None or client.last_used_at < stale:
        PosClient.objects.filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale), pk=client.pk
        ).update(last_used_at=now)
        client.last_used_at = now
    return client


def pos_client_revoke(*, client: PosClient) -> None:
    PosClient.objects.filter(pk=client.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    client.refresh_from_db(fields=["revoked_at"])


# --- Credentials ----------------------------------------------------------------------------


def _require_credential_change(*, user, credential: Credential) -> None:
    if user is not None and not permissions.credential_change_allowed(
        user=user, credential=credential
    ):
        raise PermissionDenied(
            "Esta credencial es compartida con otros comercios: solo la cambia quien los "
            "administra a todos."
        )


def _require_managed_merchants(*, user, merchants: Iterable[Merchant]) -> None:
    if user is None:
        return
    for merchant in merchants:
        if not permissions.user_manages_merchant(user=user, merchant=merchant):
            raise PermissionDenied("Solo el dueño del comercio configura sus credenciales.")


def _refuse_if_retired(credential: Credential) -> None:
    if credential.is_retired:
        raise ValidationError(
            "Esta credencial está retirada: ya no se puede cambiar.", code="credential_retired"
        )


def credential_create(
    *,
    name: str,
    environment: str,
    base_url: str,
    public_key: str,
    secret_key: str,
    merchants: Iterable[Merchant] = (),
    user=None,
) -> Credential:
    """A credential with its secret encrypted. `user` is the person creating it (who must manage
    every merchant it will serve); None for commands and the demo seeding."""
    merchants = list(merchants)
    _require_managed_merchants(user=user, merchants=merchants)
    credential = Credential(
        name=name,
        environment=Environment(environment),
        base_url=base_url,
        public_key=public_key,
    )
    credential.set_secret(secret_key)
    credential.full_clean()
    with transaction.atomic():
        credential.save()
        credential.merchants.set(merchants)
    return credential


def credential_update(
    *,
    credential: Credential,
    name: str,
    environment: str,
    base_url: str,
    public_key: str,
    merchants: Iterable[Merchant],
    secret_key: str = "",
    user=None,
) -> Credential:
    """Changes a credential's fields and merchants; an empty `secret_key` keeps the stored one.

    The shared-credential rule applies to the credential as it is (the person must manage every
    merchant it serves) and to the merchants it will serve."""
    _refuse_if_retired(credential)
    _require_credential_change(user=user, credential=credential)
    merchants = list(merchants)
    _require_managed_merchants(user=user, merchants=merchants)
    credential.name = name
    credential.environment = Environment(environment)
    credential.base_url = base_url
    credential.public_key = public_key
    credential.full_clean()
    with transaction.atomic():
        credential.save()
        credential.merchants.set(merchants)
        if secret_key:
            credential_set_secret(credential=credential, secret_key=secret_key, user=user)
    return credential


def credential_set_secret(*, credential: Credential, secret_key: str, user=None) -> None:
    """Encrypts and stores a new secret key (the only way a secret is written)."""
    _refuse_if_retired(credential)
    _require_credential_change(user=user, credential=credential)
    if not secret_key:
        raise ValidationError({"secret_key": "Ingresá la clave secreta."}, code="required")
    credential.set_secret(secret_key)
    credential.save(update_fields=["secret_key_encrypted", "updated_at"])


def credential_retire(*, credential: Credential, user=None) -> Credential:
    """Retires a credential: kept for the history of its intents, never chosen again for a new
    charge (see `selectors.credential_for_store`) nor offered on any page. Safe to run twice."""
    _require_credential_change(user=user, credential=credential)
    now = timezone.now()
    Credential.objects.filter(pk=credential.pk, retired_at__isnull=True).update(
        retired_at=now, updated_at=now
    )
    credential.refresh_from_db(fields=["retired_at", "updated_at"])
    return credential


# --- Members --------------------------------------------------------------------------------


def _merchant_for_every_store(*, user) -> Merchant | None:
    """The merchant a role "on every store" is given on: the only one the person manages."""
    merchants = list(
        merchant_list_for_user(user=user, action=Action.MANAGE_SETTINGS)[:2]
        if user is not None
        else []
    )
    return merchants[0] if len(merchants) == 1 else None


# One answer for a username nobody has and for one that belongs to another merchant's people:
# a different answer would let an owner find out which usernames exist (enumeration).
USERNAME_NOT_AVAILABLE = (
    "No hay nadie con ese usuario en tu comercio. Para dar de alta a una persona nueva, elegí un "
    "usuario que no esté en uso e indicá una contraseña inicial."
)


def _username_problems(username: str) -> list:
    """Django's own rules for a new username (characters, length), as form errors."""
    field = get_user_model()._meta.get_field("username")
    try:
        field.clean(username, None)
    except ValidationError as exc:
        return list(exc.error_list)
    return []


def _works_for_merchant(*, person, merchant_id: int) -> bool:
    """Whether `person` already has a role in the merchant (on it or on one of its stores)."""
    return (
        Membership.objects.filter(user=person)
        .filter(Q(merchant_id=merchant_id) | Q(store__merchant_id=merchant_id))
        .exists()
    )


def membership_create(
    *,
    user,
    username: str,
    role: str,
    store: Store | None = None,
    password: str = "",
    first_name: str = "",
) -> Membership:
    """Gives a person a role on one store or, with no store, on every store of the merchant the
    acting `user` manages (only when there is exactly one). An unknown username creates the
    person with `password` (which the project's password validators check, and Django's
    username validators the username); a known one just gets the role, and only when the person
    already works for the same merchant: people of another merchant cannot be attached, and are
    answered exactly as an unknown username without a password is (no enumeration).

    Raises ValidationError keyed by the form's fields (username, password, store) or on the whole
    form; PermissionDenied when `user` does not manage that store or merchant."""
    user_model = get_user_model()
    errors: dict[str, list] = {}
    merchant = None
    if store is None:
        merchant = _merchant_for_every_store(user=user)
        if merchant is None:
            errors.setdefault("store", []).append(
                "Elegí una sucursal: solo un dueño de un único comercio puede dar acceso a todas."
            )
    elif not permissions.user_can(user=user, store=store, action=Action.MANAGE_SETTINGS):
        raise PermissionDenied("No podés dar acceso a esa sucursal.")
    target_merchant_id = store.merchant_id if store is not None else getattr(merchant, "pk", None)
    person = user_model.objects.filter(username=username).first()
    if person is not None and not (
        target_merchant_id is not None
        and _works_for_merchant(person=person, merchant_id=target_merchant_id)
    ):
        errors.setdefault("username", []).append(USERNAME_NOT_AVAILABLE)
    elif person is None:
        username_errors = _username_problems(username)
        if username_errors:
            errors.setdefault("username", []).extend(username_errors)
        elif not password:
            errors.setdefault("username", []).append(USERNAME_NOT_AVAILABLE)
        else:
            try:
                validate_password(password, user=user_model(username=username))
            except ValidationError as exc:
                errors.setdefault("password", []).extend(exc.error_list)
    elif store or merchant:
        existing = Membership.objects.filter(user=person)
        existing = existing.filter(store=store) if store else existing.filter(merchant=merchant)
        if existing.exists():
            errors.setdefault(NON_FIELD_ERRORS, []).append(
                "Esa persona ya tiene un rol ahí; editalo en la lista."
            )
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        if person is None:
            person = user_model.objects.create_user(
                username=username, password=password, first_name=first_name
            )
        return Membership.objects.create(user=person, role=role, store=store, merchant=merchant)


def _require_membership_change(*, user, membership: Membership, own_error: str) -> None:
    if not permissions.user_manages_membership(user=user, membership=membership):
        raise PermissionDenied("No podés cambiar ese rol.")
    if permissions.is_own_membership(user=user, membership=membership):
        raise ValidationError(own_error, code="own_membership")


def membership_set_role(*, membership: Membership, role: str, user) -> Membership:
    """Changes someone's role. Nobody changes his own (see `permissions.is_own_membership`)."""
    _require_membership_change(
        user=user, membership=membership, own_error="No podés cambiar tu propio rol."
    )
    membership.role = Role(role)
    membership.save(update_fields=["role"])
    return membership


def membership_delete(*, membership: Membership, user) -> None:
    """Takes a role away. Nobody removes his own."""
    _require_membership_change(
        user=user, membership=membership, own_error="No podés quitarte el acceso a vos mismo."
    )
    membership.delete()


# --- Secrets --------------------------------------------------------------------------------


def secrets_rotate_all() -> dict[str, int]:
    """Re-encrypts every registered secret (credentials, webhook secrets, ...) with the newest
    key. Returns how many rows of each model changed. Raises SecretUnreadable before changing a
    row it cannot read; rows already done stay done (rotation is idempotent)."""
    counts: dict[str, int] = {}
    for model_label, field in crypto.ENCRYPTED_FIELDS:
        model = apps.get_model(model_label)
        counts[model_label] = 0
        for pk in model.objects.exclude(**{field: ""}).values_list("pk", flat=True):
            with transaction.atomic():
                row = model.objects.select_for_update().get(pk=pk)
                setattr(row, field, crypto.rotate(getattr(row, field)))
                row.save(update_fields=[field])
                counts[model_label] += 1
    return counts
