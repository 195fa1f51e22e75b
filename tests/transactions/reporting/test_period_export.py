"""A period (a merchant-month) as one streamed XLSX: each day's totals from one grouped query,
equal to that day's daily report, and every operation of the period."""

import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pytest
from django.utils import timezone

from tests.factories import make_intent
from transactions.reporting.daily import daily_report
from transactions.states import Kind, State

pytestmark = pytest.mark.django_db


def _at(day: dt.date, hour: int) -> dt.datetime:
    tz = timezone.get_default_timezone()
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)), tz)


def _sale(store, terminal, day, hour, amount, **fields):
    intent = make_intent(
        store, terminal=terminal, state=State.APPROVED, amount=Decimal(amount), **fields
    )
    type(intent).objects.filter(pk=intent.pk).update(
        created_at=_at(day, hour),
        finished_at=_at(day, hour),
        transacted_at=_at(day, hour),
        business_day=day,
    )
    return intent


def _workbook(response):
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml"
    )
    return openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))


def test_each_day_of_the_period_matches_its_daily_report(
    client_for, owner, store_a, store_b, terminal_a, terminal_b
):
    first = dt.date(2026, 11, 2)
    _sale(store_a, terminal_a, first, 10, "100.00")
    _sale(store_b, terminal_b, first, 11, "50.00")
    _sale(store_a, terminal_a, first + dt.timedelta(days=2), 12, "30.00")
    make_intent(store_a, terminal=terminal_a, kind=Kind.PAYMENT, state=State.DECLINED)
    response = client_for(owner).get(
        "/reportes/periodo.xlsx", {"desde": "2026-11-02", "hasta": "2026-11-04"}
    )
    book = _workbook(response)
    rows = list(book["Resumen"].iter_rows(min_row=2, values_only=True))
    day_totals = {(r[0].date() if r[0] else None, r[1]): r for r in rows}
    for day in (first, first + dt.timedelta(days=1), first + dt.timedelta(days=2)):
        report = daily_report(stores=[store_a, store_b], day=day)
        total = day_totals[(day, "Total del día")]
        assert total[2] == report.overall.approved_count
        assert Decimal(str(total[3])) == report.overall.approved_amount
        assert Decimal(str(total[8])) == report.overall.net
    period = rows[-1]
    assert period[1] == "Total del período"
    assert period[2] == 3 and Decimal(str(period[3])) == Decimal("180.00")
    operations = list(book["Operaciones"].iter_rows(min_row=2, values_only=True))
    assert len(operations) == 3, "the three sales of the period, not the declined one of today"


def test_a_store_of_the_period_is_scoped(client_for, manager_a, store_a, store_b, terminal_b):
    _sale(store_b, terminal_b, dt.date(2026, 11, 2), 10, "50.00")
    response = client_for(manager_a).get(
        "/reportes/periodo.xlsx",
        {"desde": "2026-11-01", "hasta": "2026-11-30", "sucursal": str(store_b.public_id)},
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    "query, message",
    [
        ({"hasta": "2026-11-30"}, "desde qué día"),
        ({"desde": "2026-11-30", "hasta": "2026-11-01"}, "invertí las fechas"),
        ({"desde": "2026-01-01", "hasta": "2026-06-30"}, "92 días como máximo"),
        ({"desde": "30-11-2026", "hasta": "2026-11-30"}, "no es una fecha válida"),
        ({"desde": "2999-01-01", "hasta": "2999-01-02"}, "todavía no empezó"),
    ],
)
def test_a_bad_period_is_a_spanish_400(client_for, owner, store_a, query, message):
    response = client_for(owner).get("/reportes/periodo.xlsx", query)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_the_period_costs_a_fixed_number_of_statements(
    client_for, owner, store_a, terminal_a, django_assert_max_num_queries
):
    for n in range(20):
        _sale(store_a, terminal_a, dt.date(2026, 11, 1 + n % 28), 10, "10.00")
    client = client_for(owner)
    with django_assert_max_num_queries(12):
        response = client.get(
            "/reportes/periodo.xlsx", {"desde": "2026-11-01", "hasta": "2026-11-30"}
        )
        b"".join(response.streaming_content)
