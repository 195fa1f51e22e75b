"""Every dashboard page as every role, at a phone, a tablet and a laptop (issue 12, Tests).

For each role one browser context signs in once; each page is loaded once and measured at
390×844, 768×1024 and 1366×768 (the viewport is resized, not reloaded): no horizontal overflow,
no console error. axe-core (bundled by axe-playwright-python, nothing downloaded) runs once per
page and role, and must find no critical or serious violation. Pages a role may not open are
visited too: their 403/404 page must pass the same checks, inside the layout with navigation.

All the problems of the run are gathered and reported together, so one run shows every page to fix.
"""

from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.urls import resolve, reverse
from django.utils import timezone

from stores.models import Membership
from stores.roles import Role
from tests import factories
from tests.e2e.support import login
from tests.factories import DEFAULT_PASSWORD, make_intent
from tests.test_access_matrix import ACCESS
from tests.transactions.support import set_money_controls
from transactions.models import Batch, Difference, GatewayCall, IntentEvent
from transactions.services import refund_create
from transactions.states import Kind, State

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

VIEWPORTS = [(390, 844), (768, 1024), (1366, 768)]
# Chromium logs a failed resource load as a console error: expected for a page that answers
# 403 or 404 on purpose, nothing else.
EXPECTED_STATUS_NOISE = "the server responded with a status of"
GENERIC_403_REASON = "Tu rol no permite esta acción."

OVERFLOW_JS = """() => {
  const doc = document.documentElement;
  const limit = doc.clientWidth;
  if (doc.scrollWidth <= limit) return null;
  // The widest culprit, to say what to fix.
  let worst = null;
  for (const el of document.body.querySelectorAll('*')) {
    const right = el.getBoundingClientRect().right;
    if (right > limit + 1 && (!worst || right > worst.right)) {
      worst = {right: Math.round(right), tag: el.tagName.toLowerCase(),
               cls: el.className && el.className.baseVal === undefined ? el.className : '',
               text: (el.textContent || '').trim().slice(0, 40)};
    }
  }
  return {scrollWidth: doc.scrollWidth, clientWidth: limit, worst};
}"""


# No amount, link or button in a table is hidden at any size (the old phone rule hid every third
# column: the amount, the "Cerrar lote" buttons); on a phone each cell says its column's name.
HIDDEN_CELLS_JS = """() => {
  const phone = window.innerWidth <= 640;
  const bad = [];
  for (const cell of document.querySelectorAll('table.table tbody td')) {
    const text = cell.textContent.trim();
    const matters = text.includes('$') || cell.querySelector('a[href], button, form');
    if (getComputedStyle(cell).display === 'none' && matters) bad.push('hidden: ' + text);
    else if (phone && !cell.hasAttribute('colspan') && !cell.hasAttribute('data-label'))
      bad.push('no label: ' + text);
  }
  return bad.slice(0, 5);
}"""


@pytest.fixture
def store_day(merchant, store_a, store_b, terminal_a, terminal_b, credential):
    """A day with something of everything: payments in every state, a reversal and a refund,
    a closed batch, a timeline with idle reads and the follow-up system's events."""
    now = timezone.now()
    # Long names, references and URLs: what makes a table too wide for a phone or a tablet.
    store_a.name = "Sucursal A · Avenida Corrientes 1234, Ciudad de Buenos Aires"
    store_a.save()
    terminal_a.label = "Caja principal de la planta baja junto a la entrada"
    terminal_a.save()
    credential.name = "Credencial de homologación del comercio de prueba (Prisma)"
    credential.base_url = "https://homologacion-ecr.prisma-medios-de-pago.example.invalid/api/v1"
    credential.save()
    payment = make_intent(
        store_a,
        terminal=terminal_a,
        state=State.APPROVED,
        amount="123456.78",
        installments=6,
        reference="TICKET-000123-CAJA-PRINCIPAL-SUCURSAL-CORRIENTES-0000000001",
        payment_type="CREDIT",
        entry_mode="CHIP_CONTACTLESS",
        merchant_receipt="COMERCIO\nVISA ****0010\nTOTAL $ 123.456,78",
        client_receipt="CLIENTE\nVISA ****0010\nTOTAL $ 123.456,78",
    )
    make_intent(
        store_a,
        terminal=terminal_a,
        kind=Kind.REVERSAL,
        state=State.APPROVED,
        original=payment,
        amount=payment.amount,
        provider_status="REVERSED",
    )
    make_intent(store_a, terminal=terminal_a, state=State.DECLINED, provider_status="DECLINED")
    doubtful = make_intent(
        store_a,
        terminal=terminal_a,
        state=State.IN_DOUBT,
        needs_attention=True,
        attention_reason="Prisma no respondió al crear: se busca la intención.",
    )
    make_intent(store_b, terminal=terminal_b, state=State.APPROVED, amount="500.00")
    settlement = make_intent(
        store_a, terminal=terminal_a, kind=Kind.SETTLEMENT, state=State.APPROVED
    )
    batch = Batch.objects.create(
        terminal=terminal_a,
        batch_number=7,
        settlement=settlement,
        closed_at=now,
        closing_ticket="CIERRE DE LOTE 7\nVISA 1 $ 123.456,78",
        totals={"count": 1},
    )
    IntentEvent.objects.create(
        intent=payment, type=IntentEvent.Type.CREATED, to_state=State.PENDING
    )
    for n in range(6):
        GatewayCall.objects.create(
            intent=payment,
            operation="payment_get",
            method="GET",
            path="/payments/x",
            http_status=200,
            outcome=GatewayCall.Outcome.OK,
            duration_ms=40 + n,
        )
    IntentEvent.objects.create(
        intent=payment,
        type=IntentEvent.Type.STATE,
        from_state=State.PENDING,
        to_state=State.APPROVED,
        provider_status="CONFIRMED",
        actor_label="sweeper",
    )
    IntentEvent.objects.filter(intent=payment).update(created_at=now - timedelta(seconds=1))
    # Maker-checker (issue 15): a POS's refund above the threshold, waiting on Aprobaciones.
    pos_key, _ = factories.make_pos_client(store_a, name="Caja principal de la planta baja")
    set_money_controls(
        store_a,
        refund_approval_threshold=Decimal("1000.00"),
        refund_window_days={"VISA": 30, "*": 60},
    )
    refund_create(
        store=store_a,
        terminal=terminal_a,
        amount=Decimal("23456.78"),
        original=make_intent(
            store_a, terminal=terminal_a, state=State.APPROVED, amount=Decimal("50000.00")
        ),
        pos_client=pos_key,
    )
    difference = Difference.objects.create(
        key="all-pages",
        kind=Difference.Kind.AMOUNT_DIFFERS,
        store=store_a,
        terminal_id=terminal_a.terminal_id,
        batch_number=7,
        batch=batch,
        intent=payment,
        portal_amount=payment.amount,
        other_amount="123000.00",
        detail="Autorización A1: el portal tiene $ 123.456,78 y la liquidación $ 123.000,00.",
    )
    return {
        "payment": payment,
        "doubtful": doubtful,
        "batch": batch,
        "pos_key": pos_key,
        "difference": difference,
    }


@pytest.fixture
def people(owner, manager_a, cashier_a, finance):
    admin = factories.make_user("admin", is_staff=True, is_superuser=True, first_name="Admin")
    return {
        "duenio": owner,
        "encargado_a": manager_a,
        "cajero_a": cashier_a,
        "finanzas": finance,
        "admin": admin,
    }


def _pages(store_day, store_a, terminal_a, credential, manager_a) -> list[str]:
    member = Membership.objects.get(user=manager_a, role=Role.MANAGER)
    today = timezone.localdate()
    return [
        reverse("dashboard:home"),
        reverse("dashboard:intent_list"),
        reverse("dashboard:intent_list") + f"?date_from={today:%Y-%m-%d}&date_to=2000-01-01",
        reverse("dashboard:intent_detail", args=[store_day["payment"].public_id]),
        reverse("dashboard:intent_detail", args=[store_day["doubtful"].public_id]),
        reverse("dashboard:terminal_detail", args=[terminal_a.public_id]),
        reverse("dashboard:batch_index"),
        reverse("dashboard:batch_detail", args=[store_day["batch"].public_id]),
        reverse("dashboard:daily_report") + f"?fecha={today:%Y-%m-%d}",
        reverse("dashboard:settings"),
        reverse("dashboard:homologation"),
        reverse("dashboard:store_create"),
        reverse("dashboard:store_edit", args=[store_a.public_id]),
        reverse("dashboard:terminal_create"),
        reverse("dashboard:terminal_edit", args=[terminal_a.public_id]),
        reverse("dashboard:credential_create"),
        reverse("dashboard:credential_edit", args=[credential.public_id]),
        reverse("dashboard:credential_retire", args=[credential.public_id]),
        reverse("dashboard:pos_key_create"),
        reverse("dashboard:pos_key_permissions", args=[store_day["pos_key"].public_id]),
        reverse("dashboard:store_money_controls", args=[store_a.public_id]),
        reverse("dashboard:approval_list"),
        reverse("dashboard:member_create"),
        reverse("dashboard:member_edit", args=[member.public_id]),
        reverse("dashboard:difference_list"),
        reverse("dashboard:difference_detail", args=[store_day["difference"].public_id]),
        reverse("dashboard:liquidation_index"),
        reverse("dashboard:fee_settings"),
        reverse("dashboard:intent_receipt", args=[store_day["payment"].public_id]),
        reverse("dashboard:terminal_fleet"),
        # A search with no single match stays on its page (one match redirects to the intent).
        reverse("dashboard:search") + "?q=no-hay-tal-cosa",
        reverse("dashboard:store_credential", args=[store_a.public_id]),
        reverse("dashboard:settings_audit"),
        reverse("dashboard:fleet_import"),
        reverse("dashboard:onboarding"),
        reverse("dashboard:merchant_create"),
        "/no-existe/",
    ]


# Dashboard routes that are not pages a person opens: polled fragments, htmx answers, downloads.
NOT_PAGES = {
    "dashboard:terminal_live",
    "dashboard:terminal_today",
    "dashboard:terminal_charge",
    "dashboard:intent_export_csv",
    "dashboard:intent_panel",
    "dashboard:intent_live",
    "dashboard:batch_progress",
    "dashboard:daily_report_csv",
    "dashboard:daily_report_xlsx",
    "dashboard:daily_report_operations_csv",
    "dashboard:period_report_xlsx",
    "dashboard:homologation_csv",
    "dashboard:attention_badge",
    "dashboard:homologation_xlsx",
}


def test_the_matrix_covers_every_page_of_the_dashboard(
    store_day, store_a, terminal_a, credential, manager_a
):
    """A new page cannot ship outside the matrix: every GET route of the access table is a
    page visited below or a fragment/download listed in NOT_PAGES."""
    pages = _pages(store_day, store_a, terminal_a, credential, manager_a)
    covered = {resolve(urlsplit(url).path).view_name for url in pages if url != "/no-existe/"}
    get_routes = {
        name
        for name, access in ACCESS.items()
        if name.startswith("dashboard:") and access.method == "get"
    }
    missing = get_routes - covered - NOT_PAGES
    assert not missing, f"add these pages to _pages() in {__file__} (or to NOT_PAGES): {missing}"


def _check_page(page, url, who, axe, axed, problems, console) -> None:
    console.clear()
    response = page.goto(url, wait_until="load")
    status = response.status if response else 0
    if status >= 500 or status == 0:
        problems.append(f"{who} {url}: status {status}")
        return
    if who != "anónimo" and page.locator("nav.nav a").count() == 0:
        problems.append(f"{who} {url}: no navigation (status {status})")
    if status == 403:
        # The reason the view computed ("Solo el dueño del comercio accede…"), not a bare 403.
        reason = page.locator("[data-reason]").inner_text()
        if not reason or reason == GENERIC_403_REASON:
            problems.append(f"{who} {url}: 403 without the computed reason ({reason!r})")
    for width, height in VIEWPORTS:
        page.set_viewport_size({"width": width, "height": height})
        overflow = page.evaluate(OVERFLOW_JS)
        if overflow:
            problems.append(f"{who} {url} at {width}×{height}: overflows {overflow}")
        hidden = page.evaluate(HIDDEN_CELLS_JS)
        if hidden:
            problems.append(f"{who} {url} at {width}×{height}: hidden cells {hidden}")
    # axe at phone size, where the stacked tables and wrapped navigation are. A refusal page
    # (403, 404) is the same template for every URL: once per role is enough (axe is half the
    # time of this test).
    page.set_viewport_size({"width": 390, "height": 844})
    key = (who, status) if status in (403, 404) else (who, url)
    if key in axed:
        return _console_problems(who, url, status, console, problems)
    axed.add(key)
    results = axe.run(page)
    for violation in results.response["violations"]:
        if violation["impact"] in ("critical", "serious"):
            targets = [node["target"] for node in violation["nodes"][:3]]
            problems.append(f"{who} {url}: axe {violation['id']} ({violation['impact']}) {targets}")
    _console_problems(who, url, status, console, problems)


def _console_problems(who, url, status, console, problems) -> None:
    noise = EXPECTED_STATUS_NOISE if status in (403, 404) else None
    errors = [c for c in console if not (noise and noise in c)]
    if errors:
        problems.append(f"{who} {url}: console errors {errors}")


def test_every_page_fits_and_is_accessible_for_every_role(
    browser,
    live_server,
    requests_in_flight,
    store_day,
    people,
    store_a,
    terminal_a,
    credential,
    manager_a,
):
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    pages = _pages(store_day, store_a, terminal_a, credential, manager_a)
    problems: list[str] = []
    axed: set[tuple] = set()
    visits = 0

    def open_context():
        context = browser.new_context(
            base_url=live_server.url, viewport={"width": 1366, "height": 768}, locale="es-AR"
        )
        context.set_default_timeout(15_000)
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: console.append(str(exc)))
        return context, page, console

    context, page, console = open_context()
    try:
        for url in [reverse("login"), "/no-existe/"]:
            _check_page(page, url, "anónimo", axe, axed, problems, console)
            visits += 1
    finally:
        context.close()

    for username in people:
        context, page, console = open_context()
        try:
            login(page, username, DEFAULT_PASSWORD)
            for url in pages:
                _check_page(page, url, username, axe, axed, problems, console)
                visits += 1
        finally:
            context.close()
    # The last page's live boxes may still be refreshing on the server: the flush waits for them.
    requests_in_flight.wait_idle()

    assert visits == 2 + len(people) * len(pages)
    assert not problems, "\n".join(problems)
