"""A background request that fails says so in the problem bar and leaves the box that asked as
it was: no connection (cleared once a request works again), an expired form (kept until
closed). Phone size, real browser."""

import pytest

from tests.e2e.support import login, until
from tests.factories import DEFAULT_PASSWORD
from transactions.models import Intent

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


BAR_SHOWN = "!document.getElementById('request-problem').hidden"
BAR_HIDDEN = "document.getElementById('request-problem').hidden"


def test_a_lost_connection_shows_in_the_bar_and_the_live_box_keeps_polling(
    simulated, new_page, manager_a, terminal_a
):
    page = new_page(expected=("/vivo/", "htmx:sendError", "htmx:afterRequest"))  # htmx logs them
    page.set_viewport_size(PHONE)
    login(page, "encargado_a", DEFAULT_PASSWORD)
    page.goto(f"/terminales/{terminal_a.public_id}/")
    page.fill("#id_amount", "1500")
    page.click("[data-action=charge]")
    page.wait_for_selector(".intent-live[data-state=pending]")

    page.route("**/vivo/**", lambda route: route.abort())
    until(page, BAR_SHOWN)
    assert "El portal no respondió" in page.inner_text("#request-problem")
    assert "no repitas el cobro" in page.inner_text("#request-problem")
    assert page.locator(".intent-live[data-state=pending]").count() == 1  # not replaced

    page.unroute("**/vivo/**")
    until(page, BAR_HIDDEN)  # the next poll worked
    assert page.locator(".intent-live[data-state=pending]").count() == 1


def test_an_expired_form_is_explained_in_the_bar_and_keeps_what_was_typed(
    simulated, new_page, manager_a, terminal_a
):
    page = new_page(expected=("403",))  # the refused POST the browser logs
    page.set_viewport_size(PHONE)
    login(page, "encargado_a", DEFAULT_PASSWORD)
    page.goto(f"/terminales/{terminal_a.public_id}/")
    # What a token rotated elsewhere looks like: the page's token no longer matches the cookie.
    page.context.clear_cookies(name="csrftoken")
    page.fill("#id_amount", "2500")
    page.click("[data-action=charge]")
    until(page, BAR_SHOWN)
    text = page.inner_text("#request-problem")
    assert "el formulario venció" in text
    assert page.input_value("#id_amount") == "2500"
    assert not Intent.objects.exists()
    page.wait_for_timeout(3500)  # a terminal status poll works meanwhile: the bar stays
    assert page.evaluate(f"() => {BAR_SHOWN}")
    page.click("[data-dismiss-problem]")
    until(page, BAR_HIDDEN)
