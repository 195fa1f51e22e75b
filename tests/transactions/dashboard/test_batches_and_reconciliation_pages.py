"""The batch pages (issue 12): the readable three-way table, the closed list that refreshes after
a close, closes without ticket, "Cerrar todo", empty batches refused; and the reconciliation
pages (issue 13): liquidación import with preview, differences list and detail."""

from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from tests.factories import make_intent, make_terminal
from transactions import services
from transactions.errors import Code, IntentRuleError
from transactions.models import Batch, Difference, LiquidationImport, LiquidationLine
from transactions.reporting.reconciliation import batch_record_for_settlement
from transactions.services.liquidation import liquidation_mapping_save
from transactions.states import Kind, State

pytestmark = pytest.mark.django_db
D = Decimal

TICKET = """CIERRE DE LOTE 3
MASTERCARD  CANT  1  $     250,50
VISA        CANT  2  $   2.000,00
ANULACIONES CANT  1  $  -1.000,00
DEVOLUCIONES CANT  0  $       0,00
TOTAL       CANT  4  $   1.250,50"""


@pytest.fixture
def closed_batch(store_a, terminal_a):
    """Batch 3: two VISA sales (one annulled), one MASTERCARD; the ticket agrees."""
    make_intent(
        store_a, terminal=terminal_a, state=State.APPROVED, batch_number=3, authorization_code="V1"
    )
    annulled = make_intent(
        store_a, terminal=terminal_a, state=State.APPROVED, batch_number=3, authorization_code="V2"
    )
    make_intent(
        store_a,
        terminal=terminal_a,
        kind=Kind.REVERSAL,
        state=State.APPROVED,
        original=annulled,
        amount=None,
    )
    make_intent(
        store_a,
        terminal=terminal_a,
        state=State.APPROVED,
        batch_number=3,
        amount=D("250.50"),
        card_brand="MASTERCARD",
        card_brand_code="MC",
        authorization_code="M1",
    )
    settlement = make_intent(
        store_a,
        terminal=terminal_a,
        kind=Kind.SETTLEMENT,
        state=State.APPROVED,
        batch_number=3,
        merchant_receipt=TICKET,
    )
    return batch_record_for_settlement(settlement=settlement)


def test_batch_page_shows_a_readable_table_not_a_dictionary(client_for, manager_a, closed_batch):
    assert closed_batch.verdict == Batch.Verdict.MATCHED
    body = (
        client_for(manager_a)
        .get(reverse("dashboard:batch_detail", args=[closed_batch.public_id]))
        .content.decode()
    )
    assert "{'" not in body and "'count'" not in body and "gross" not in body
    assert 'data-line="VISA"' in body and "Visa</th>" in body
    assert "Anulaciones" in body and "Devoluciones" in body and "Total neto" in body
    assert "$ 2.000,00" in body and "-$ 1.000,00" in body and "$ 1.250,50" in body
    assert 'data-agrees="false"' not in body
    assert "Sin liquidación importada" in body


def test_batch_page_shows_the_liquidacion_column_and_its_difference(
    client_for, owner, merchant, closed_batch
):
    from transactions.services.liquidation import liquidation_import

    liquidation_mapping_save(
        merchant=merchant,
        user=owner,
        columns={"terminal": "T", "batch": "L", "authorization": "A", "amount": "I", "date": "F"},
    )
    today = timezone.localdate().strftime("%d/%m/%Y")
    content = (
        f"T;L;A;I;F\n11111111;3;V1;1.000,00;{today}\n11111111;3;M1;200,00;{today}\n"
    ).encode()
    liquidation_import(merchant=merchant, user=owner, file_name="l.csv", content=content)
    body = (
        client_for(owner)
        .get(reverse("dashboard:batch_detail", args=[closed_batch.public_id]))
        .content.decode()
    )
    assert "2 líneas importadas" in body
    assert "no se liquidan" in body
    # MASTERCARD: the portal has 250,50, the liquidación pays 200,00.
    assert "Liquidación: -$ 50,50." in body
    assert "Importe distinto" in body  # the batch's own differences, linked


def test_batch_page_says_when_the_ticket_is_illegible(client_for, owner, store_a, terminal_a):
    make_intent(store_a, terminal=terminal_a, state=State.APPROVED, batch_number=4)
    settlement = make_intent(
        store_a,
        terminal=terminal_a,
        kind=Kind.SETTLEMENT,
        state=State.APPROVED,
        batch_number=4,
        merchant_receipt="VISA CANT ? 1 $ 100000",
    )
    batch = batch_record_for_settlement(settlement=settlement)
    body = (
        client_for(owner)
        .get(reverse("dashboard:batch_detail", args=[batch.public_id]))
        .content.decode()
    )
    assert "data-ticket-illegible" in body and "compará el ticket a mano" in body


# --- Closing ----------------------------------------------------------------------------------


@pytest.fixture
def calls(monkeypatch):
    recorded = SimpleNamespace(args=[], result=None)

    def settlement_create(**kwargs):
        recorded.args.append(("settlement_create", kwargs))
        return recorded.result

    def store_batch_close(**kwargs):
        recorded.args.append(("store_batch_close", kwargs))
        return recorded.outcomes

    def merchant_batch_close(**kwargs):
        recorded.args.append(("merchant_batch_close", kwargs))
        return recorded.outcomes

    monkeypatch.setattr(services, "settlement_create", settlement_create)
    monkeypatch.setattr(services, "store_batch_close", store_batch_close)
    monkeypatch.setattr(services, "merchant_batch_close", merchant_batch_close)
    recorded.outcomes = []
    return recorded


def _settlement(store, terminal, state=State.PENDING):
    return make_intent(
        store, terminal=terminal, kind=Kind.SETTLEMENT, state=state, amount=None, provider_id="s-1"
    )


def test_a_close_without_ticket_asks_the_provider_not_to_print(
    client_for, manager_a, terminal_a, store_a, calls
):
    calls.result = _settlement(store_a, terminal_a)
    client = client_for(manager_a)
    client.post(
        reverse("dashboard:batch_close_terminal", args=[terminal_a.public_id]), {"sin_ticket": "1"}
    )
    client.post(reverse("dashboard:batch_close_terminal", args=[terminal_a.public_id]))
    client.post(
        reverse("dashboard:batch_close_store", args=[store_a.public_id]),
        {"sin_ticket": "1", "confirmar": "1"},
    )
    assert [kw["print_receipt"] for _, kw in calls.args] == [False, True, False]


def test_the_lotes_page_offers_the_no_ticket_close_and_refreshes_its_list(
    client_for, owner, store_a
):
    body = client_for(owner).get(reverse("dashboard:batch_index")).content.decode()
    assert 'name="sin_ticket"' in body and "Sin imprimir ticket" in body
    assert 'id="closed-batches"' in body and 'hx-trigger="batches-changed from:body"' in body


def test_a_finished_close_tells_the_closed_list_to_refresh(
    client_for, manager_a, store_a, terminal_a, calls
):
    pending = _settlement(store_a, terminal_a)
    calls.result = pending
    client = client_for(manager_a)
    response = client.post(reverse("dashboard:batch_close_terminal", args=[terminal_a.public_id]))
    assert "HX-Trigger" not in response, "still closing: nothing new to list yet"
    done = _settlement(store_a, terminal_a, state=State.APPROVED)
    response = client.get(reverse("dashboard:batch_progress"), {"i": str(done.public_id)})
    assert response["HX-Trigger"] == "batches-changed"


def test_cerrar_todo_closes_every_store_the_person_may_close(
    client_for, owner, store_a, store_b, terminal_a, terminal_b, calls
):
    calls.outcomes = [
        (terminal_a, _settlement(store_a, terminal_a)),
        (terminal_b, IntentRuleError(Code.BATCH_EMPTY, "vacío")),
    ]
    body = client_for(owner).get(reverse("dashboard:batch_index")).content.decode()
    assert 'data-action="close-all"' in body
    response = client_for(owner).post(
        reverse("dashboard:batch_close_all"), {"sin_ticket": "1", "confirmar": "1"}
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert calls.args == [("merchant_batch_close", {"user": owner, "print_receipt": False})]
    assert "lote vacío, no hay nada que cerrar" in body
    assert '<progress value="0" max="1">' in body


def test_cerrar_todo_is_not_offered_with_a_single_store(client_for, manager_a, store_a):
    body = client_for(manager_a).get(reverse("dashboard:batch_index")).content.decode()
    assert 'data-action="close-all"' not in body


def test_merchant_batch_close_covers_only_closable_stores(
    owner, manager_a, store_a, store_b, terminal_a, terminal_b, monkeypatch
):
    from transactions.services import batches

    asked = []
    monkeypatch.setattr(
        batches, "settlement_create", lambda **kw: asked.append(kw["terminal"]) or kw["terminal"]
    )
    make_terminal(store_b, terminal_id="33333333", enabled=False)
    assert [t for t, _ in services.merchant_batch_close(user=owner)] == [terminal_a, terminal_b]
    assert [t for t, _ in services.merchant_batch_close(user=manager_a)] == [terminal_a]


def test_merchant_batch_close_refused_for_a_cashier(cashier_a, store_a):
    with pytest.raises(IntentRuleError) as exc:
        services.merchant_batch_close(user=cashier_a)
    assert exc.value.code == "forbidden"


# --- Empty batches ----------------------------------------------------------------------------


def test_closing_an_empty_batch_is_refused_before_calling_the_provider(
    store_a, terminal_a, monkeypatch
):
    from transactions.services import create

    monkeypatch.setattr(create, "send", lambda *a, **kw: pytest.fail("the provider was called"))
    with pytest.raises(IntentRuleError) as exc:
        create.settlement_create(terminal=terminal_a)
    assert exc.value.code == Code.BATCH_EMPTY and exc.value.http_status == 409
    assert "vacío" in exc.value.message and "11111111" in exc.value.message
    assert not store_a.intents.exists(), "a refusal writes nothing"


def test_a_batch_is_empty_again_after_its_close(store_a, terminal_a):
    from transactions.selectors import terminal_open_batch_is_empty

    assert terminal_open_batch_is_empty(terminal=terminal_a)
    sale = make_intent(store_a, terminal=terminal_a, state=State.APPROVED)
    assert not terminal_open_batch_is_empty(terminal=terminal_a)
    _settlement(store_a, terminal_a, state=State.APPROVED)
    assert terminal_open_batch_is_empty(terminal=terminal_a), sale
    make_intent(store_a, terminal=terminal_a, state=State.PROCESSING)
    assert not terminal_open_batch_is_empty(terminal=terminal_a), "a sale in progress counts"


def test_the_dashboard_says_the_batch_is_empty(client_for, manager_a, terminal_a):
    response = client_for(manager_a).post(
        reverse("dashboard:batch_close_terminal", args=[terminal_a.public_id])
    )
    assert "está vacío" in response.content.decode()


# --- Liquidación import and differences pages -------------------------------------------------


CSV = (
    b"Terminal;Lote;Aut;Importe;Fecha\n"
    b"11111111;3;V1;1.000,00;20/11/2026\n"
    b"11111111;3;ZZ;5,00;20/11/2026\n"
    b"X;3;;;\n"
)


def _columns():
    return {
        "terminal": "Terminal",
        "batch": "Lote",
        "authorization": "Aut",
        "amount": "Importe",
        "date": "Fecha",
    }


def test_import_page_maps_previews_and_imports_once(client_for, owner, merchant, closed_batch):
    client = client_for(owner)
    url = reverse("dashboard:liquidation_index")
    body = client.get(url).content.decode()
    assert "indicá el encabezado de la columna" in body
    # First file: no mapping yet, so the preview shows its columns to map.
    response = client.post(url, {"step": "preview", "file": SimpleUploadedFile("liq.csv", CSV)})
    assert "Columnas de <strong>liq.csv</strong>" in response.content.decode()
    response = client.post(url, {"step": "mapping", **_columns()})
    assert response.status_code == 302
    response = client.post(url, {"step": "preview", "file": SimpleUploadedFile("liq.csv", CSV)})
    body = response.content.decode()
    assert "data-preview-ok>2<" in body and "data-preview-errors>1<" in body
    assert 'data-error-row="4"' in body
    assert not LiquidationLine.objects.exists()
    sha = client.session["liquidation_upload"]["sha256"]
    response = client.post(url, {"step": "import", "sha256": sha})
    assert response.status_code == 302
    body = client.get(response.url).content.decode()
    assert "data-rows-new>2<" in body
    assert LiquidationLine.objects.count() == 2
    # The same file again: nothing added, and the person is told.
    client.post(url, {"step": "preview", "file": SimpleUploadedFile("liq.csv", CSV)})
    response = client.post(url, {"step": "import", "sha256": sha}, follow=True)
    assert "ya se había importado" in response.content.decode()
    assert LiquidationImport.objects.count() == 1 and LiquidationLine.objects.count() == 2


def test_import_without_a_preview_is_refused(client_for, finance, merchant):
    response = client_for(finance).post(
        reverse("dashboard:liquidation_index"), {"step": "import", "sha256": "x"}
    )
    assert response.status_code == 400 and "vista previa venció" in response.content.decode()


def test_a_bad_mapping_is_a_form_error(client_for, owner, merchant):
    response = client_for(owner).post(
        reverse("dashboard:liquidation_index"), {"step": "mapping", **_columns(), "amount": ""}
    )
    assert response.status_code == 400
    assert "Indicá la columna de este dato." in response.content.decode()


def test_differences_are_raised_to_finance_and_explained(
    client_for, owner, finance, merchant, closed_batch
):
    from transactions.services.liquidation import liquidation_import

    liquidation_mapping_save(merchant=merchant, user=owner, columns=_columns())
    liquidation_import(merchant=merchant, user=owner, file_name="liq.csv", content=CSV)
    client = client_for(finance)
    body = client.get(reverse("dashboard:difference_list")).content.decode()
    assert (
        'data-open-differences="2"' in body
    )  # ZZ missing in the ledger, M1 missing in the liquidación
    assert 'data-difference="missing_in_ledger"' in body
    assert 'data-difference="missing_in_liquidation"' in body
    lotes = client_for(owner).get(reverse("dashboard:batch_index")).content.decode()
    assert "2 diferencias de conciliación sin explicar" in lotes
    assert lotes.count("data-batch-open-difference") == 1  # batch 3 in the closed list
    difference = Difference.objects.get(kind=Difference.Kind.MISSING_IN_LEDGER)
    url = reverse("dashboard:difference_detail", args=[difference.public_id])
    response = client.post(url, {"action": "resolve", "note": ""})
    assert response.status_code == 400 and "Escribí la explicación" in response.content.decode()
    response = client.post(url, {"action": "assign", "assigned_to": str(finance.pk)})
    assert response.status_code == 302
    response = client.post(
        url, {"action": "resolve", "note": "Venta de otra caja, cargada a mano."}
    )
    assert response.status_code == 302
    body = client.get(url).content.decode()
    assert 'data-status="resolved"' in body and "cargada a mano" in body
    assert body.count("data-event=") == 3
    body = client.get(reverse("dashboard:difference_list")).content.decode()
    assert 'data-open-differences="1"' in body


def test_a_batch_closed_without_ticket_is_compared_with_the_liquidacion(
    client_for, owner, store_a, terminal_a
):
    make_intent(store_a, terminal=terminal_a, state=State.APPROVED, batch_number=8)
    settlement = make_intent(
        store_a, terminal=terminal_a, kind=Kind.SETTLEMENT, state=State.APPROVED, batch_number=8
    )
    batch = batch_record_for_settlement(settlement=settlement)
    body = (
        client_for(owner).get(reverse("dashboard:batch_detail", args=[batch.public_id])).content
    ).decode()
    assert "El cierre no trajo ticket" in body
    assert "Lote sin ticket" in body


@pytest.mark.parametrize("name", ["fee_settings", "liquidation_index"])
def test_a_merchant_outside_the_scope_is_not_found(client_for, owner, name):
    from tests.factories import make_merchant

    other = make_merchant()
    client = client_for(owner)
    url = reverse(f"dashboard:{name}")
    assert client.get(url, {"comercio": "no-es-un-uuid"}).status_code == 404
    assert client.get(url, {"comercio": str(other.public_id)}).status_code == 404


def _page_queries(client, url) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def _raise_differences(store, count: int, start: int) -> None:
    for n in range(start, start + count):
        Difference.objects.create(
            key=f"q:{n}",
            kind=Difference.Kind.MISSING_IN_LEDGER,
            store=store,
            terminal_id="11111111",
            batch_number=3,
            other_amount=D(n),
            detail=f"Línea {n}",
        )


def test_reconciliation_pages_cost_the_same_with_few_or_many_rows(
    client_for, owner, merchant, store_a, store_b, closed_batch
):
    client = client_for(owner)
    _raise_differences(store_a, 3, 0)
    liquidation = LiquidationImport.objects.create(merchant=merchant, sha256="a" * 64)
    LiquidationLine.objects.bulk_create(
        LiquidationLine(
            liquidation=liquidation,
            merchant=merchant,
            store=store_a,
            row_number=n,
            terminal_id="11111111",
            batch_number=3,
            authorization_code=f"Q{n}",
            amount=D(n + 1),
            operation_date=timezone.localdate(),
            card_brand="VISA",
        )
        for n in range(2)
    )
    urls = [
        reverse("dashboard:difference_list"),
        reverse("dashboard:batch_detail", args=[closed_batch.public_id]),
        reverse("dashboard:batch_index"),
    ]
    few = [_page_queries(client, url) for url in urls]
    _raise_differences(store_a, 30, 100)
    _raise_differences(store_b, 30, 200)
    liquidation = LiquidationImport.objects.create(merchant=merchant, sha256="b" * 64)
    LiquidationLine.objects.bulk_create(
        LiquidationLine(
            liquidation=liquidation,
            merchant=merchant,
            store=store_a,
            row_number=n,
            terminal_id="11111111",
            batch_number=3,
            authorization_code=f"R{n}",
            amount=D(n + 1),
            operation_date=timezone.localdate(),
        )
        for n in range(40)
    )
    assert [_page_queries(client, url) for url in urls] == few
    assert max(few) <= 16, few


@pytest.mark.parametrize("name", ["batch_close_all", "batch_close_store"])
def test_closing_many_asks_first_and_keeps_the_no_ticket_choice(
    client_for, owner, store_a, store_b, calls, name
):
    args = [store_a.public_id] if name == "batch_close_store" else []
    response = client_for(owner).post(reverse(f"dashboard:{name}", args=args), {"sin_ticket": "1"})
    body = response.content.decode()
    assert calls.args == [], "nothing closes before the confirmation"
    assert "data-confirm" in body and "No se imprime" in body
    assert '<input type="hidden" name="sin_ticket" value="1">' in body
