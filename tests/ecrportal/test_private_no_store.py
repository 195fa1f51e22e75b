"""Pages, exports and API answers for a signed-in person or a POS key are never cached."""

import pytest

from tests.transactions.api.support import api_client

pytestmark = pytest.mark.django_db


def _no_store(response) -> bool:
    return "no-store" in response.headers.get("Cache-Control", "")


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/intenciones/",
        "/intenciones/exportar.csv",
        "/reportes/diario/",
        "/reportes/diario.xlsx",
    ],
)
def test_pages_and_exports_of_a_signed_in_person_are_no_store(client_for, owner, store_a, path):
    response = client_for(owner).get(path)
    assert response.status_code == 200, path
    assert _no_store(response), path
    assert "private" in response.headers["Cache-Control"]


def test_api_answers_to_a_key_are_no_store(store_a):
    from tests import factories

    _client, raw = factories.make_pos_client(store_a, name="Caja")
    response = api_client(raw).get("/api/v1/terminals")
    assert response.status_code == 200
    assert _no_store(response)
