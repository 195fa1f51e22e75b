"""The API reads amounts with the project's one reader, in its canonical form (issue 11 #15):
other digits and amounts with more than two decimals are `amount_invalid`, and nothing is
created."""

import pytest

from tests.transactions.api.support import post
from transactions.models import Intent


@pytest.mark.django_db
@pytest.mark.parametrize("text", ["１２３.00", "١٢٣", "0.001", "0.500"])
def test_the_api_refuses_them_too(api_a, terminal_a, credential, text):
    response = post(api_a, "/payments", {"terminal": str(terminal_a.public_id), "amount": text})
    assert response.status_code == 400
    assert response.json()["code"] == "amount_invalid"
    assert not Intent.objects.exists()
