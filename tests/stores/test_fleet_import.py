"""Issue 14 item 6: fleet import from CSV/XLSX: a preview that writes nothing, row errors that
stop the whole file, idempotent re-import, the pilot gate, the command, the owners' page and the
admin's django-import-export."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from openpyxl import Workbook

from stores import services
from stores.fleet import fleet_import, read_rows
from stores.models import Membership, PosClient, Store, Terminal, TerminalPurpose
from tests import factories

pytestmark = pytest.mark.django_db
HEADER = "tipo;sucursal;nombre;direccion;cuit;credencial;terminal;uso;usuario;rol\n"


def _fleet_csv(merchant, stores=50, per_store=6) -> bytes:
    lines = [HEADER]
    n = 0
    for s in range(stores):
        code = f"suc-{s:02d}"
        lines.append(f"sucursal;{code};Sucursal {s};Calle {s};{merchant.cuit};;;;;\n")
        for _ in range(per_store):
            n += 1
            lines.append(f"terminal;{code};Caja {n};;;;{40_000_000 + n:08d};prueba;;\n")
    lines.append("miembro;suc-00;Ana;;;;;;ana;cajero\n")
    lines.append("clave_pos;suc-00;POS 1;;;;;;;\n")
    return "".join(lines).encode()


def _rows(content: bytes, name="flota.csv"):
    return read_rows(name, content)


def test_fifty_stores_and_three_hundred_terminals_preview_then_apply(owner, merchant):
    rows = _rows(_fleet_csv(merchant))
    preview = fleet_import(rows=rows, user=owner, dry_run=True)
    assert not preview.errors and not preview.applied
    assert preview.count("sucursal", "alta") == 50 and preview.count("terminal", "alta") == 300
    assert not Store.objects.filter(code="suc-00").exists(), "a preview writes nothing"
    done = fleet_import(rows=rows, user=owner, dry_run=False)
    assert done.applied
    assert Store.objects.filter(merchant=merchant).count() == 50
    assert Terminal.objects.filter(store__merchant=merchant).count() == 300
    assert Membership.objects.get(user__username="ana").role == "cashier"
    assert len(done.new_keys) == 1
    again = fleet_import(rows=rows, user=owner, dry_run=False)
    assert again.count("sucursal", "sin cambios") == 50
    assert again.count("terminal", "sin cambios") == 300
    assert again.new_keys == [] and PosClient.objects.count() == 1


def test_a_row_error_stops_the_whole_file(owner, merchant):
    content = (
        HEADER
        + f"sucursal;nueva;Nueva;;{merchant.cuit};;;;;\n"
        + "terminal;nueva;Caja;;;;12ab;prueba;;\n"
        + "terminal;inexistente;Caja;;;;12345679;prueba;;\n"
    ).encode()
    result = fleet_import(rows=_rows(content), user=owner, dry_run=False)
    assert [r.line for r in result.errors] == [3, 4]
    assert "8 dígitos" in " ".join(result.errors[0].errors)
    assert not Store.objects.filter(code="nueva").exists()


def test_another_merchants_store_is_refused(owner):
    other = factories.make_store(code="ajena")
    content = (HEADER + f"sucursal;ajena;X;;{other.merchant.cuit};;;;;\n").encode()
    result = fleet_import(rows=_rows(content), user=owner, dry_run=False)
    assert result.errors and Store.objects.get(code="ajena").name != "X"


def test_the_pilot_gate_holds_in_an_import(owner, merchant, store_a):
    production = factories.make_production_credential(merchant)
    services.store_set_credential(store=store_a, credential=production, user=owner)
    content = HEADER + "".join(
        f"terminal;{store_a.code};Caja;;;;{60_000_000 + n:08d};produccion;;\n" for n in range(3)
    )
    result = fleet_import(rows=_rows(content.encode()), user=owner, dry_run=False)
    assert [r.line for r in result.errors] == [4]
    assert not Terminal.objects.filter(purpose=TerminalPurpose.PRODUCTION).exists()
    # ...and a bulk switch of two stores to production stops at the second.
    content = (
        HEADER
        + f"sucursal;{store_a.code};A;;{merchant.cuit};Producción;;;;\n"
        + f"sucursal;otra;Otra;;{merchant.cuit};Producción;;;;\n"
    )
    result = fleet_import(rows=_rows(content.encode()), user=owner, dry_run=False)
    assert [r.line for r in result.errors] == [3]
    assert "una sola sucursal" in " ".join(result.errors[0].errors)


def test_xlsx_is_read_like_csv(merchant):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Tipo", "Sucursal", "Nombre", "Dirección", "CUIT"])
    sheet.append(["sucursal", "x1", "X 1", "Calle", merchant.cuit])
    buffer = io.BytesIO()
    workbook.save(buffer)
    rows = read_rows("flota.xlsx", buffer.getvalue())
    assert rows == [
        {"tipo": "sucursal", "sucursal": "x1", "nombre": "X 1", "direccion": "Calle",
         "cuit": merchant.cuit}
    ]  # fmt: skip


def test_command_with_dry_run(tmp_path, merchant):
    path = tmp_path / "flota.csv"
    path.write_bytes(_fleet_csv(merchant, stores=2, per_store=2))
    call_command("fleet_import", str(path), dry_run=True)
    assert not Store.objects.filter(code="suc-00").exists()
    call_command("fleet_import", str(path))
    assert Terminal.objects.filter(store__code="suc-01").count() == 2
    bad = tmp_path / "mala.csv"
    bad.write_bytes((HEADER + "otra;x;;;;;;;;\n").encode())
    with pytest.raises(CommandError):
        call_command("fleet_import", str(bad))


def test_owners_page_previews_then_applies(client_for, owner, merchant):
    url = reverse("dashboard:fleet_import")
    client = client_for(owner)
    content = _fleet_csv(merchant, stores=1, per_store=2)
    page = client.post(url, {"file": SimpleUploadedFile("flota.csv", content)})
    assert page.status_code == 200 and 'data-applied="0"' in page.content.decode()
    assert not Store.objects.filter(code="suc-00").exists()
    page = client.post(url, {"file": SimpleUploadedFile("flota.csv", content), "apply": "on"})
    assert 'data-applied="1"' in page.content.decode()
    assert Store.objects.filter(code="suc-00").exists()


def test_admin_import_export_is_idempotent_by_terminal_number(admin_client, store_a):
    from import_export.formats.base_formats import CSV

    from stores.admin import TerminalResource

    dataset = CSV().create_dataset(
        f"terminal_id,sucursal,label,purpose,enabled\n70000001,{store_a.code},Caja,test,1\n"
    )
    for _ in range(2):
        result = TerminalResource().import_data(dataset, dry_run=False)
        assert not result.has_errors()
    assert Terminal.objects.filter(terminal_id="70000001").count() == 1
    assert admin_client.get(reverse("admin:stores_terminal_import")).status_code == 200
