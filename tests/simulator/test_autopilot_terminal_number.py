"""The autopilot URL takes the terminal's 8-digit number; a portal UUID gets a 404 that says so
(issue 11, item 26)."""

import uuid

import pytest

from tests.simulator.support import T1

pytestmark = pytest.mark.django_db


def test_the_autopilot_takes_the_terminal_number(control):
    response = control.put(f"terminals/{T1}/autopilot", {"enabled": True})
    assert response.status_code == 200, response.content
    assert response.json()["enabled"] is True


def test_a_portal_uuid_is_answered_with_which_id_is_meant(control):
    response = control.put(f"terminals/{uuid.uuid4()}/autopilot", {"enabled": True})
    assert response.status_code == 404
    title = response.json()["errors"][0]["title"]
    assert "número de 8 dígitos" in title
    assert "UUID" in title


def test_an_unknown_terminal_number_is_a_plain_404(control):
    response = control.put("terminals/99999999/autopilot", {"enabled": True})
    assert response.status_code == 404
    assert response.json()["errors"][0]["title"] == "Terminal 99999999 inexistente"
