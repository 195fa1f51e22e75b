"""Create (idempotently) a simulator credential and its terminals, e.g. for `seed_demo`."""

from django.core.management.base import BaseCommand, CommandError

from simulator import services
from simulator.errors import SimError


class Command(BaseCommand):
    help = "Crea o actualiza una credencial simulada y sus terminales (idempotente)."

    def add_arguments(self, parser):
        parser.add_argument("--public-key", required=True)
        parser.add_argument("--secret-key", required=True)
        parser.add_argument("--cuit", required=True)
        parser.add_argument(
            "--environment",
            default="homologation",
            choices=["sandbox", "homologation", "production"],
        )
        parser.add_argument("--merchant-name", default="COMERCIO DEMO")
        parser.add_argument("--merchant-id", default=None)
        parser.add_argument(
            "--terminal", action="append", default=[], help="id de 8 dígitos; repetible"
        )

    def handle(self, *args, **options):
        try:
            credential = services.credential_upsert(
                public_key=options["public_key"],
                secret_key=options["secret_key"],
                cuit=options["cuit"],
                environment=options["environment"],
                merchant_name=options["merchant_name"],
                merchant_id=options["merchant_id"],
            )
            terminals = [
                services.terminal_upsert(terminal_id=terminal_id, cuit=options["cuit"])
                for terminal_id in options["terminal"]
            ]
        except SimError as error:
            raise CommandError(error.title) from None
        self.stdout.write(
            f"Credencial {credential.public_key} ({credential.environment}, CUIT "
            f"{credential.cuit}); terminales: {', '.join(t.terminal_id for t in terminals) or '-'}"
        )
