"""Re-encrypts every credential secret with the newest key of ECR_ENCRYPTION_KEYS."""

from django.core.management.base import BaseCommand, CommandError

from stores.crypto import SecretUnreadable
from stores.services import credential_rotate_all


class Command(BaseCommand):
    help = (
        "Vuelve a cifrar todos los secretos de credenciales con la clave más nueva de "
        "ECR_ENCRYPTION_KEYS (la primera). Después se puede quitar la clave vieja."
    )

    def handle(self, *args, **options):
        try:
            count = credential_rotate_all()
        except SecretUnreadable as exc:
            raise CommandError(
                "Hay un secreto que no se puede descifrar con ninguna clave de "
                "ECR_ENCRYPTION_KEYS: agregá la clave vieja (después de la nueva) y repetí."
            ) from exc
        self.stdout.write(self.style.SUCCESS(f"Secretos recifrados: {count}."))
