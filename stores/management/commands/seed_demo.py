"""Demo data: a merchant, 3 stores, 6 terminals, one user per role, a credential that points at
the simulator, and one POS key per store. Idempotent: a second run changes nothing and creates
no duplicates; POS keys are printed only when they are created."""

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from stores.models import Credential, Environment, Membership, Merchant, PosClient, Store, Terminal
from stores.roles import Role
from stores.services import pos_client_create

DEMO_PASSWORD = "demo1234"
MERCHANT_CUIT = "30-71234567-1"
MERCHANT_NAME = "Almacén Demo S.A."
CREDENTIAL_NAME = "Demo (simulador)"
# Fixed so the simulator and the portal agree across restarts; only ever used against the
# simulator, never against Prisma.
DEMO_PUBLIC_KEY = "demo-public-key-0001"
DEMO_SECRET_KEY = "demo-secret-key-0001"  # noqa: S105
POS_CLIENT_NAME = "POS demo"


@dataclass(frozen=True)
class DemoStore:
    code: str
    name: str
    address: str
    terminal_ids: tuple[str, str]


STORES = (
    DemoStore("centro", "Centro", "Av. Corrientes 1234, CABA", ("38011127", "38011128")),
    DemoStore("palermo", "Palermo", "Av. Santa Fe 4321, CABA", ("38011129", "38011130")),
    DemoStore("belgrano", "Belgrano", "Av. Cabildo 2222, CABA", ("38011131", "38011132")),
)

# username, first name, role, store code (None = every store of the merchant)
USERS = (
    ("duenio", "Dueña Demo", Role.OWNER, None),
    ("encargado", "Encargado Centro", Role.MANAGER, "centro"),
    ("cajero", "Cajero Centro", Role.CASHIER, "centro"),
    ("finanzas", "Finanzas Demo", Role.FINANCE, None),
)


def _standalone_simulator_on_this_machine() -> bool:
    """True when ECR_SIMULATOR_BASE_URL points at a loopback address: `manage.py runsimulator`
    run from this checkout with the same settings, so with the same database (README
    "Production-like on one machine"). With DEBUG=0 the simulator is not mounted in the portal,
    yet the demo still needs its credential and terminals registered there."""
    host = urlsplit(settings.ECR_SIMULATOR_BASE_URL).hostname or ""
    return host in {"127.0.0.1", "localhost", "::1"}


class Command(BaseCommand):
    help = "Crea (o completa) los datos de demostración. Se puede correr varias veces."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help="Corre aunque DEBUG esté apagado (crea usuarios con contraseñas conocidas).",
        )

    def handle(self, *args, force: bool = False, **options):
        if not (settings.DEBUG or getattr(settings, "TESTING", False) or force):
            raise CommandError(
                "seed_demo crea usuarios con contraseñas conocidas: con DEBUG=0 se niega "
                "(usá --force si de verdad es un entorno de prueba)."
            )
        with transaction.atomic():
            merchant = self._merchant()
            credential = self._credential(merchant)
            stores = [self._store(merchant, spec, credential) for spec in STORES]
            terminal_ids = [tid for spec in STORES for tid in spec.terminal_ids]
            self._users(merchant, {store.code: store for store in stores})
            new_keys = [(store, self._pos_key(store)) for store in stores]

        self.stdout.write(self.style.SUCCESS(f"Comercio: {merchant}"))
        self.stdout.write(f"Sucursales: {', '.join(s.code for s in stores)}")
        self.stdout.write(f"Terminales: {', '.join(terminal_ids)}")
        self.stdout.write(f"Credencial: {credential.name} -> {credential.base_url}")
        self.stdout.write(f"Usuarios (contraseña para todos: {DEMO_PASSWORD}):")
        self.stdout.write("  admin (superusuario, /admin/)")
        for username, _, role, store_code in USERS:
            where = store_code or "todas las sucursales"
            self.stdout.write(f"  {username} ({Role(role).label}, {where})")
        self.stdout.write("Claves POS (se muestran una sola vez, al crearlas):")
        for store, raw_key in new_keys:
            if raw_key:
                self.stdout.write(f"  {store.code}: {raw_key}")
            else:
                self.stdout.write(f"  {store.code}: ya existe (no se vuelve a mostrar)")

        if settings.ECR_SIMULATOR or _standalone_simulator_on_this_machine():
            self._register_in_simulator(merchant, terminal_ids)

    def _merchant(self) -> Merchant:
        merchant, _ = Merchant.objects.update_or_create(
            cuit=MERCHANT_CUIT, defaults={"legal_name": MERCHANT_NAME, "sandbox_only": False}
        )
        merchant.full_clean()
        return merchant

    def _store(self, merchant: Merchant, spec: DemoStore, credential: Credential) -> Store:
        store, created = Store.objects.update_or_create(
            code=spec.code,
            defaults={"merchant": merchant, "name": spec.name, "address": spec.address},
            create_defaults={
                "merchant": merchant,
                "name": spec.name,
                "address": spec.address,
                "environment": credential.environment,
                "credential": credential,
            },
        )
        if not created and store.credential_id is None:
            # A second run completes a store left without a credential but never moves one
            # whose owner switched it (or its environment) since.
            Store.objects.filter(pk=store.pk).update(
                credential=credential, environment=credential.environment
            )
        for number, terminal_id in enumerate(spec.terminal_ids, start=1):
            Terminal.objects.update_or_create(
                terminal_id=terminal_id,
                defaults={"store": store, "label": f"Caja {number}", "model": "Paystore P2"},
            )
        return store

    def _credential(self, merchant: Merchant) -> Credential:
        credential = Credential.objects.filter(
            name=CREDENTIAL_NAME, environment=Environment.HOMOLOGATION
        ).first() or Credential(name=CREDENTIAL_NAME, environment=Environment.HOMOLOGATION)
        credential.base_url = settings.ECR_SIMULATOR_BASE_URL
        credential.public_key = DEMO_PUBLIC_KEY
        # Re-encrypting an unchanged secret would rewrite the row on every run for nothing.
        if not credential.secret_key_encrypted or credential.get_secret() != DEMO_SECRET_KEY:
            credential.set_secret(DEMO_SECRET_KEY)
        credential.save()
        credential.merchants.add(merchant)
        return credential

    def _users(self, merchant: Merchant, stores: dict[str, Store]) -> None:
        self._user("admin", "Administración", superuser=True)
        for username, first_name, role, store_code in USERS:
            user = self._user(username, first_name)
            if store_code is None:
                Membership.objects.update_or_create(
                    user=user, merchant=merchant, defaults={"role": role}
                )
            else:
                Membership.objects.update_or_create(
                    user=user, store=stores[store_code], defaults={"role": role}
                )

    def _user(self, username: str, first_name: str, *, superuser: bool = False):
        user_model = get_user_model()
        user, _ = user_model.objects.get_or_create(username=username)
        user.first_name = first_name
        user.email = f"{username}@demo.invalid"
        user.is_active = True
        user.is_staff = superuser
        user.is_superuser = superuser
        if not user.check_password(DEMO_PASSWORD):
            user.set_password(DEMO_PASSWORD)
        user.save()
        return user

    def _pos_key(self, store: Store) -> str | None:
        """The raw key when one is created now; None when the store already has an active one."""
        if PosClient.objects.filter(store=store, revoked_at__isnull=True).exists():
            return None
        _, raw_key = pos_client_create(store=store, name=POS_CLIENT_NAME)
        return raw_key

    def _register_in_simulator(self, merchant: Merchant, terminal_ids: list[str]) -> None:
        """Tells the simulator about the demo credential and terminals, so the demo runs end to
        end. The simulator is the outside world: this goes through its own command, never its
        models."""
        if "simulator_seed" not in get_commands():
            self.stderr.write(
                self.style.WARNING(
                    "Aviso: el simulador no tiene el comando simulator_seed; no se registraron "
                    "la credencial ni las terminales de la demo en el simulador."
                )
            )
            return
        args = [
            "--public-key", DEMO_PUBLIC_KEY,
            "--secret-key", DEMO_SECRET_KEY,
            "--cuit", merchant.cuit,
            "--environment", Environment.HOMOLOGATION.value,
            "--merchant-name", merchant.legal_name,
        ]  # fmt: skip
        for terminal_id in terminal_ids:
            args += ["--terminal", terminal_id]
        call_command("simulator_seed", *args, stdout=self.stdout, stderr=self.stderr)
        self.stdout.write("Simulador: credencial y terminales registradas.")
