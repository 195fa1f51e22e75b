from django.core.management.base import BaseCommand

from transactions.schedules import schedules_ensure


class Command(BaseCommand):
    help = "Crea o actualiza las tareas programadas (sweeper, cierres de lote, tokens, limpieza)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--start-sweeper",
            action="store_true",
            help="Encola ya una vuelta del sweeper (el programador tarda hasta un minuto).",
        )

    def handle(self, *args, **options):
        for name in schedules_ensure():
            self.stdout.write(f"programada: {name}")
        if options["start_sweeper"]:
            from django_q.tasks import async_task

            # Safe if one is already running: the loop exits when no sweeper slot is free.
            async_task("transactions.tasks.sweeper_task", task_name="ecr-sweeper-start")
            self.stdout.write("sweeper encolado")
