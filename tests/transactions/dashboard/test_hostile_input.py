"""Hostile input to the dashboard gets a Spanish error, never a 500, and changes nothing."""

import pytest

from tests.factories import make_intent
from transactions.errors import IntentRuleError
from transactions.models import IntentEvent
from transactions.rules import clean_text
from transactions.states import State

pytestmark = pytest.mark.django_db


def test_a_nul_byte_in_the_reviewed_note_is_refused_and_the_flag_stays(
    client_for, manager_a, store_a, terminal_a
):
    intent = make_intent(
        store_a,
        terminal=terminal_a,
        state=State.APPROVED,
        needs_attention=True,
        attention_reason="Estado desconocido",
    )
    events = IntentEvent.objects.filter(intent=intent).count()
    response = client_for(manager_a).post(
        f"/intenciones/{intent.public_id}/revisada/", {"note": "ok\x00"}, follow=True
    )
    assert response.status_code == 200
    assert "No se marcó como revisada" in response.content.decode()
    intent.refresh_from_db()
    assert intent.needs_attention, "nothing changed"
    assert IntentEvent.objects.filter(intent=intent).count() == events


@pytest.mark.parametrize("date_to", ["9999-12-31", "9999-12-30"])
def test_a_date_at_the_end_of_time_lists_instead_of_crashing(client_for, owner, store_a, date_to):
    client = client_for(owner)
    assert client.get("/intenciones/", {"date_to": date_to}).status_code == 200
    assert client.get("/intenciones/exportar.csv", {"date_to": date_to}).status_code == 200


@pytest.mark.parametrize(
    "text",
    ["a\x00b", "a\x7fb", "a\x85b", "a\x9bb", "PEDIDO\u202e21", "x\u2066y"],
    ids=["nul", "del", "c1-nel", "c1-csi", "bidi-override", "bidi-isolate"],
)
def test_control_and_bidi_characters_are_refused_in_texts(text):
    with pytest.raises(IntentRuleError) as refusal:
        clean_text(text, field="reference", max_length=64)
    assert refusal.value.code == "text_invalid"


def test_ordinary_spanish_text_passes():
    assert clean_text("  Ñandú 12 – café  ", field="reference", max_length=64) == "Ñandú 12 – café"
