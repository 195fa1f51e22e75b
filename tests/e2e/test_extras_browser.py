"""Browser tests of issue 12's items 14 to 17 where the behaviour is client-side: the attention
count in the tab title, the optional sound when a charge finishes (remembered in
localStorage), "Imprimir" and the print stylesheet of the receipt; and the new pages at phone
size (no horizontal overflow, no serious accessibility violation)."""

from decimal import Decimal

import pytest

from tests.e2e.support import login, open_terminal_screen, until
from tests.factories import DEFAULT_PASSWORD, make_intent
from transactions.states import State

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_tab_title_carries_the_attention_count_and_follows_the_badge(
    live_server, new_page, manager_a, store_a, terminal_a
):
    make_intent(store_a, terminal=terminal_a, state=State.IN_DOUBT)
    page = new_page()
    login(page, "encargado_a", DEFAULT_PASSWORD)
    until(page, "document.title.startsWith('(1) Hoy')")
    assert page.inner_text("#attention-badge .badge-count") == "1"

    # A new problem: the badge's own refresh (every 30 s; fired here at once) updates both.
    make_intent(store_a, terminal=terminal_a, state=State.PROCESSING, needs_attention=True)
    page.evaluate(
        "htmx.ajax('GET', '/atencion/contador/', {target: '#attention-badge', swap: 'outerHTML'})"
    )
    until(page, "document.title.startsWith('(2) Hoy')")
    assert page.inner_text("#attention-badge .badge-count") == "2"
    # Hoy re-fetches itself every 5 s (a whole page, with its <title>): the count stays, and
    # never blinks out of the tab between the swap and the badge's sync. Every title the tab
    # shows is recorded, so a blink is caught however fast the machine is.
    page.evaluate(
        """() => {
            window.seenTitles = [];
            window.homeRefreshes = 0;
            new MutationObserver(() => window.seenTitles.push(document.title)).observe(
                document.head, {childList: true, characterData: true, subtree: true});
            document.body.addEventListener("htmx:afterSettle", (event) => {
                if (event.detail.elt.id === "home-body") window.homeRefreshes += 1;
            });
        }"""
    )
    until(page, "window.homeRefreshes >= 1")
    assert page.title().startswith("(2) Hoy")
    seen = page.evaluate("window.seenTitles")
    assert all(title.startswith("(2) Hoy") for title in seen), seen


def test_the_charge_sound_is_off_by_default_remembered_and_rings_on_the_outcome(
    simulated, new_page, manager_a, terminal_a
):
    page = new_page()
    login(page, "encargado_a", DEFAULT_PASSWORD)
    page.goto(f"/terminales/{terminal_a.public_id}/")
    toggle = page.locator("[data-charge-sound]")
    assert not toggle.is_checked()
    toggle.check()
    page.reload()
    assert page.locator("[data-charge-sound]").is_checked()
    assert page.evaluate("localStorage.getItem('ecr.chargeSound')") == "on"

    page.fill("#id_amount", "1500")
    page.click("[data-action=charge]")
    page.wait_for_selector(".intent-live[data-state=pending]")
    assert page.get_attribute("[data-charge-sound]", "data-played") is None
    screen = new_page()
    open_terminal_screen(screen, terminal_a.terminal_id)
    screen.click("[data-testid=pick]")
    screen.click("[data-testid=pay-visa_credito]")
    page.wait_for_selector(".intent-live[data-state=approved]")
    page.wait_for_selector("[data-charge-sound][data-played=approved]")

    # Off again: the next outcome is silent.
    page.locator("[data-charge-sound]").uncheck()
    page.reload()
    assert not page.locator("[data-charge-sound]").is_checked()
    page.fill("#id_amount", "200")
    page.click("[data-action=charge]")
    page.wait_for_selector(".intent-live[data-state=pending]")
    page.click(".intent-live [data-action=cancel]")
    page.wait_for_selector(".intent-live[data-state=cancelled]", timeout=20_000)
    assert page.get_attribute("[data-charge-sound]", "data-played") is None


def test_the_receipt_prints_alone(live_server, new_page, cashier_a, store_a, terminal_a):
    payment = make_intent(
        store_a,
        terminal=terminal_a,
        state=State.APPROVED,
        amount=Decimal("1234.56"),
        card_last_four="4242",
    )
    page = new_page()
    login(page, "cajero_a", DEFAULT_PASSWORD)
    page.goto(f"/intenciones/{payment.public_id}/")
    page.click("[data-action=receipt]")
    page.wait_for_selector(".ticket")
    # A stub in place of the dialog (a function: a string that ends in one would be called).
    page.evaluate(
        "() => { window.__printed = 0; window.print = () => { window.__printed += 1; }; }"
    )
    page.click("[data-action=print]")
    assert page.evaluate("window.__printed") == 1

    page.emulate_media(media="print")
    assert page.locator(".ticket").is_visible()
    assert "$ 1.234,56" in page.inner_text(".ticket")
    for hidden in (".topbar", ".receipt-actions", ".footer", ".breadcrumbs"):
        assert not page.locator(hidden).is_visible(), hidden
    page.emulate_media(media="screen")
    assert page.locator(".topbar").is_visible()


@pytest.mark.parametrize("width,height", [(390, 844), (768, 1024), (1366, 768)])
def test_the_new_pages_fit_and_pass_axe(
    live_server, new_page, artifacts, owner, store_a, terminal_a, width, height
):
    from axe_playwright_python.sync_playwright import Axe

    payment = make_intent(store_a, terminal=terminal_a, state=State.APPROVED)
    make_intent(store_a, terminal=terminal_a, state=State.IN_DOUBT)
    page = new_page()
    page.set_viewport_size({"width": width, "height": height})
    login(page, "duenio", DEFAULT_PASSWORD)
    axe = Axe()
    for url in ("/", "/terminales/", f"/intenciones/{payment.public_id}/comprobante/"):
        page.goto(url)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, (url, width, overflow)
        name = url.strip("/").split("/")[0] or "hoy"
        page.screenshot(path=str(artifacts / f"extras-{name}-{width}.png"), full_page=True)
        violations = [
            (v["id"], v["impact"])
            for v in axe.run(page).response["violations"]
            if v["impact"] in ("critical", "serious")
        ]
        assert violations == [], (url, width, violations)
    # Nothing with money or health is hidden on phones (the layout hides third columns).
    page.goto("/")
    assert page.locator("[data-breakdown=terminal] td:nth-child(3)").first.is_visible()
    page.goto("/terminales/")
    assert page.locator(".fleet td[data-label=Salud]").first.is_visible()
    # Operaciones' table is the layout's (stacked cards on phones are another item): here only
    # the totals block added to it must fit the screen.
    page.goto("/intenciones/?q=1000")
    box = page.locator("[data-selection-totals]").bounding_box()
    assert box is not None and box["x"] + box["width"] <= width, (width, box)
