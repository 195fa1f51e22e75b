"""Encryption at rest for provider secrets (Fernet, with key rotation through MultiFernet).

`ECR_ENCRYPTION_KEYS` lists keys newest first: new secrets are encrypted with the first, old ones
still decrypt with any, and `rotate_encryption_keys` re-encrypts everything with the newest.
"""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SecretUnreadable(Exception):
    """The stored secret does not decrypt with any configured key (a key was dropped too early)."""


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        # Never echo the key itself.
        raise ImproperlyConfigured(
            "ECR_ENCRYPTION_KEYS: every key must be 32 url-safe base64-encoded bytes"
        ) from exc


def _current() -> MultiFernet:
    return _fernet(tuple(settings.ECR_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return _current().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable(
            "el secreto no se puede descifrar con las claves configuradas"
        ) from exc


def rotate(token: str) -> str:
    """Re-encrypts a token with the newest key (a no-op in meaning, a change in bytes)."""
    try:
        return _current().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable(
            "el secreto no se puede descifrar con las claves configuradas"
        ) from exc


# Every model field holding a secret encrypted with these keys, as ("app_label.Model", "field").
# Apps register theirs in AppConfig.ready() so that rotation re-encrypts all of them without the
# stores app importing the others.
ENCRYPTED_FIELDS: list[tuple[str, str]] = []


def register_encrypted_field(model_label: str, field: str) -> None:
    if (model_label, field) not in ENCRYPTED_FIELDS:
        ENCRYPTED_FIELDS.append((model_label, field))
