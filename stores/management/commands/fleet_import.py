"""`manage.py fleet_import FILE [--dry-run]`: stores, terminals, members and POS keys from a CSV
or XLSX (README "Alta de flota" for the columns). All or nothing; new POS keys printed once."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from stores.fleet import KINDS, fleet_import, read_rows


class Command(BaseCommand):
    help = "Importa sucursales, terminales, miembros y claves POS desde un CSV o XLSX."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument(
            "--dry-run", action="store_true", help="Solo muestra qué cambiaría; no guarda nada."
        )

    def handle(self, *args, file, dry_run=False, **options):
        path = Path(file)
        if not path.exists():
            raise CommandError(f"No existe el archivo {file}.")
        result = fleet_import(
            rows=read_rows(path.name, path.read_bytes()), user=None, dry_run=dry_run
        )
        for kind in KINDS:
            counts = {a: result.count(kind, a) for a in ("alta", "cambio", "sin cambios")}
            self.stdout.write(
                f"{kind}: {counts['alta']} altas, {counts['cambio']} cambios, "
                f"{counts['sin cambios']} sin cambios"
            )
        for row in result.errors:
            self.stderr.write(f"Fila {row.line} ({row.kind} {row.key}): {' '.join(row.errors)}")
        if result.errors:
            raise CommandError("El archivo tiene errores: no se guardó nada.")
        if dry_run:
            self.stdout.write(self.style.WARNING("Vista previa: no se guardó nada."))
            return
        for store, name, raw_key in result.new_keys:
            self.stdout.write(f"Clave POS {store} / {name}: {raw_key} (no se vuelve a mostrar)")
        self.stdout.write(self.style.SUCCESS("Importación aplicada."))
