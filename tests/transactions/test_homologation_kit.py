"""Issue 14 item 4: the homologation kit. Cases are data (shipped default or Prisma's list),
evidence is recorded per case (one operation per case), simulator evidence is labelled and never
exported, the XLSX/CSV for Prisma, `homologation_export`, and a constant number of queries."""

import csv
import io
import itertools

import pytest
from django.core.management import call_command
from django.urls import reverse
from openpyxl import load_workbook

from tests import factories
from transactions import homologation
from transactions.errors import IntentRuleError
from transactions.models import HomologationCase, HomologationEvidence
from transactions.reporting import homologation_export
from transactions.services.homologation import (
    homologation_cases_load,
    homologation_evidence_record,
)
from transactions.states import Kind, State

pytestmark = pytest.mark.django_db
PAGE = reverse("dashboard:homologation")
_seq = itertools.count(1)


@pytest.fixture(autouse=True)
def _default_cases(db):
    """The shipped cases, as the migration leaves them (a transactional test elsewhere in the
    run may have emptied the table)."""
    homologation_cases_load(rows=homologation.default_case_rows())


@pytest.fixture
def mk(store_a, terminal_a, credential):
    def _mk(**kw):
        kw.setdefault("state", State.APPROVED)
        kw.setdefault("provider_id", f"pid-kit-{next(_seq):04d}")
        kw.setdefault("terminal", terminal_a)
        return factories.make_intent(store_a, credential=credential, **kw)

    return _mk


def _case(code):
    return HomologationCase.objects.get(code=code)


def test_the_default_list_is_shipped_as_data():
    assert [c.code for c in homologation.case_list()] == [c.code for c in homologation.CASES]


def test_recording_copies_what_prisma_asks_for(merchant, mk, owner):
    intent = mk(installments=1, card_brand="VISA", authorization_code="A1", ticket_number="77")
    evidence = homologation_evidence_record(
        merchant=merchant, case=_case("pago-1-cuota"), intent=intent, user=owner
    )
    assert (evidence.terminal_id, evidence.amount, evidence.installments) == (
        intent.terminal.terminal_id,
        intent.amount,
        1,
    )
    assert (evidence.brand, evidence.authorization_code, evidence.ticket_number) == (
        "VISA",
        "A1",
        "77",
    )
    assert evidence.payment_id == intent.provider_id and not evidence.simulator
    status = homologation.homologation_status(merchant=merchant)[0]
    assert status.done and status.recorded == evidence


def test_one_operation_proves_one_case_only(merchant, mk):
    both = mk(installments=1, brand_restriction="VI")  # fits "1 cuota" and "marca exigida"
    homologation_evidence_record(merchant=merchant, case=_case("pago-1-cuota"), intent=both)
    with pytest.raises(IntentRuleError):
        homologation_evidence_record(merchant=merchant, case=_case("pago-marca"), intent=both)
    assert HomologationEvidence.objects.count() == 1


def test_an_operation_that_does_not_fit_the_case_is_refused(merchant, mk):
    with pytest.raises(IntentRuleError) as exc:
        homologation_evidence_record(
            merchant=merchant, case=_case("pago-qr"), intent=mk(installments=1)
        )
    assert "no corresponde" in exc.value.message


def test_another_merchants_operation_is_refused(merchant):
    other = factories.make_store()
    intent = factories.make_intent(other, state=State.APPROVED, installments=1)
    with pytest.raises(IntentRuleError):
        homologation_evidence_record(merchant=merchant, case=_case("pago-1-cuota"), intent=intent)


def test_the_guided_run_records_from_the_page(client_for, owner, merchant, mk):
    intent = mk(method="qr")
    client = client_for(owner)
    page = client.get(PAGE).content.decode()
    assert 'data-action="record-evidence"' in page
    response = client.post(
        reverse("dashboard:homologation_record"),
        {"comercio": merchant.public_id, "case": "pago-qr", "intent": intent.public_id},
    )
    assert response.status_code == 302
    assert HomologationEvidence.objects.get().intent == intent
    page = client.get(PAGE).content.decode()
    assert "1 de 14" in page and 'data-action="forget-evidence"' in page
    evidence = HomologationEvidence.objects.get()
    client.post(
        reverse("dashboard:homologation_forget"),
        {"comercio": merchant.public_id, "evidence": evidence.public_id},
    )
    assert not HomologationEvidence.objects.exists()


def test_simulator_evidence_is_labelled_and_not_exported(
    client_for, owner, merchant, mk, credential
):
    credential.base_url = "http://127.0.0.1:8000/simulator"
    credential.save()
    intent = mk(installments=1)
    evidence = homologation_evidence_record(
        merchant=merchant, case=_case("pago-1-cuota"), intent=intent
    )
    assert evidence.simulator
    assert "data-simulator-evidence" in client_for(owner).get(PAGE).content.decode()
    text = homologation_export.homologation_csv(merchant)
    assert intent.provider_id not in text
    assert homologation_export.SIMULATOR_NOTE in text


def test_xlsx_for_prisma_and_the_command(tmp_path, merchant, mk, client_for, owner):
    intent = mk(installments=1)
    homologation_evidence_record(merchant=merchant, case=_case("pago-1-cuota"), intent=intent)
    out = tmp_path / "HOMOLOGACION ECR.xlsx"
    call_command("homologation_export", merchant=merchant.cuit, out=str(out))
    sheet = load_workbook(out).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    header_at = next(
        n for n, r in enumerate(rows) if r[:4] == ["N°", "Código", "Caso", "payment_id"]
    )
    cases = rows[header_at + 1 :]
    assert len(cases) == len(homologation.CASES)
    assert cases[0][1:5] == [
        "pago-1-cuota",
        "Cobro aprobado en 1 cuota",
        intent.provider_id,
        intent.terminal.terminal_id,
    ]
    response = client_for(owner).get(reverse("dashboard:homologation_xlsx"))
    assert response.status_code == 200
    assert load_workbook(io.BytesIO(b"".join(response.streaming_content))).active["A1"].value


def test_prismas_own_list_replaces_the_default(tmp_path, merchant, mk):
    path = tmp_path / "casos.csv"
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, delimiter=";")
        writer.writerow(["Código", "Caso", "Instrucciones", "Regla"])
        writer.writerow(["C01", "Venta en 1 cuota", "Vendé en 1 cuota", "pago-1-cuota"])
        writer.writerow(["C02", "Venta con Billetera", "Pagá con la app Billetera", "qr-prisma"])
    call_command("homologation_cases", str(path))
    cases = homologation.case_list()
    assert [(c.code, c.matcher) for c in cases] == [("C01", "pago-1-cuota"), ("C02", "manual")]
    intent = mk(installments=1)
    statuses = homologation.homologation_status(merchant=merchant)
    assert statuses[0].intents == [intent]
    # A "manual" case takes any operation of the merchant.
    homologation_evidence_record(merchant=merchant, case=cases[1], intent=mk(method="qr"))


def test_the_page_runs_a_constant_number_of_queries(merchant, mk, django_assert_max_num_queries):
    for _ in range(30):
        mk(installments=1)
        mk(kind=Kind.SETTLEMENT, amount=None, print_receipt=True)
        mk(state=State.DECLINED)
    with django_assert_max_num_queries(4):
        homologation.homologation_status(merchant=merchant)
