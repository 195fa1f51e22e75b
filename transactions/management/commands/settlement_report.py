"""`manage.py settlement_report --store <code> | --merchant <CUIT> --date YYYY-MM-DD
[--to YYYY-MM-DD] --format csv|xlsx --out FILE [--detail]` (issue 13, item 7).

The same documents as the report page's downloads, for scripts and for finance's own tools:
- xlsx, one day: the day's workbook (Resumen, Operaciones, No aprobadas, Lotes); a range: the
  period workbook (each day's totals per store, then every operation), streamed to the file;
- csv: the summary lines of each day of the range under one header, or with `--detail` every
  approved operation of the range (signed: the amounts sum to the net).

Days are business days (the store-local day of the provider's transaction time).
"""

import datetime as dt
import shutil

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from stores.models import Merchant, Store
from stores.validators import normalize_cuit
from transactions.reporting import daily, exports
from transactions.reporting.totals import range_totals

# The longest range one run covers (a year: the history a merchant keeps at hand).
MAX_DAYS = 366


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"Fecha inválida {value!r}: escribila como AAAA-MM-DD.") from None


class Command(BaseCommand):
    help = "Escribe el reporte de liquidación diario de una sucursal o de un comercio (CSV o XLSX)."

    def add_arguments(self, parser):
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--store", help="código de la sucursal")
        who.add_argument("--merchant", help="CUIT del comercio (todas sus sucursales)")
        parser.add_argument("--date", required=True, help="día de negocio AAAA-MM-DD")
        parser.add_argument("--to", help="último día AAAA-MM-DD (incluido) de un período")
        parser.add_argument("--format", required=True, choices=["csv", "xlsx"])
        parser.add_argument("--out", required=True, help="archivo a escribir")
        parser.add_argument(
            "--detail", action="store_true", help="CSV: las operaciones en vez del resumen"
        )

    def _stores(self, options) -> tuple[list[Store], str]:
        if options["store"]:
            store = Store.objects.select_related("merchant").filter(code=options["store"]).first()
            if store is None:
                raise CommandError(f"No existe la sucursal con código {options['store']!r}.")
            return [store], store.name
        try:
            cuit = normalize_cuit(options["merchant"])
        except ValidationError:
            raise CommandError(f"CUIT inválido {options['merchant']!r}.") from None
        merchant = Merchant.objects.filter(cuit=cuit).first()
        if merchant is None:
            raise CommandError(f"No existe el comercio con CUIT {cuit}.")
        stores = list(merchant.stores.select_related("merchant").order_by("name", "pk"))
        if not stores:
            raise CommandError(f"El comercio {merchant} no tiene sucursales.")
        return stores, merchant.legal_name

    def handle(self, *args, **options):
        first = _date(options["date"])
        last = _date(options["to"]) if options["to"] else first
        if last < first:
            raise CommandError("--to es anterior a --date: invertí las fechas.")
        if (last - first).days + 1 > MAX_DAYS:
            raise CommandError(f"El período es de {MAX_DAYS} días como máximo.")
        stores, name = self._stores(options)
        out = options["out"]
        if options["format"] == "xlsx":
            self._xlsx(stores, first, last, out)
        elif options["detail"]:
            operations = daily.period_operations(stores=stores, first=first, last=last)
            with open(out, "w", encoding="utf-8", newline="") as file:
                file.writelines(exports.operations_csv_lines(operations))
        else:
            with open(out, "w", encoding="utf-8", newline="") as file:
                file.write(self._summary_csv(stores, first, last))
        days = (last - first).days + 1
        self.stdout.write(f"{name}: {days} día{'s' if days > 1 else ''} → {out}")

    @staticmethod
    def _summary_csv(stores, first: dt.date, last: dt.date) -> str:
        rows = []
        day = first
        while day <= last:
            report = daily.daily_report(stores=stores, day=day)
            rows.extend(exports.summary_values(report))
            day += dt.timedelta(days=1)
        return exports.csv_text(
            exports.SUMMARY_HEADERS, ([exports.csv_cell(v) for v in row] for row in rows)
        )

    @staticmethod
    def _xlsx(stores, first: dt.date, last: dt.date, out: str) -> None:
        if first == last:
            report = daily.daily_report(stores=stores, day=first)
            document = exports.daily_report_xlsx(
                report,
                operations=daily.daily_report_operations(stores=stores, day=first),
                not_approved=daily.daily_report_operations(
                    stores=stores, day=first, approved=False
                ),
            )
        else:
            document = exports.period_report_xlsx(
                stores=stores,
                per_day=range_totals(stores=stores, first=first, last=last, breakdowns=False),
                operations=daily.period_operations(stores=stores, first=first, last=last),
                not_approved=daily.period_operations(
                    stores=stores, first=first, last=last, approved=False
                ),
            )
        with document, open(out, "wb") as file:
            shutil.copyfileobj(document, file)
