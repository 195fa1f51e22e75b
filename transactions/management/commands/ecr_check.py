"""`manage.py ecr_check --credential <public_id or pk>`: can the portal talk to Prisma?

Asks for a fresh token (so the keys are proven now, not an hour ago) and calls liveness. Prints
what happened in Spanish and exits non-zero on failure. Never prints the secret or the token.
"""

import contextlib
import time
import uuid

from django.core.management.base import BaseCommand, CommandError

from stores.models import Credential
from transactions.gateway import GatewayError, PrismaGateway


def _find_credential(value: str) -> Credential:
    value = value.strip()
    lookup: dict[str, object] | None = None
    if value.isdigit():
        lookup = {"pk": int(value)}
    else:
        with contextlib.suppress(ValueError):
            lookup = {"public_id": uuid.UUID(value)}
    credential = Credential.objects.filter(**lookup).first() if lookup else None
    if credential is None:
        raise CommandError(f"No existe la credencial {value!r} (use su id o su public_id).")
    return credential


class Command(BaseCommand):
    help = "Verifica una credencial de Prisma: pide un token y consulta liveness."

    def add_arguments(self, parser):
        parser.add_argument(
            "--credential", required=True, help="id numérico o public_id (UUID) de la credencial"
        )

    def handle(self, *args, **options):
        credential = _find_credential(options["credential"])
        self.stdout.write(
            f"Credencial: {credential.name} · {credential.get_environment_display()} · "
            f"{credential.base_url} (subnet_acquirer_id {credential.subnet_acquirer_id})"
        )
        try:
            # A gateway of its own, closed at the end: a command is a short-lived process.
            gateway = PrismaGateway(credential)
        except GatewayError as exc:
            raise CommandError(str(exc)) from exc
        try:
            started = time.monotonic()
            try:
                gateway.token(fresh=True)
            except GatewayError as exc:
                raise CommandError(f"No se pudo obtener un token: {exc}") from exc
            elapsed = int((time.monotonic() - started) * 1000)
            self.stdout.write(f"Token obtenido en {elapsed} ms (las claves son válidas).")
            started = time.monotonic()
            try:
                alive = gateway.liveness()
            except GatewayError as exc:
                raise CommandError(f"Liveness falló: {exc}") from exc
            elapsed = int((time.monotonic() - started) * 1000)
            if not alive:
                raise CommandError(f"Prisma respondió en {elapsed} ms pero no está disponible.")
            self.stdout.write(self.style.SUCCESS(f"Prisma está disponible ({elapsed} ms)."))
        finally:
            gateway.close()
