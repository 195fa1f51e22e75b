"""Re-encrypts every stored secret with the newest key of ECR_ENCRYPTION_KEYS."""

from django.core.management.base import BaseCommand, CommandError

from stores.crypto import SecretUnreadable
from stores.services import secrets_rotate_all


class Command(BaseCommand):
    help = (
        "Vuelve a cifrar todos los secretos (credenciales, webhooks) con la clave más nueva de "
        "ECR_ENCRYPTION_KEYS (la primera). Después se puede quitar la clave vieja."
    )

    def handle(self, *args, **options):
        try:
            counts = secrets_rotate_all()
        except SecretUnreadable as exc:
            raise CommandError(
                "Hay un secreto que no se puede descifrar con ninguna clave de "
                "ECR_ENCRYPTION_KEYS: agregá la clave vieja (después de la nueva) y repetí."
            ) from exc
        detail = ", ".join(f"{label}: {n}" for label, n in counts.items())
        self.stdout.write(
            self.style.SUCCESS(f"Secretos recifrados: {sum(counts.values())} ({detail}).")
        )
