"""Reading an acquirer's liquidación file, and matching its lines with the ledger.

The real layout is not public, so nothing is assumed: the merchant saves which column holds
each field (`LiquidationMapping`), by its header. A file is CSV (comma, semicolon or tab;
UTF-8 or Latin-1) or XLSX (first sheet); the header row is the first row that holds every
mapped header. Each data row is read on its own: a row that cannot be read is reported with its
number and reason, and never stops the others.

Matching (`match_lines`): a line and a ledger operation (approved payment or refund) match when
they share terminal, batch and authorization code; among several, the one with the same amount
and date wins. A line without an authorization matches an operation of the same terminal,
batch, amount and date. What does not match, or matches with another amount, is a difference
(`reporting.differences`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from transactions.models import Intent

MAX_FILE_BYTES = 5 * 1024 * 1024
CENT = Decimal("0.01")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    required: bool
    help: str = ""


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("terminal", "Terminal", True, "Número de terminal de 8 dígitos."),
    FieldSpec("batch", "Lote", True),
    FieldSpec("authorization", "Código de autorización", True),
    FieldSpec("amount", "Importe", True, "Las devoluciones, en negativo."),
    FieldSpec("date", "Fecha de la operación", True, "dd/mm/aaaa o aaaa-mm-dd."),
    FieldSpec("brand", "Marca", False),
    FieldSpec("installments", "Cuotas", False),
)


class FileUnreadable(Exception):
    """The file as a whole cannot be read (not a CSV or XLSX, no header row)."""


@dataclass
class ParsedLine:
    row_number: int
    terminal_id: str
    batch_number: int
    authorization_code: str
    amount: Decimal
    operation_date: dt.date
    card_brand: str
    installments: int | None
    raw: dict


@dataclass
class ParsedFile:
    headers: list[str]
    lines: list[ParsedLine] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    rows_total: int = 0


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        # openpyxl reads numeric cells as floats; str() keeps the shortest repr (no binary noise).
        text = str(value)
        return text[:-2] if text.endswith(".0") else text
    if isinstance(value, dt.datetime):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    return str(value).strip()


def read_rows(content: bytes, file_name: str) -> list[list[str]]:
    """Every row of the file as text cells."""
    if file_name.lower().endswith(".xlsx"):
        import openpyxl

        try:
            book = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a file that is not XLSX
            raise FileUnreadable("El archivo no es un XLSX válido.") from exc
        sheet = book.worksheets[0]
        rows = [[_cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
        book.close()
        return rows
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = content.decode("latin-1")
    if "\x00" in text:
        raise FileUnreadable("El archivo no es un CSV de texto.")
    delimiter = _delimiter(text)
    return [
        [cell.strip() for cell in row] for row in csv.reader(io.StringIO(text), delimiter=delimiter)
    ]


def _delimiter(text: str) -> str:
    """The separator that splits the first lines into the same number of columns most often
    (a title line above the header is allowed). Semicolon and tab win ties over the comma,
    which Argentine amounts also carry ("1.000,00")."""
    sample = [line for line in text.splitlines()[:30] if line.strip()]
    best, best_score = ",", 0
    for candidate in (";", "\t", ","):
        counts = [len(row) for row in csv.reader(sample, delimiter=candidate)]
        widths = [n for n in counts if n > 1]
        if not widths:
            continue
        width = max(set(widths), key=widths.count)
        score = width * widths.count(width)
        if score > best_score:
            best, best_score = candidate, score
    return best


def file_headers(content: bytes, file_name: str) -> list[str]:
    """The first non-empty row: what the mapping form offers as column names."""
    for row in read_rows(content, file_name):
        if any(row):
            return [cell for cell in row if cell]
    return []


_AMOUNT_CHARS = re.compile(r"[^\d,.\-]")


def parse_amount(text: str) -> Decimal:
    """ "1.234,56", "1234,56", "1,234.56", "1234.56", "$ -1.520,50", "(1.520,50)" → Decimal."""
    raw = text.strip()
    negative = raw.startswith("(") and raw.endswith(")")
    cleaned = _AMOUNT_CHARS.sub("", raw)
    if cleaned.count("-") > 1 or ("-" in cleaned and not cleaned.startswith("-")):
        raise ValueError("importe ilegible")
    if "," in cleaned and "." in cleaned:
        # The last separator is the decimal one.
        if cleaned.rfind(",") > cleaned.rfind("."):
            cleaned = cleaned.replace(".", "").replace(",", ".")
        else:
            cleaned = cleaned.replace(",", "")
    elif "," in cleaned:
        cleaned = cleaned.replace(".", "").replace(",", ".")
    elif cleaned.count(".") > 1 or re.fullmatch(r"-?\d{1,3}\.\d{3}", cleaned):
        # "1.000.000" or "1.000": dots that group thousands (money has 2 decimals, not 3).
        cleaned = cleaned.replace(".", "")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation as exc:
        raise ValueError("importe ilegible") from exc
    if not amount.is_finite():
        raise ValueError("importe ilegible")
    amount = -abs(amount) if negative else amount
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


_DATE_FORMATS = ("%d/%m/%Y", "%d/%m/%y", "%Y-%m-%d", "%d-%m-%Y", "%Y/%m/%d", "%d.%m.%Y")


def parse_date(text: str) -> dt.date:
    value = text.strip()
    # A time after the date ("27/11/2026 14:05", "2026-11-27T14:05:00") is not needed.
    value = re.split(r"[ T]", value, maxsplit=1)[0]
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise ValueError("fecha ilegible")


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def parse_file(content: bytes, file_name: str, columns: dict[str, str]) -> ParsedFile:
    """The lines of a liquidación file under the merchant's column mapping."""
    rows = read_rows(content, file_name)
    wanted = {name: header.strip().casefold() for name, header in columns.items() if header}
    header_index = None
    positions: dict[str, int] = {}
    for index, row in enumerate(rows):
        folded = [cell.strip().casefold() for cell in row]
        if all(header in folded for header in wanted.values()):
            header_index = index
            positions = {name: folded.index(header) for name, header in wanted.items()}
            break
    if header_index is None:
        missing = ", ".join(f"«{columns[n]}»" for n in wanted)
        raise FileUnreadable(f"No encontré una fila con todas las columnas: {missing}.")
    parsed = ParsedFile(headers=rows[header_index])
    for offset, row in enumerate(rows[header_index + 1 :], start=header_index + 2):
        if not any(row):
            continue
        parsed.rows_total += 1

        def cell(name: str, row=row) -> str:
            position = positions.get(name)
            return row[position].strip() if position is not None and position < len(row) else ""

        raw = {columns[name]: cell(name) for name in positions}
        problems = []
        terminal = _digits(cell("terminal"))
        if len(terminal) != 8:
            problems.append("la terminal no tiene 8 dígitos")
        batch_text = _digits(cell("batch"))
        if not batch_text:
            problems.append("falta el lote")
        authorization = cell("authorization").strip()
        try:
            amount = parse_amount(cell("amount"))
            if amount == 0:
                problems.append("el importe es cero")
        except ValueError:
            problems.append(f"importe ilegible «{cell('amount')}»")
            amount = Decimal(0)
        try:
            day = parse_date(cell("date"))
        except ValueError:
            problems.append(f"fecha ilegible «{cell('date')}»")
            day = dt.date.min
        installments = None
        if "installments" in positions and cell("installments"):
            digits = _digits(cell("installments"))
            installments = int(digits) if digits and int(digits) < 100 else None
            if installments is None:
                problems.append(f"cuotas ilegibles «{cell('installments')}»")
        if problems:
            parsed.errors.append({"row": offset, "message": "; ".join(problems), "raw": raw})
            continue
        parsed.lines.append(
            ParsedLine(
                row_number=offset,
                terminal_id=terminal,
                batch_number=int(batch_text),
                authorization_code=authorization[:16],
                amount=amount,
                operation_date=day,
                card_brand=cell("brand")[:32],
                installments=installments,
                raw=raw,
            )
        )
    return parsed


# --- Matching -----------------------------------------------------------------------------


@dataclass
class Match:
    """A line and what it matched: an operation (maybe with another amount), or nothing."""

    line: Any  # a LiquidationLine (or anything with its fields)
    intent: Intent | None
    amount_differs: bool = False
    reversed_in_portal: bool = False


def signed_amount(intent: Intent) -> Decimal:
    """What the operation moved as the liquidación shows it: refunds negative."""
    amount = intent.authorized_amount or intent.amount or Decimal(0)
    return -amount if intent.kind == "refund" else amount


def match_lines(lines: list, operations: list[Intent], *, day_of) -> list[Match]:
    """Pairs each line with at most one operation of its terminal and batch (each operation
    with at most one line). `day_of(intent)` is the operation's local day. Operations carry
    `terminal.terminal_id`, and `reversed` when an approved reversal annulled them."""
    by_batch: dict[tuple[str, int | None], list[Intent]] = defaultdict(list)
    for op in operations:
        if op.terminal is not None:
            by_batch[(op.terminal.terminal_id, op.batch_number)].append(op)
    taken: set[int] = set()
    matches = []
    for line in lines:
        pool = [
            op for op in by_batch.get((line.terminal_id, line.batch_number), [])
            if op.pk not in taken
        ]  # fmt: skip

        def same_amount(op, line=line) -> bool:
            return signed_amount(op) == line.amount

        def same_day(op, line=line) -> bool:
            return day_of(op) == line.operation_date

        if line.authorization_code:
            candidates = [
                op for op in pool
                if op.authorization_code.strip().lstrip("0") == line.authorization_code.lstrip("0")
            ]  # fmt: skip
        else:
            candidates = [op for op in pool if same_amount(op) and same_day(op)]
        if not candidates:
            matches.append(Match(line, None))
            continue
        candidates.sort(key=lambda op: (not same_amount(op), not same_day(op), op.pk))
        chosen = candidates[0]
        taken.add(chosen.pk)
        reversed_in_portal = bool(getattr(chosen, "reversed", False))
        matches.append(
            Match(
                line,
                chosen,
                amount_differs=reversed_in_portal or not same_amount(chosen),
                reversed_in_portal=reversed_in_portal,
            )
        )
    return matches
