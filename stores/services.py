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

from stores import audit, crypto, golive, permissions
from stores.models import (
    Credential,
    Environment,
    Integrator,
    Membership,
    Merchant,
    PosClient,
    Store,
    Terminal,
    TerminalPurpose,
)
from stores.roles import Action, Role
from stores.selectors import merchant_list_for_user, pos_client_active_by_prefix

POS_KEY_PREFIX = "ecr_"
# "Leave this field as it is" for optional keyword arguments of updates.
KEEP = object()
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
    # One indexed lookup by the unique prefix, with the key's store and merchant.
    client = pos_client_active_by_prefix(prefix=prefix)
    if client is None:
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
    revoked = PosClient.objects.filter(pk=client.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    client.refresh_from_db(fields=["revoked_at"])
    if revoked:
        audit.record(client, {"revoked_at": (None, client.revoked_at)})


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
    integrator: Integrator | None | object = None,
    ecr_provider: str = "",
    ecr_name: str = "",
    ecr_version: str = "",
) -> Credential:
    """A credential with its secret encrypted. `user` is the person creating it (who must manage
    every merchant it will serve, or be one of the owning `integrator`'s people); None for
    commands and the demo seeding. `ecr_*` are what the registration in Prisma's API Portal
    declared (empty: the portal's own name and version)."""
    merchants = list(merchants)
    if integrator is KEEP:
        integrator = None
    if (
        isinstance(integrator, Integrator)
        and user is not None
        and not permissions.integrator_member(user=user, integrator=integrator)
    ):
        raise PermissionDenied("Solo la gente del integrador registra sus credenciales.")
    _require_managed_merchants(user=user, merchants=merchants)
    credential = Credential(
        name=name,
        environment=Environment(environment),
        base_url=base_url,
        public_key=public_key,
        integrator=integrator,  # type: ignore[misc]
        ecr_version=ecr_version,
    )
    if ecr_provider:
        credential.ecr_provider = ecr_provider
    if ecr_name:
        credential.ecr_name = ecr_name
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
    integrator: Integrator | None | object = KEEP,
    ecr_provider: str = "",
    ecr_name: str = "",
    ecr_version: str | object = KEEP,
) -> Credential:
    """Changes a credential's fields and merchants; an empty `secret_key` keeps the stored one,
    and so do `integrator` and `ecr_version` left as KEEP (empty `ecr_provider`/`ecr_name` too).

    The shared-credential rule applies to the credential as it is (the person must manage every
    merchant it serves) and to the merchants it will serve."""
    _refuse_if_retired(credential)
    _require_credential_change(user=user, credential=credential)
    merchants = list(merchants)
    _require_managed_merchants(user=user, merchants=merchants)
    _refuse_pulling_the_rug(credential=credential, environment=environment, merchants=merchants)
    connection_changed = (
        credential.environment != environment
        or credential.base_url != base_url.rstrip("/")
        or credential.public_key != public_key
        or bool(secret_key)
    )
    if (
        isinstance(integrator, Integrator)
        and integrator.pk != credential.integrator_id
        and user is not None
        and not permissions.integrator_member(user=user, integrator=integrator)
    ):
        raise PermissionDenied("Solo la gente del integrador registra sus credenciales.")
    credential.name = name
    credential.environment = Environment(environment)
    credential.base_url = base_url
    credential.public_key = public_key
    if integrator is not KEEP:
        credential.integrator = integrator  # type: ignore[assignment]
    credential.ecr_provider = ecr_provider or credential.ecr_provider
    credential.ecr_name = ecr_name or credential.ecr_name
    if ecr_version is not KEEP:
        credential.ecr_version = str(ecr_version)
    credential.full_clean()
    if connection_changed:
        # A test passed with the old URL or keys says nothing about the new ones.
        credential.last_tested_ok_at = None
    with transaction.atomic():
        credential.save()
        credential.merchants.set(merchants)
        if secret_key:
            credential_set_secret(credential=credential, secret_key=secret_key, user=user)
    return credential


def _refuse_pulling_the_rug(
    *, credential: Credential, environment: str, merchants: list[Merchant]
) -> None:
    """A credential stores charge with keeps its environment and those stores' merchants: either
    change would silently move or break their charges. Switch the stores first."""
    in_use = Store.objects.filter(credential=credential)
    if environment != credential.environment and in_use.exists():
        raise ValidationError(
            {
                "environment": "Hay sucursales que cobran con esta credencial: para otro ambiente "
                "creá una credencial nueva y cambiales la credencial."
            },
            code="credential_in_use",
        )
    kept = {merchant.pk for merchant in merchants}
    orphaned = in_use.exclude(merchant__in=kept).order_by("name").first()
    if orphaned is not None:
        raise ValidationError(
            {
                "merchants": f"La sucursal «{orphaned.name}» cobra con esta credencial: cambiale "
                "la credencial antes de quitar su comercio."
            },
            code="credential_in_use",
        )


def credential_record_test_ok(*, credential: Credential) -> None:
    """Notes a successful "Probar conexión". Written with update(), not save(): `updated_at`
    keys the cached gateway and the token, which a test does not invalidate."""
    now = timezone.now()
    Credential.objects.filter(pk=credential.pk).update(last_tested_ok_at=now)
    credential.last_tested_ok_at = now


def store_set_credential(*, store: Store, credential: Credential, user=None) -> Store:
    """Makes `credential` the one the store charges with (and its environment the store's).

    Allowed only for an active credential of the store's merchant that passed "Probar conexión"
    since its URL or keys last changed; the dashboard asks for confirmation before calling this.
    """
    if user is not None and not permissions.user_can(
        user=user, store=store, action=Action.MANAGE_SETTINGS
    ):
        raise PermissionDenied("Solo el dueño del comercio cambia la credencial de una sucursal.")
    if credential.is_retired:
        raise ValidationError(
            {"credential": "Esa credencial está retirada: elegí otra."}, code="credential_retired"
        )
    if not credential.merchants.filter(pk=store.merchant_id).exists():
        raise ValidationError(
            {"credential": "Esa credencial no es de este comercio."}, code="credential_foreign"
        )
    if credential.last_tested_ok_at is None:
        raise ValidationError(
            {
                "credential": "Probá la conexión de esa credencial (Configuración → Probar "
                "conexión) antes de usarla en una sucursal."
            },
            code="credential_untested",
        )
    if credential.environment == Environment.PRODUCTION:
        refusal = golive.store_to_production_problem(store=store)
        if refusal is not None:
            code = "homologation_pending" if refusal.kind == "homologation" else "pilot_limit"
            raise ValidationError({"credential": ValidationError(refusal.message, code=code)})
    before = Store.objects.select_related("credential").get(pk=store.pk)
    with transaction.atomic():
        Store.objects.filter(pk=store.pk).update(
            credential=credential, environment=credential.environment
        )
        if credential.environment == Environment.PRODUCTION:
            _take_pilot_store(store, user=user)
        audit.record(
            store,
            {
                "credential": (before.credential or "—", credential),
                "environment": (before.environment, credential.environment),
            },
            user=user,
        )
    store.credential = credential
    store.environment = credential.environment
    return store


def _take_pilot_store(store: Store, *, user=None) -> None:
    """The merchant's first store in production (while the pilot is open) is its pilot store;
    a new one takes the place only when the former pilot store left production."""
    merchant = Merchant.objects.select_for_update().get(pk=store.merchant_id)
    if merchant.pilot_passed_at is not None or merchant.pilot_store_id == store.pk:
        return
    former_in_production = (
        merchant.pilot_store_id is not None
        and Store.objects.filter(
            pk=merchant.pilot_store_id, environment=Environment.PRODUCTION
        ).exists()
    )
    if not former_in_production:
        Merchant.objects.filter(pk=merchant.pk).update(pilot_store=store)
        audit.record(merchant, {"pilot_store": (merchant.pilot_store or "—", store)}, user=user)


def store_switch_environment(*, stores: Iterable[Store], credential: Credential, user=None) -> int:
    """The bulk environment switch: every store to `credential` (and its environment), all or
    nothing, each through `store_set_credential`'s rules (tested credential, pilot gate).
    Returns how many stores changed. A refusal names the store it stopped at."""
    changed = 0
    with transaction.atomic():
        for store in stores:
            if store.credential_id == credential.pk:
                continue
            try:
                store_set_credential(store=store, credential=credential, user=user)
            except ValidationError as exc:
                raise ValidationError(
                    f"«{store.name}»: {' '.join(exc.messages)} No se cambió ninguna sucursal.",
                    code=getattr(exc, "code", None) or "store_switch_refused",
                ) from exc
            changed += 1
    return changed


def terminal_check_purpose(*, terminal: Terminal) -> None:
    """The pilot gate for settings: a terminal becomes a production one of the pilot store only
    while the pilot has room (two). Raises ValidationError on the `purpose` field."""
    if terminal.purpose != TerminalPurpose.PRODUCTION or terminal.store_id is None:
        return
    if terminal.pk is not None and (
        Terminal.objects.filter(pk=terminal.pk, purpose=TerminalPurpose.PRODUCTION).exists()
    ):
        return  # already one: nothing changes
    refusal = golive.production_terminal_problem(terminal=terminal)
    if refusal is not None:
        raise ValidationError({"purpose": refusal.message}, code="pilot_limit")


def merchant_pilot_pass(*, merchant: Merchant, user=None) -> Merchant:
    """An owner marks the production pilot passed: the roll-out opens (any store to
    production, any number of production terminals). Needs a pilot store; safe to run twice.
    Who and when stay on the merchant (and in its history)."""
    if user is not None and not permissions.user_manages_merchant(user=user, merchant=merchant):
        raise PermissionDenied("Solo el dueño del comercio aprueba el piloto.")
    merchant.refresh_from_db(fields=["pilot_store", "pilot_passed_at"])
    if merchant.pilot_store_id is None:
        raise ValidationError(
            "Todavía no hay sucursal piloto: pasá una sucursal a producción y probá sus "
            "terminales antes de aprobar el piloto.",
            code="pilot_missing",
        )
    passed = Merchant.objects.filter(pk=merchant.pk, pilot_passed_at__isnull=True).update(
        pilot_passed_at=timezone.now(), pilot_passed_by=user if getattr(user, "pk", None) else None
    )
    merchant.refresh_from_db(fields=["pilot_passed_at", "pilot_passed_by"])
    if passed:
        audit.record(merchant, {"pilot_passed_at": (None, merchant.pilot_passed_at)}, user=user)
    return merchant


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
    retired = Credential.objects.filter(pk=credential.pk, retired_at__isnull=True).update(
        retired_at=now, updated_at=now
    )
    credential.refresh_from_db(fields=["retired_at", "updated_at"])
    if retired:
        audit.record(credential, {"retired_at": (None, credential.retired_at)}, user=user)
    return credential


def credential_mark_homologated(*, credential: Credential, user=None) -> Credential:
    """Records that Prisma approved the homologation of this credential: every merchant it serves
    (a preintegrada's new clients too) is homologated from now on. Safe to run twice."""
    _refuse_if_retired(credential)
    _require_credential_change(user=user, credential=credential)
    if credential.environment != Environment.HOMOLOGATION:
        raise ValidationError(
            "Solo una credencial de homologación se aprueba en homologación.",
            code="credential_not_homologation",
        )
    approved = Credential.objects.filter(
        pk=credential.pk, homologation_approved_at__isnull=True
    ).update(
        homologation_approved_at=timezone.now(),
        homologation_approved_by=user if getattr(user, "pk", None) else None,
    )
    credential.refresh_from_db(fields=["homologation_approved_at", "homologation_approved_by"])
    if approved:
        audit.record(
            credential,
            {"homologation_approved_at": (None, credential.homologation_approved_at)},
            user=user,
        )
    return credential


# --- Integrators and their merchants --------------------------------------------------------


def integrator_register(*, cuit: str, legal_name: str, members: Iterable = ()) -> Integrator:
    """An integrator as registered in Prisma's API Portal; `members` are its people. Idempotent
    by CUIT (a second run updates the razón social and adds the people)."""
    integrator = Integrator(cuit=cuit, legal_name=legal_name)
    integrator.full_clean(validate_unique=False)
    with transaction.atomic():
        integrator, _ = Integrator.objects.update_or_create(
            cuit=integrator.cuit, defaults={"legal_name": legal_name}
        )
        integrator.members.add(*members)
    return integrator


def merchant_create(
    *,
    user,
    integrator: Integrator,
    cuit: str,
    legal_name: str,
    sandbox_only: bool = False,
    credentials: Iterable[Credential] = (),
) -> Merchant:
    """A merchant onboarded by one of the integrator's people, who becomes its owner (every
    store), sharing the integrator's `credentials` with it ("preintegradas": a credential already
    homologated needs no new homologation). Raises ValidationError on the form's fields."""
    if user is not None and not permissions.integrator_member(user=user, integrator=integrator):
        raise PermissionDenied("Solo la gente del integrador da de alta sus comercios.")
    credentials = list(credentials)
    for credential in credentials:
        if credential.integrator_id != integrator.pk or credential.is_retired:
            raise ValidationError(
                {"credentials": "Elegí credenciales activas del integrador."},
                code="credential_foreign",
            )
    merchant = Merchant(
        cuit=cuit, legal_name=legal_name, sandbox_only=sandbox_only, integrator=integrator
    )
    merchant.full_clean()
    with transaction.atomic():
        merchant.save()
        if user is not None:
            Membership.objects.create(user=user, merchant=merchant, role=Role.OWNER)
        for credential in credentials:
            credential.merchants.add(merchant)
    return merchant


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
