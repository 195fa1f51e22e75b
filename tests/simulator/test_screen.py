"""The terminal screen: a person picks and pays through plain HTML forms."""

import re

import pytest
from django.test import Client

from tests.simulator.support import BASE, T1, T2

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(sim_terminals):
    # Enforce CSRF like a real browser would meet it: the forms must carry the token.
    return Client(enforce_csrf_checks=True)


def _csrf(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def test_index_lists_terminals(browser):
    response = browser.get(f"{BASE}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-testid="terminal-link-{T1}"' in html
    assert f'href="/simulator/terminals/{T2}/"' in html


def test_screen_lists_pending_and_paying_through_the_forms_confirms(browser, api):
    payment_id = api.create_payment().json()["payment_data"]["payment_id"]
    url = f"{BASE}/terminals/{T1}/"

    page = browser.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-testid="intention-{payment_id}"' in html
    assert "Pedido 4411 $1.520,50" in html
    assert "$ 1.520,50" in html
    assert '<meta http-equiv="refresh" content="2">' in html
    # Strict CSP: no inline script or handler, only our own stylesheet.
    assert "<script" not in html
    assert not re.search(r"\son[a-z]+=", html)
    assert "script-src 'self'" in page["Content-Security-Policy"]
    assert "http://" not in html and "https://" not in html

    # Without the CSRF token the form post is refused.
    assert (
        browser.post(f"{BASE}/terminals/{T1}/pick", {"intention_id": payment_id}).status_code == 403
    )

    picked = browser.post(
        f"{BASE}/terminals/{T1}/pick",
        {"intention_id": payment_id, "csrfmiddlewaretoken": _csrf(html)},
    )
    assert picked.status_code == 302
    html = browser.get(url).content.decode()
    assert 'data-testid="current"' in html
    assert 'data-testid="pay-visa_credito"' in html
    assert 'data-testid="pay-declinada"' in html
    assert 'http-equiv="refresh"' not in html  # no refresh while a person is paying
    assert api.get_payment(payment_id).json()["payment_data"]["payment_status"] == (
        "PROCESSING_PAYMENT"
    )

    paid = browser.post(
        f"{BASE}/terminals/{T1}/pay", {"card": "mastercard", "csrfmiddlewaretoken": _csrf(html)}
    )
    assert paid.status_code == 302
    data = api.get_payment(payment_id).json()["payment_data"]
    assert (data["payment_status"], data["card_brand"]) == ("CONFIRMED", "MASTERCARD")
    html = browser.get(url).content.decode()
    assert f'data-testid="recent-{payment_id}"' in html
    assert "CONFIRMED" in html
    assert 'data-testid="idle"' in html


def test_screen_shows_refusals_and_qr(browser, api):
    api.create_payment(card_brand_product="AM", terminals_list=[{"terminal_id": T1}])
    html = browser.get(f"{BASE}/terminals/{T1}/").content.decode()
    browser.post(f"{BASE}/terminals/{T1}/pick", {"csrfmiddlewaretoken": _csrf(html)})
    html = browser.get(f"{BASE}/terminals/{T1}/").content.decode()
    browser.post(
        f"{BASE}/terminals/{T1}/pay", {"card": "visa_credito", "csrfmiddlewaretoken": _csrf(html)}
    )
    html = browser.get(f"{BASE}/terminals/{T1}/").content.decode()
    assert "Tarjeta no habilitada" in html
    browser.post(f"{BASE}/terminals/{T1}/reject", {"csrfmiddlewaretoken": _csrf(html)})

    payment_id = api.create_payment(
        terminal_operation_method="QR_CODE", terminals_list=[{"terminal_id": T1}]
    ).json()["payment_data"]["payment_id"]
    html = browser.get(f"{BASE}/terminals/{T1}/").content.decode()
    browser.post(f"{BASE}/terminals/{T1}/pick", {"csrfmiddlewaretoken": _csrf(html)})
    html = browser.get(f"{BASE}/terminals/{T1}/").content.decode()
    assert 'data-testid="pay-qr"' in html
    assert 'data-testid="pay-visa_credito"' not in html
    browser.post(f"{BASE}/terminals/{T1}/qr", {"csrfmiddlewaretoken": _csrf(html)})
    data = api.get_payment(payment_id).json()["payment_data"]
    assert (data["payment_status"], data["card_type"]) == ("CONFIRMED", "QR_CODE")


def test_unknown_terminal_screen_is_404(browser):
    assert browser.get(f"{BASE}/terminals/00000000/").status_code == 404
