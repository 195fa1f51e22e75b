"""Creates an API key for a POS bound to one store and prints it once."""

from django.core.management.base import BaseCommand, CommandError

from stores.models import Store
from stores.services import pos_client_create


class Command(BaseCommand):
    help = "Crea una clave de API para un POS de una sucursal y la muestra una única vez."

    def add_arguments(self, parser):
        parser.add_argument("--store", required=True, help="Código de la sucursal, p. ej. centro")
        parser.add_argument("--name", required=True, help="Nombre del POS, p. ej. 'Caja 1'")
        parser.add_argument(
            "--charge-only",
            action="store_true",
            help="Solo cobrar: sin cancelar, anular, devolver ni cerrar lote.",
        )
        parser.add_argument(
            "--refund-unreferenced",
            action="store_true",
            help="Permite devoluciones sin indicar el cobro original.",
        )

    def handle(self, *args, store: str, name: str, **options):
        try:
            store_obj = Store.objects.get(code=store)
        except Store.DoesNotExist as exc:
            raise CommandError(f"No existe una sucursal con el código {store!r}.") from exc
        name = name.strip()
        if not name:
            raise CommandError("El nombre del POS no puede estar vacío.")
        permissions = {"can_refund_unreferenced": options["refund_unreferenced"]}
        if options["charge_only"]:
            if options["refund_unreferenced"]:
                raise CommandError("--charge-only y --refund-unreferenced se contradicen.")
            permissions.update(
                can_cancel=False, can_reverse=False, can_refund=False, can_close_batch=False
            )
        client, raw_key = pos_client_create(store=store_obj, name=name, permissions=permissions)
        self.stderr.write(
            f"Clave creada para {client.name} en {store_obj.name} ({store_obj.code}). "
            "Copiala ahora: no se vuelve a mostrar."
        )
        # The key alone on stdout, so `KEY=$(manage.py create_pos_key ...)` just works.
        self.stdout.write(raw_key)
