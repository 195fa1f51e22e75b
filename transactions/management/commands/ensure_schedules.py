from django.core.management.base import BaseCommand

from transactions.schedules import schedules_ensure


class Command(BaseCommand):
    help = "Crea o actualiza las tareas programadas (sweeper, cierres de lote, tokens, limpieza)."

    def handle(self, *args, **options):
        for name in schedules_ensure():
            self.stdout.write(f"programada: {name}")
