"""What every service shares: who is acting, whether their role allows it, which credential."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stores.models import Credential, Store
from stores.permissions import user_can
from stores.roles import Action
from stores.selectors import credential_for_store
from transactions.errors import Code, IntentRuleError
from transactions.events import SYSTEM, Actor

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from stores.models import PosClient

__all__ = ["Action", "actor_for", "credential_required", "require_role"]


def actor_for(user: User | None, pos_client: PosClient | None) -> Actor:
    if pos_client is not None:
        return Actor(pos_client=pos_client, label=f"POS {pos_client.name}")
    if user is not None:
        return Actor(user=user, label=user.get_username())
    return SYSTEM


def require_role(user: User | None, store: Store, action: str) -> None:
    """People must hold a role that allows the action; POS keys are checked by the API."""
    if user is not None and not user_can(user=user, store=store, action=action):
        raise IntentRuleError(Code.FORBIDDEN, "Su rol no permite esta operación.")


def credential_required(store: Store) -> Credential:
    credential = credential_for_store(store=store)
    if credential is None:
        raise IntentRuleError(
            Code.CREDENTIAL_MISSING,
            "La sucursal no tiene credenciales de Prisma para su ambiente.",
        )
    return credential
