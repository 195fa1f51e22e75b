"""Loads Prisma's list of homologation cases from its XLSX or a CSV, replacing the shipped
default (cases missing from the file stay for history, inactive). Columns, by header (case and
accents ignored): `codigo`, `caso`, optional `instrucciones` and `regla` (a rule the portal knows,
e.g. `pago-1-cuota`; any other makes the case "manual": any operation may be recorded)."""

import csv
import io
import unicodedata

from django.core.management.base import BaseCommand, CommandError
from openpyxl import load_workbook

from transactions.services.homologation import homologation_cases_load


def _key(header) -> str:
    text = unicodedata.normalize("NFKD", str(header or "")).encode("ascii", "ignore").decode()
    return text.strip().lower().replace(" ", "_")


def read_rows(path: str) -> list[dict[str, str]]:
    """Rows of a CSV (`;` or `,`) or of the first sheet of an XLSX, keyed by normalised
    header."""
    if path.lower().endswith(".xlsx"):
        sheet = load_workbook(path, read_only=True, data_only=True).active
        values = [list(row) for row in sheet.iter_rows(values_only=True)]
    else:
        with open(path, encoding="utf-8-sig", newline="") as file:
            text = file.read()
        dialect = csv.Sniffer().sniff(text.splitlines()[0], delimiters=";,")
        values = list(csv.reader(io.StringIO(text), dialect))
    if not values:
        return []
    header = [_key(h) for h in values[0]]
    return [
        {h: str(v if v is not None else "").strip() for h, v in zip(header, row, strict=False)}
        for row in values[1:]
        if any(v not in (None, "") for v in row)
    ]


class Command(BaseCommand):
    help = "Carga la lista de casos de homologación de Prisma (XLSX o CSV)."

    def add_arguments(self, parser):
        parser.add_argument("file")

    def handle(self, *args, file, **options):
        try:
            loaded, retired = homologation_cases_load(rows=read_rows(file))
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(f"Casos cargados: {loaded}; fuera de la lista: {retired}.")
        )
