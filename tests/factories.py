"""Plain factory functions with unique values from counters. Every keyword overrides a default."""

import itertools

from django.contrib.auth import get_user_model

from stores.models import Credential, Environment, Membership, Merchant, PosClient, Store, Terminal
from stores.services import pos_client_create
from stores.validators import cuit_check_digit

DEFAULT_PASSWORD = "clave-de-prueba-123"
DEFAULT_SECRET_KEY = "secreto-de-prueba-no-mostrar"

_seq = itertools.count(1)


def _next() -> int:
    return next(_seq)


def valid_cuit(serial: int | None = None) -> str:
    """A CUIT with a valid check digit (prefix 30, a company), distinct for each serial."""
    serial = _next() if serial is None else serial
    while True:
        first_ten = f"30{70000000 + serial:08d}"
        digit = cuit_check_digit(first_ten)
        if digit is not None:
            return f"{first_ten[:2]}-{first_ten[2:]}-{digit}"
        serial += 100_000  # this body has no valid check digit; try a far-away one


def make_user(username: str | None = None, password: str = DEFAULT_PASSWORD, **kw):
    username = username or f"usuario{_next()}"
    user = get_user_model().objects.create_user(username=username, password=password, **kw)
    return user


def make_merchant(**kw) -> Merchant:
    n = _next()
    kw.setdefault("cuit", valid_cuit(n))
    kw.setdefault("legal_name", f"Comercio {n} S.A.")
    merchant = Merchant(**kw)
    merchant.full_clean()
    merchant.save()
    return merchant


def make_store(merchant: Merchant | None = None, **kw) -> Store:
    n = _next()
    kw.setdefault("name", f"Sucursal {n}")
    kw.setdefault("code", f"suc-{n}")
    kw.setdefault("environment", Environment.HOMOLOGATION)
    return Store.objects.create(merchant=merchant or make_merchant(), **kw)


def make_terminal(store: Store | None = None, **kw) -> Terminal:
    n = _next()
    kw.setdefault("terminal_id", f"{50_000_000 + n:08d}")
    kw.setdefault("label", f"Caja {n}")
    terminal = Terminal(store=store or make_store(), **kw)
    terminal.full_clean()
    terminal.save()
    return terminal


def make_credential(
    merchants: list[Merchant] | tuple[Merchant, ...] = (),
    secret_key: str = DEFAULT_SECRET_KEY,
    **kw,
) -> Credential:
    n = _next()
    kw.setdefault("name", f"Credencial {n}")
    kw.setdefault("environment", Environment.HOMOLOGATION)
    kw.setdefault("base_url", "https://simulator.invalid")
    kw.setdefault("public_key", f"public-key-{n}")
    credential = Credential(**kw)
    credential.set_secret(secret_key)
    credential.save()
    credential.merchants.set(merchants)
    return credential


def make_membership(user, role: str, *, store: Store | None = None, merchant=None) -> Membership:
    """A role on one store, or (with `merchant=`) on every store of a merchant."""
    return Membership.objects.create(user=user, role=role, store=store, merchant=merchant)


def make_pos_client(store: Store | None = None, name: str | None = None) -> tuple[PosClient, str]:
    """A POS key through the real service; returns the client and its raw key."""
    return pos_client_create(store=store or make_store(), name=name or f"POS {_next()}")
