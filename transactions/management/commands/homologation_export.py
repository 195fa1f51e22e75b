"""The homologation evidence of a merchant as Prisma asks for it (XLSX in the shape of
"HOMOLOGACION ECR.xlsx", or CSV when the file ends in .csv). Simulator evidence is left out."""

import shutil

from django.core.management.base import BaseCommand, CommandError

from stores.models import Merchant
from stores.validators import normalize_cuit
from transactions.reporting import homologation_export


class Command(BaseCommand):
    help = "Exporta la evidencia de homologación de un comercio (XLSX o CSV) para Prisma."

    def add_arguments(self, parser):
        parser.add_argument("--merchant", required=True, help="CUIT del comercio.")
        parser.add_argument("--out", required=True, help="Archivo .xlsx (o .csv) a escribir.")

    def handle(self, *args, merchant, out, **options):
        try:
            merchant_obj = Merchant.objects.get(cuit=normalize_cuit(merchant))
        except Exception as exc:
            raise CommandError(f"No hay un comercio con CUIT {merchant}.") from exc
        if out.lower().endswith(".csv"):
            with open(out, "w", encoding="utf-8", newline="") as file:
                file.write(homologation_export.homologation_csv(merchant_obj))
        else:
            source = homologation_export.homologation_xlsx(merchant_obj)
            with open(out, "wb") as file:
                shutil.copyfileobj(source, file)
            source.close()
        self.stdout.write(self.style.SUCCESS(f"Evidencia de {merchant_obj} en {out}."))
