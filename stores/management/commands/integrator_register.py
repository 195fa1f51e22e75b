"""Registers an integrator (as in Prisma's API Portal) and one of its people, who can then sign
in and create merchants from the dashboard ("Nuevo comercio"). Safe to run twice."""

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from stores.services import integrator_register


class Command(BaseCommand):
    help = "Registra un integrador (CUIT, razón social) y una persona suya."

    def add_arguments(self, parser):
        parser.add_argument("--cuit", required=True)
        parser.add_argument("--legal-name", required=True, help="Razón social.")
        parser.add_argument("--username", required=True, help="Usuario de la persona.")
        parser.add_argument(
            "--password", default="", help="Contraseña inicial (solo si el usuario es nuevo)."
        )

    def handle(self, *args, cuit, legal_name, username, password, **options):
        user_model = get_user_model()
        try:
            with transaction.atomic():
                person = user_model.objects.filter(username=username).first()
                if person is None:
                    if not password:
                        raise CommandError("Usuario nuevo: indicá --password.")
                    validate_password(password, user=user_model(username=username))
                    person = user_model.objects.create_user(username=username, password=password)
                integrator = integrator_register(cuit=cuit, legal_name=legal_name, members=[person])
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(self.style.SUCCESS(f"Integrador: {integrator} · persona: {username}"))
