"""Fleet import (issue 14 item 6): stores, terminals, members and POS keys of a merchant from
one CSV or XLSX, with a dry run, row-level errors and idempotent re-import (a store by its code,
a terminal by its number, a member by user and store, a POS key by store and name).

One sheet, one row per thing, the kind in `tipo` (README "Alta de flota" lists the columns):

    tipo,sucursal,nombre,direccion,cuit,credencial,terminal,uso,modelo,serie,usuario,rol
    sucursal,centro,Centro,Av. Corrientes 1234,30-71234567-1,Homologación,,,,,,
    terminal,centro,Caja 1,,,,38011127,prueba,Paystore P2,SN1,,
    miembro,centro,Ana Pérez,,,,,,,,ana,cajero
    clave_pos,centro,POS caja 1,,,,,,,,,

`credencial` (optional) names an active credential of the merchant: the store is switched to it
under the usual rules (tested, pilot gate), which makes the import a bulk environment switch.

The import runs in one transaction: a dry run, or any row error, rolls everything back, so a
file is applied whole or not at all. The rules are the settings rules: the importing person must
manage the merchant; a production terminal respects the pilot gate (`stores.golive`); a member's
role is one of the roles. New people get no usable password (they set one with "olvidé mi
contraseña" or an owner gives them one); new POS keys are shown once, in the result.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from stores import permissions
from stores.models import (
    Membership,
    Merchant,
    PosClient,
    Store,
    Terminal,
    TerminalPurpose,
)
from stores.roles import Role

KINDS = ("sucursal", "terminal", "miembro", "clave_pos")
PURPOSES = {
    "prueba": TerminalPurpose.TEST,
    "test": TerminalPurpose.TEST,
    "produccion": TerminalPurpose.PRODUCTION,
    "production": TerminalPurpose.PRODUCTION,
}
ROLES = {
    "dueno": Role.OWNER,
    "owner": Role.OWNER,
    "encargado": Role.MANAGER,
    "manager": Role.MANAGER,
    "cajero": Role.CASHIER,
    "cashier": Role.CASHIER,
    "finanzas": Role.FINANCE,
    "finance": Role.FINANCE,
}


def _plain(text) -> str:
    text = unicodedata.normalize("NFKD", str(text or "")).encode("ascii", "ignore").decode()
    return text.strip().lower()


def read_rows(name: str, content: bytes) -> list[dict[str, str]]:
    """The file's rows keyed by normalised header (`Dirección` -> `direccion`)."""
    if name.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        sheet = load_workbook(io.BytesIO(content), read_only=True, data_only=True).active
        values = [list(row) for row in sheet.iter_rows(values_only=True)]
    else:
        text = content.decode("utf-8-sig")
        first = text.splitlines()[0] if text else ""
        delimiter = ";" if first.count(";") >= first.count(",") else ","
        values = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    if not values:
        return []
    header = [_plain(h).replace(" ", "_") for h in values[0]]
    rows = []
    for row in values[1:]:
        if not any(v not in (None, "") for v in row):
            continue
        rows.append(
            {h: str(v if v is not None else "").strip() for h, v in zip(header, row, strict=False)}
        )
    return rows


@dataclass
class RowResult:
    line: int
    kind: str
    key: str
    action: str = ""  # "alta", "cambio", "sin cambios"
    errors: list[str] = field(default_factory=list)


@dataclass
class ImportResult:
    rows: list[RowResult] = field(default_factory=list)
    new_keys: list[tuple[str, str, str]] = field(default_factory=list)  # store, name, raw key
    dry_run: bool = True
    applied: bool = False

    @property
    def errors(self) -> list[RowResult]:
        return [row for row in self.rows if row.errors]

    def count(self, kind: str, action: str) -> int:
        return sum(1 for r in self.rows if r.kind == kind and r.action == action)


class _Rollback(Exception):
    pass


def fleet_import(*, rows: list[dict[str, str]], user=None, dry_run: bool = True) -> ImportResult:
    """Applies the rows (see the module docstring); with `dry_run`, or when any row fails,
    nothing stays written and the result says what would have happened."""
    result = ImportResult(dry_run=dry_run)
    try:
        with transaction.atomic():
            for line, row in enumerate(rows, start=2):
                kind = _plain(row.get("tipo"))
                outcome = RowResult(line=line, kind=kind, key=row.get("sucursal", ""))
                result.rows.append(outcome)
                try:
                    with transaction.atomic():
                        _apply(kind, row, outcome, result, user)
                except ValidationError as exc:
                    outcome.errors.extend(exc.messages)
                except PermissionDenied as exc:
                    outcome.errors.append(str(exc))
            if dry_run or result.errors:
                raise _Rollback
    except _Rollback:
        result.new_keys = []  # rolled back: those keys do not exist
        return result
    result.applied = True
    return result


def _store(code: str, user) -> Store:
    store = Store.objects.select_related("merchant").filter(code=code).first()
    if store is None:
        raise ValidationError(f"No hay una sucursal «{code}» (ni en este archivo, más arriba).")
    if user is not None and not permissions.user_manages_merchant(
        user=user, merchant=store.merchant
    ):
        raise PermissionDenied(f"No administrás la sucursal «{code}».")
    return store


def _apply(kind: str, row: dict[str, str], outcome: RowResult, result: ImportResult, user):
    code = row.get("sucursal", "")
    if kind == "sucursal":
        _apply_store(code, row, outcome, user)
    elif kind == "terminal":
        _apply_terminal(_store(code, user), row, outcome)
    elif kind == "miembro":
        _apply_member(_store(code, user), row, outcome)
    elif kind == "clave_pos":
        _apply_pos_key(_store(code, user), row, outcome, result)
    else:
        raise ValidationError(f"«tipo» debe ser uno de: {', '.join(KINDS)}.")


def _apply_store(code: str, row: dict[str, str], outcome: RowResult, user) -> None:
    from stores.validators import normalize_cuit

    try:
        merchant = Merchant.objects.get(cuit=normalize_cuit(row.get("cuit", "")))
    except (Merchant.DoesNotExist, ValidationError) as exc:
        raise ValidationError("«cuit» no es el de un comercio dado de alta.") from exc
    if user is not None and not permissions.user_manages_merchant(user=user, merchant=merchant):
        raise PermissionDenied("No administrás ese comercio.")
    store = Store.objects.filter(code=code).first()
    if store is not None and store.merchant_id != merchant.pk:
        raise ValidationError(f"La sucursal «{code}» es de otro comercio.")
    fields = {"name": row.get("nombre", ""), "address": row.get("direccion", "")}
    if store is None:
        store = Store(merchant=merchant, code=code, **fields)
        outcome.action = "alta"
    else:
        changed = any(getattr(store, k) != v for k, v in fields.items())
        for key, value in fields.items():
            setattr(store, key, value)
        outcome.action = "cambio" if changed else "sin cambios"
    store.full_clean()
    store.save()
    credential_name = row.get("credencial", "")
    if credential_name:
        from stores.selectors import credential_choices_for_store
        from stores.services import store_set_credential

        credential = credential_choices_for_store(store=store).filter(name=credential_name).first()
        if credential is None:
            raise ValidationError(f"No hay una credencial activa «{credential_name}» del comercio.")
        if store.credential_id != credential.pk:
            store_set_credential(store=store, credential=credential, user=user)
            outcome.action = outcome.action if outcome.action == "alta" else "cambio"


def _apply_terminal(store: Store, row: dict[str, str], outcome: RowResult) -> None:
    from stores.services import terminal_check_purpose

    number = row.get("terminal", "")
    outcome.key = number
    purpose = PURPOSES.get(_plain(row.get("uso")) or "prueba")
    if purpose is None:
        raise ValidationError("«uso» debe ser «prueba» o «produccion».")
    terminal = Terminal.objects.filter(terminal_id=number).first()
    if terminal is not None and terminal.store_id != store.pk:
        raise ValidationError(
            f"La terminal {number} ya está en la sucursal «{terminal.store.code}»; movela a mano."
        )
    fields = {
        "label": row.get("nombre", ""),
        "model": row.get("modelo", ""),
        "serial": row.get("serie", ""),
        "purpose": purpose,
    }
    if terminal is None:
        terminal = Terminal(store=store, terminal_id=number, **fields)
        outcome.action = "alta"
    else:
        changed = any(getattr(terminal, k) != v for k, v in fields.items())
        for key, value in fields.items():
            setattr(terminal, key, value)
        outcome.action = "cambio" if changed else "sin cambios"
    terminal.full_clean()
    terminal_check_purpose(terminal=terminal)
    terminal.save()


def _apply_member(store: Store, row: dict[str, str], outcome: RowResult) -> None:
    username = row.get("usuario", "")
    outcome.key = username
    role = ROLES.get(_plain(row.get("rol")))
    if not username or role is None:
        raise ValidationError("Un miembro necesita «usuario» y un «rol» (dueño, encargado, …).")
    user_model = get_user_model()
    person = user_model.objects.filter(username=username).first()
    if person is None:
        person = user_model(username=username, first_name=row.get("nombre", ""))
        person.full_clean(exclude=["password"])
        person.set_unusable_password()
        person.save()
    elif not Membership.objects.filter(user=person, store__merchant=store.merchant).exists() and (
        not Membership.objects.filter(user=person, merchant=store.merchant).exists()
    ):
        # As in the dashboard: people of another merchant cannot be attached.
        raise ValidationError(f"El usuario «{username}» no está disponible.")
    membership, created = Membership.objects.get_or_create(
        user=person, store=store, defaults={"role": role}
    )
    if created:
        outcome.action = "alta"
    elif membership.role != role:
        membership.role = role
        membership.save(update_fields=["role"])
        outcome.action = "cambio"
    else:
        outcome.action = "sin cambios"


def _apply_pos_key(
    store: Store, row: dict[str, str], outcome: RowResult, result: ImportResult
) -> None:
    from stores.services import pos_client_create

    name = row.get("nombre", "")
    outcome.key = name
    if not name:
        raise ValidationError("Una clave de POS necesita «nombre».")
    if PosClient.objects.filter(store=store, name=name, revoked_at__isnull=True).exists():
        outcome.action = "sin cambios"
        return
    _client, raw_key = pos_client_create(store=store, name=name)
    result.new_keys.append((store.code, name, raw_key))
    outcome.action = "alta"
