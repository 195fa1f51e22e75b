"""Kept daily reports (issue 13, items 1 and 2): written after each store's close per store and
per merchant, immutable, a new revision with its differences when late facts arrive, e-mailed
(Spanish summary, XLSX attached) to owners and finance members who did not opt out.

Store A and B close at 23 h (Buenos Aires); reports are due 30 minutes later.
"""

import datetime as dt
import io
import zoneinfo
from decimal import Decimal

import openpyxl
import pytest
from django.core import mail
from django.urls import reverse

from stores.roles import Role
from tests import factories
from tests.factories import make_intent
from transactions.gateway.types import IntentAnswer
from transactions.models import DailyReport, DailyReportDelivery
from transactions.reporting import kept
from transactions.states import State
from transactions.transitions import intent_record_answer

pytestmark = pytest.mark.django_db

BA = zoneinfo.ZoneInfo("America/Argentina/Buenos_Aires")
DAY = dt.date(2026, 11, 27)


def ba(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=BA)


@pytest.fixture(autouse=True)
def close_at_23(store_a, store_b, settings):
    settings.ECR_REPORT_GRACE_MINUTES = 30
    for store in (store_a, store_b):
        store.batch_close_hour = 23
        store.created_at = ba(1, 9)  # open since the 1st of the month
        store.save()


@pytest.fixture
def sale(store_a, terminal_a):
    def _sale(amount: str, when: dt.datetime, store=None, terminal=None, **kw):
        return make_intent(
            store or store_a,
            terminal=terminal or terminal_a,
            state=State.APPROVED,
            amount=Decimal(amount),
            finished_at=when,
            **kw,
        )

    return _sale


def test_nothing_is_kept_before_the_close_and_every_store_and_the_merchant_after(
    sale, store_a, store_b, merchant, django_capture_on_commit_callbacks
):
    sale("100.00", ba(27, 10))
    # Before the close (and its grace) the day is not due; the days before it are (a store
    # opened on the 26th has no report of the 25th).
    type(store_b).objects.filter(pk=store_b.pk).update(created_at=ba(26, 9))
    early = kept.daily_reports_due(now=ba(27, 23, 10))
    assert sorted((r.store_id, r.day) for r in early if r.store_id) == [
        (store_a.pk, dt.date(2026, 11, 25)),
        (store_a.pk, dt.date(2026, 11, 26)),
        (store_b.pk, dt.date(2026, 11, 26)),
    ]
    with django_capture_on_commit_callbacks(execute=False):
        written = kept.daily_reports_due(now=ba(27, 23, 31))
    by_scope = {(r.store_id, r.day): r for r in written if r.day == DAY}
    assert set(by_scope) == {(store_a.pk, DAY), (store_b.pk, DAY), (None, DAY)}
    assert by_scope[(store_a.pk, DAY)].content["totals"]["approved_amount"] == "100.00"
    # A store with no sales has its report too: zeros, not a missing day.
    empty = by_scope[(store_b.pk, DAY)].content["totals"]
    assert (empty["approved_count"], empty["net"]) == (0, "0.00")
    merchant_report = by_scope[(None, DAY)]
    assert merchant_report.merchant == merchant
    assert merchant_report.content["stores"] == ["Sucursal A", "Sucursal B"]
    assert merchant_report.content["totals"]["net"] == "100.00"
    # Running again changes nothing: no second revision.
    assert kept.daily_reports_due(now=ba(27, 23, 45)) == []


def test_an_in_doubt_sale_resolved_the_next_day_is_a_new_revision_of_its_own_day(
    sale, store_a, terminal_a, time_machine, django_capture_on_commit_callbacks
):
    sale("100.00", ba(27, 10))
    time_machine.move_to(ba(27, 23, 0), tick=False)
    doubtful = make_intent(store_a, terminal=terminal_a, state=State.IN_DOUBT)
    first = kept.daily_report_keep(day=DAY, store=store_a)
    assert first.revision == 1 and first.changes == []

    time_machine.move_to(ba(28, 9, 0), tick=False)
    answer = IntentAnswer(
        kind="payment",
        provider_id="prov-found",
        status="CONFIRMED",
        status_date=ba(27, 23, 1),
        authorized_amount=Decimal("50.00"),
        card_brand="VISA",
        payment_type="CREDIT",
    )
    assert intent_record_answer(doubtful, answer)
    with django_capture_on_commit_callbacks(execute=False):
        written = kept.daily_reports_due(now=ba(28, 9, 0))
    second = next(r for r in written if r.store_id == store_a.pk and r.day == DAY)
    assert second.revision == 2
    assert second.content["totals"]["approved_amount"] == "150.00"
    cobros = next(c for c in second.changes if c["section"] == "Cobros")
    assert (cobros["before"], cobros["after"]) == ([1, "100.00"], [2, "150.00"])
    # The day it was learned (28/11) did not get it.
    assert not DailyReport.objects.filter(store=store_a, day=dt.date(2026, 11, 28)).exists()
    # The first revision is kept as it was.
    first.refresh_from_db()
    assert first.content["totals"]["approved_amount"] == "100.00"


def test_a_kept_report_cannot_be_changed_or_deleted(sale, store_a):
    sale("100.00", ba(27, 10))
    report = kept.daily_report_keep(day=DAY, store=store_a)
    report.content = {"totals": {}}
    with pytest.raises(ValueError, match="no se modifica"):
        report.save()
    with pytest.raises(ValueError, match="no se borra"):
        report.delete()
    report.refresh_from_db()
    assert report.content["totals"]["approved_amount"] == "100.00"


def _xlsx(attachment) -> openpyxl.Workbook:
    _name, content, mimetype = attachment
    assert mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return openpyxl.load_workbook(io.BytesIO(content))


def test_the_report_is_mailed_with_its_xlsx_to_owners_and_finance_who_did_not_opt_out(
    sale, store_a, merchant, owner, finance, manager_a, django_capture_on_commit_callbacks
):
    owner.email, finance.email, manager_a.email = "duenia@x.test", "fin@x.test", "enc@x.test"
    for user in (owner, finance, manager_a):
        user.save()
    store_finance = factories.make_user("finanzas_a", email="fin-a@x.test")
    factories.make_membership(store_finance, Role.FINANCE, store=store_a)
    opted_out = factories.make_user("sin_correo", email="no@x.test")
    factories.make_membership(opted_out, Role.OWNER, store=store_a)
    kept.report_email_opt_out_set(user=opted_out, receive=False)
    sale("1234.56", ba(27, 10))

    with django_capture_on_commit_callbacks(execute=True):
        store_report = kept.daily_report_keep(day=DAY, store=store_a)
        merchant_report = kept.daily_report_keep(day=DAY, merchant=merchant)

    # Store-level finance and owners get the store's report; merchant-level ones the merchant's;
    # managers and people who opted out get nothing.
    assert sorted((m.to[0], m.subject) for m in mail.outbox) == [
        ("duenia@x.test", "Reporte diario 27/11/2026 · Comercio de Prueba S.A."),
        ("fin-a@x.test", "Reporte diario 27/11/2026 · Sucursal A"),
        ("fin@x.test", "Reporte diario 27/11/2026 · Comercio de Prueba S.A."),
    ]
    message = next(m for m in mail.outbox if m.to == ["fin-a@x.test"])
    assert "Cobros aprobados: 1 por $ 1.234,56" in message.body
    assert "Neto: $ 1.234,56" in message.body
    assert "desactivalo" in message.body
    (attachment,) = message.attachments
    assert attachment[0] == f"reporte-2026-11-27-{store_a.code}-r1.xlsx"
    book = _xlsx(attachment)
    assert book.sheetnames == ["Resumen", "Operaciones", "No aprobadas", "Lotes"]
    assert Decimal(str(book["Resumen"]["I2"].value)) == Decimal("1234.56")

    # Delivered once per person, however often the task runs.
    assert kept.daily_report_deliver(report_id=store_report.pk) == 0
    assert kept.daily_report_deliver(report_id=merchant_report.pk) == 0
    assert DailyReportDelivery.objects.filter(sent_at__isnull=False).count() == 3


def test_a_revision_mail_says_what_changed(
    sale, store_a, django_capture_on_commit_callbacks, time_machine
):
    person = factories.make_user("fin_a", email="fin-a@x.test")
    factories.make_membership(person, Role.FINANCE, store=store_a)
    sale("100.00", ba(27, 10))
    with django_capture_on_commit_callbacks(execute=True):
        kept.daily_report_keep(day=DAY, store=store_a)
    sale("20.00", ba(27, 22))  # a late sale of that day, after the first mail went
    with django_capture_on_commit_callbacks(execute=True):
        kept.daily_report_keep(day=DAY, store=store_a)
    first, second = mail.outbox
    assert second.subject.endswith("(revisión 2)")
    assert "Revisión 2" in second.body
    assert "Sucursal A · Cobros · Aprobados: 1 · $ 100,00 → 2 · $ 120,00" in second.body


def test_a_revision_overtaken_before_its_mail_is_not_sent_the_new_one_is(
    sale, store_a, django_capture_on_commit_callbacks
):
    """The e-mail's body (the revision's figures) and its workbook (read at send time) always
    agree: a late fact between keeping and sending makes the next revision the one sent."""
    person = factories.make_user("fin_a", email="fin-a@x.test")
    factories.make_membership(person, Role.FINANCE, store=store_a)
    sale("100.00", ba(27, 10))
    first = kept.daily_report_keep(day=DAY, store=store_a)  # its mail task has not run yet
    sale("20.00", ba(27, 22))  # a late sale of that day, before the worker sends
    with django_capture_on_commit_callbacks(execute=True):
        assert kept.daily_report_deliver(report_id=first.pk) == 0
    delivery = DailyReportDelivery.objects.get(report=first)
    assert (delivery.sent_at, delivery.error) == (None, kept.SUPERSEDED)
    (message,) = mail.outbox
    assert message.subject.endswith("(revisión 2)")
    assert "Neto: $ 120,00" in message.body
    book = _xlsx(message.attachments[0])
    assert Decimal(str(book["Resumen"]["I2"].value)) == Decimal("120.00")
    # Sending the first again changes nothing: the second already exists.
    assert kept.daily_report_deliver(report_id=first.pk) == 0
    assert DailyReport.objects.filter(store=store_a, day=DAY).count() == 2
    assert len(mail.outbox) == 1


def test_a_person_opts_out_and_back_in_from_the_report_page(client_for, finance):
    client = client_for(finance)
    url = reverse("dashboard:report_email_preference")
    page = client.get(reverse("dashboard:daily_report")).content.decode()
    assert 'data-action="report-email-off"' in page
    assert client.post(url, {"recibir": "0"}).status_code == 302
    assert not kept.receives_report_email(user=finance)
    page = client.get(reverse("dashboard:daily_report")).content.decode()
    assert 'data-action="report-email-on"' in page
    client.post(url, {"recibir": "1"})
    assert kept.receives_report_email(user=finance)


def test_the_page_lists_kept_reports_and_shows_a_revision_with_its_changes(
    client_for, finance, cashier_a, manager_a, sale, store_a, store_b, merchant
):
    sale("100.00", ba(27, 10))
    first = kept.daily_report_keep(day=DAY, store=store_a)
    sale("5.00", ba(27, 11))
    second = kept.daily_report_keep(day=DAY, store=store_a)
    of_b = kept.daily_report_keep(day=DAY, store=store_b)
    whole = kept.daily_report_keep(day=DAY, merchant=merchant)
    page = client_for(finance).get(reverse("dashboard:daily_report"), {"fecha": "2026-11-27"})
    html = page.content.decode()
    for report in (first, second, of_b, whole):
        assert f'data-kept-row="{report.public_id}"' in html
    shown = client_for(finance).get(
        reverse("dashboard:daily_report"), {"fecha": "2026-11-27", "guardado": second.public_id}
    )
    html = shown.content.decode()
    assert f'data-kept="{second.public_id}"' in html
    assert "Cambios respecto de la revisión 1" in html
    # A manager of store A sees A's reports, not B's nor the merchant's (it covers B too).
    html = client_for(manager_a).get(reverse("dashboard:daily_report")).content.decode()
    assert f'data-kept-row="{first.public_id}"' in html
    assert f'data-kept-row="{of_b.public_id}"' not in html
    assert f'data-kept-row="{whole.public_id}"' not in html
    outside = client_for(manager_a).get(
        reverse("dashboard:daily_report"), {"guardado": of_b.public_id}
    )
    assert outside.status_code == 404


def test_a_kept_report_id_that_is_not_a_uuid_is_404(client_for, finance):
    response = client_for(finance).get(reverse("dashboard:daily_report"), {"guardado": "nada"})
    assert response.status_code == 404
