"""Who acts on an intent, and the events that change no state: notes and attention flags.

The lowest layer of the lifecycle: transitions, polling, the resolver and reconciliation all
write these, so this module imports nothing of theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from ecrportal.compiled_insert import CompiledInsert
from transactions.models import Intent, IntentEvent

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from stores.models import PosClient


@dataclass(frozen=True)
class Actor:
    """Who caused a change: a person, a POS client, or the system (label)."""

    user: User | None = None
    pos_client: PosClient | None = None
    label: str = ""

    def event_fields(self) -> dict:
        return {
            "actor_user": self.user if getattr(self.user, "is_authenticated", False) else None,
            "actor_pos": self.pos_client,
            "actor_label": self.label,
        }


SYSTEM = Actor(label="sistema")
SWEEPER = Actor(label="sweeper")

# Every state change writes one (with the intent's guarded UPDATE): compiled once per connection.
_EVENT_INSERT = CompiledInsert(IntentEvent)


def event_write(**fields) -> IntentEvent:
    """Writes one event row (`IntentEvent(**fields)`) and returns it."""
    return _EVENT_INSERT.save(IntentEvent(**fields))


def intent_note(intent: Intent, *, type: str, message: str, actor: Actor = SYSTEM, raw=None):
    """An event without a state change (attention flags, refused cancellations, notes)."""
    event_write(
        intent=intent,
        type=type,
        from_state=intent.state,
        to_state=intent.state,
        provider_status=intent.provider_status,
        message=message,
        raw=raw,
        **actor.event_fields(),
    )


def intent_flag(intent: Intent, *, reason: str, actor: Actor = SYSTEM) -> None:
    """Raises an intent to a person (once per reason)."""
    if intent.needs_attention and intent.attention_reason == reason:
        return
    now = timezone.now()
    with transaction.atomic():
        Intent.objects.filter(pk=intent.pk).update(
            needs_attention=True, attention_reason=reason[:200], updated_at=now
        )
        intent_note(intent, type=IntentEvent.Type.ATTENTION, message=reason, actor=actor)
    # In memory too: the POS API answers a create from this very object.
    intent.needs_attention = True
    intent.attention_reason = reason[:200]
    intent.updated_at = now
