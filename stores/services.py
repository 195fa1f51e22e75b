"""Writes of the stores app: POS keys and credential secrets."""

import hashlib
import hmac
import secrets

from django.apps import apps
from django.db import transaction
from django.utils import timezone

from stores import crypto
from stores.models import Credential, Environment, Merchant, PosClient, Store

POS_KEY_PREFIX = "ecr_"


def _hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def pos_client_create(*, store: Store, name: str) -> tuple[PosClient, str]:
    """Creates a POS key and returns it with the raw key, which is never retrievable again."""
    prefix = POS_KEY_PREFIX + secrets.token_hex(4)
    raw_key = f"{prefix}.{secrets.token_urlsafe(32)}"
    client = PosClient.objects.create(
        store=store, name=name, prefix=prefix, key_hash=_hash_key(raw_key)
    )
    return client, raw_key


def pos_client_authenticate(*, raw_key: str) -> PosClient | None:
    """The active client owning this key, or None. Constant-time comparison of the hash."""
    prefix, _, rest = (raw_key or "").partition(".")
    if not prefix.startswith(POS_KEY_PREFIX) or not rest:
        return None
    client = (
        PosClient.objects.select_related("store", "store__merchant")
        .filter(prefix=prefix, revoked_at__isnull=True)
        .first()
    )
    if client is None or not hmac.compare_digest(client.key_hash, _hash_key(raw_key)):
        return None
    now = timezone.now()
    # Touch last_used_at at most once a minute: one write per request would double API writes.
    if client.last_used_at is None or (now - client.last_used_at).total_seconds() > 60:
        PosClient.objects.filter(pk=client.pk).update(last_used_at=now)
        client.last_used_at = now
    return client


def pos_client_revoke(*, client: PosClient) -> None:
    PosClient.objects.filter(pk=client.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    client.refresh_from_db(fields=["revoked_at"])


def credential_create(
    *,
    name: str,
    environment: str,
    base_url: str,
    public_key: str,
    secret_key: str,
    merchants: list[Merchant] | tuple[Merchant, ...] = (),
) -> Credential:
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


def credential_set_secret(*, credential: Credential, secret_key: str) -> None:
    credential.set_secret(secret_key)
    credential.save(update_fields=["secret_key_encrypted", "updated_at"])


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
