"""The homologation evidence as Prisma asks for it: one row per case with its `payment_id`, in
the shape of Prisma's "HOMOLOGACION ECR.xlsx" (a header with the merchant, then the cases), as
XLSX and as CSV. Only recorded evidence made against Prisma is exported: evidence from the
simulator is practice, so its row goes out without a `payment_id` and says why."""

from __future__ import annotations

from typing import IO

from django.utils import timezone
from openpyxl import Workbook
from openpyxl.styles import Font

from stores.models import Merchant
from transactions import homologation
from transactions.reporting.exports import (
    DATETIME_FORMAT,
    MONEY_FORMAT,
    csv_text,
    spreadsheet_text,
    workbook_file,
)

HEADER = [
    "N°",
    "Código",
    "Caso",
    "payment_id",
    "Terminal",
    "Importe",
    "Cuotas",
    "Marca",
    "Autorización",
    "Ticket",
    "Fecha",
    "Observaciones",
]
SIMULATOR_NOTE = "Solo evidencia del simulador: no se envía a Prisma."
PENDING_NOTE = "Pendiente"


def _rows(merchant: Merchant) -> list[list]:
    rows = []
    for number, status in enumerate(homologation.homologation_status(merchant=merchant), 1):
        case, evidence = status.case, status.recorded
        if evidence is None or evidence.simulator:
            note = SIMULATOR_NOTE if evidence is not None else PENDING_NOTE
            rows.append([number, case.code, case.title, "", "", None, None, "", "", "", None, note])
            continue
        done_at = status.done_at
        rows.append(
            [
                number,
                case.code,
                case.title,
                evidence.payment_id,
                evidence.terminal_id,
                evidence.amount,
                evidence.installments,
                evidence.brand,
                evidence.authorization_code,
                evidence.ticket_number,
                timezone.localtime(done_at).replace(tzinfo=None) if done_at else None,
                "",
            ]
        )
    return rows


def homologation_csv(merchant: Merchant) -> str:
    lines = []
    for row in _rows(merchant):
        row = list(row)
        row[5] = f"{row[5]:.2f}".replace(".", ",") if row[5] is not None else ""
        row[6] = "" if row[6] is None else row[6]
        row[10] = row[10].strftime("%d/%m/%Y %H:%M:%S") if row[10] else ""
        lines.append([spreadsheet_text(v) if isinstance(v, str) else v for v in row])
    return csv_text(HEADER, lines)


def homologation_xlsx(merchant: Merchant) -> IO[bytes]:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "HOMOLOGACION ECR"
    sheet.append(["Homologación ECR · Prisma Medios de Pago"])
    sheet["A1"].font = Font(bold=True)
    sheet.append(["Razón social", spreadsheet_text(merchant.legal_name)])
    sheet.append(["CUIT", merchant.cuit])
    sheet.append(["Generado", timezone.localtime().replace(tzinfo=None)])
    sheet["B4"].number_format = DATETIME_FORMAT
    sheet.append([])
    sheet.append(HEADER)
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    for row in _rows(merchant):
        sheet.append([spreadsheet_text(v) if isinstance(v, str) else v for v in row])
        sheet.cell(row=sheet.max_row, column=6).number_format = MONEY_FORMAT
        sheet.cell(row=sheet.max_row, column=11).number_format = DATETIME_FORMAT
    widths = (5, 22, 44, 40, 10, 12, 8, 12, 14, 10, 20, 44)
    for letter, width in zip("ABCDEFGHIJKL", widths, strict=True):
        sheet.column_dimensions[letter].width = width
    return workbook_file(workbook)
