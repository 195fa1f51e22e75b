"""Who and where: merchants, their stores and terminals, provider credentials, people and POS
keys."""

import datetime as dt
import uuid
import zoneinfo
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from stores import crypto
from stores.roles import Role
from stores.validators import (
    cuit_has_valid_check_digit,
    normalize_cuit,
    validate_terminal_id,
)


class Environment(models.TextChoices):
    """Provider environments; each fixes the `subnet_acquirer_id` sent on every call."""

    SANDBOX = "sandbox", "Sandbox"
    HOMOLOGATION = "homologation", "Homologación"
    PRODUCTION = "production", "Producción"


SUBNET_ACQUIRER_IDS: dict[str, str] = {
    Environment.SANDBOX: "1",
    Environment.HOMOLOGATION: "9",
    Environment.PRODUCTION: "2",
}

# What the portal calls itself on the wire unless a credential's registration says otherwise.
DEFAULT_ECR_NAME = "ECR Portal"

_TIME_ZONE_CHOICES = [
    (name, name)
    for name in sorted(zoneinfo.available_timezones())
    if name.startswith("America/Argentina/")
]


def cleaned_cuit(cuit: str, *, check_digit: bool) -> str:
    """The CUIT normalised for a model's `clean()`, or a ValidationError on its `cuit` field.

    Blank is returned as is: clean_fields reports it (or, in a form, the CUIT field already
    failed and was left out of the instance), and a second "not digits" error would only confuse.
    """
    if not cuit:
        return cuit
    try:
        cuit = normalize_cuit(cuit)
    except ValidationError as exc:
        raise ValidationError({"cuit": exc.messages}) from exc
    if check_digit and not cuit_has_valid_check_digit(cuit):
        raise ValidationError(
            {"cuit": "El dígito verificador del CUIT no es válido."}, code="cuit_check_digit"
        )
    return cuit


class Integrator(models.Model):
    """A company registered in Prisma's API Portal (CUIT, razón social) that owns credentials and
    uses them with several merchants ("preintegradas"): a credential homologated once serves
    every merchant it is shared with. Its `members` are the integrator's people, who create
    merchants from the dashboard and become their owners.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    cuit = models.CharField("CUIT", max_length=13, unique=True)
    legal_name = models.CharField("razón social", max_length=200)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="integrators", blank=True, verbose_name="personas"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "integrador"
        verbose_name_plural = "integradores"
        ordering = ["legal_name"]

    def __str__(self) -> str:
        return f"{self.legal_name} ({self.cuit})"

    def clean(self) -> None:
        self.cuit = cleaned_cuit(self.cuit, check_digit=True)


class Merchant(models.Model):
    """A business (CUIT, razón social) that owns stores and holds provider credentials.

    The CUIT is stored normalised (`XX-XXXXXXXX-X`) and must pass AFIP's check digit, except for a
    merchant flagged `sandbox_only`: the provider's sandbox demands the fictitious CUIT
    30-12345678-9, whose check digit is wrong.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    cuit = models.CharField("CUIT", max_length=13, unique=True)
    legal_name = models.CharField("razón social", max_length=200)
    sandbox_only = models.BooleanField(
        "solo sandbox",
        default=False,
        help_text="Permite el CUIT ficticio del sandbox de Prisma (dígito verificador inválido).",
    )
    # The pilot gate (issue 14): until an owner marks the pilot passed, production charges run
    # only in `pilot_store` (the first store switched to production) on at most two production
    # terminals. See `stores.golive`.
    pilot_store = models.ForeignKey(
        "Store",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="sucursal piloto",
    )
    pilot_passed_at = models.DateTimeField("piloto aprobado", null=True, blank=True)
    pilot_passed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="piloto aprobado por",
    )
    integrator = models.ForeignKey(
        Integrator,
        on_delete=models.PROTECT,
        related_name="merchants",
        null=True,
        blank=True,
        verbose_name="integrador",
        help_text="El integrador que dio de alta al comercio, si lo hubo.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "comercio"
        verbose_name_plural = "comercios"
        ordering = ["legal_name"]

    def __str__(self) -> str:
        return f"{self.legal_name} ({self.cuit})"

    def clean(self) -> None:
        # A sandbox-only merchant may use the sandbox's fictitious CUIT (see `cuit_warning`).
        self.cuit = cleaned_cuit(self.cuit, check_digit=not self.sandbox_only)

    @property
    def cuit_warning(self) -> str:
        if self.sandbox_only and not cuit_has_valid_check_digit(self.cuit):
            return "CUIT ficticio de sandbox: no sirve para homologación ni producción."
        return ""


class Store(models.Model):
    """A sucursal of a merchant: where terminals stand and people work.

    `credential` is the provider credential the store's charges use, chosen explicitly by an owner
    (never "the newest one"): adding a credential changes no store, and switching one asks for
    confirmation after a successful connection test (`stores.services.store_set_credential`).
    `environment` follows the credential's, so one store can pilot in production while the
    others stay in homologation.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="stores")
    name = models.CharField("nombre", max_length=120)
    code = models.SlugField(
        "código", max_length=40, unique=True, help_text="Identificador corto, p. ej. 'centro'."
    )
    address = models.CharField("dirección", max_length=250, blank=True)
    time_zone = models.CharField(
        "zona horaria",
        max_length=64,
        choices=_TIME_ZONE_CHOICES,
        default="America/Argentina/Buenos_Aires",
    )
    environment = models.CharField(
        "ambiente", max_length=16, choices=Environment.choices, default=Environment.HOMOLOGATION
    )
    credential = models.ForeignKey(
        "Credential",
        on_delete=models.PROTECT,
        related_name="stores",
        null=True,
        blank=True,
        verbose_name="credencial",
        help_text="La credencial de Prisma con la que cobra la sucursal.",
    )
    batch_close_hour = models.PositiveSmallIntegerField(
        "hora de cierre de lote",
        default=22,
        validators=[MaxValueValidator(23)],
        help_text="Hora local (0-23) del cierre de lote diario automático.",
    )
    pending_timeout_seconds = models.PositiveIntegerField(
        "espera máxima de una intención (s)",
        default=120,
        validators=[MinValueValidator(15), MaxValueValidator(3600)],
        help_text="Una intención que ninguna terminal toma en este tiempo se cancela.",
    )
    # Terminal health (the fleet page): a terminal idle for longer than this while the store is
    # open reads "sin actividad". Outside opening hours silence is normal and says nothing.
    opens_at = models.TimeField("abre a las", default=dt.time(9, 0))
    closes_at = models.TimeField(
        "cierra a las",
        default=dt.time(21, 0),
        help_text="Hora local. Si es anterior a la apertura, la sucursal cierra al día siguiente.",
    )
    idle_alert_minutes = models.PositiveIntegerField(
        "aviso de terminal sin actividad (min)",
        default=60,
        validators=[MinValueValidator(5), MaxValueValidator(24 * 60)],
        help_text="Una terminal sin tomar ni responder nada en este tiempo, con la sucursal "
        "abierta, se muestra «sin actividad».",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "sucursal"
        verbose_name_plural = "sucursales"
        ordering = ["merchant__legal_name", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    @property
    def subnet_acquirer_id(self) -> str:
        return SUBNET_ACQUIRER_IDS[self.environment]

    def is_open_at(self, moment: dt.datetime) -> bool:
        """Whether `moment` falls within the store's opening hours (its own time zone). Hours
        that cross midnight (22:00 to 06:00) are open from the opening to the next closing; equal
        hours mean open all day."""
        local = moment.astimezone(self.tzinfo).time()
        if self.opens_at == self.closes_at:
            return True
        if self.opens_at < self.closes_at:
            return self.opens_at <= local < self.closes_at
        return local >= self.opens_at or local < self.closes_at


class TerminalPurpose(models.TextChoices):
    """Prisma hands test terminals for homologation and production ones for real charges; one
    never works in the other's environment."""

    TEST = "test", "De prueba (homologación)"
    PRODUCTION = "production", "De producción"


class Terminal(models.Model):
    """A Paystore card terminal of a store, known to Prisma by its 8-digit terminal id.

    `purpose` says whether Prisma gave it for tests (sandbox and homologation only) or for
    production; a charge in the other kind of environment is refused before anything is sent.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="terminals")
    terminal_id = models.CharField(
        "número de terminal", max_length=8, unique=True, validators=[validate_terminal_id]
    )
    serial = models.CharField("número de serie", max_length=40, blank=True)
    model = models.CharField("modelo", max_length=40, blank=True)
    label = models.CharField("nombre", max_length=80, blank=True, help_text="p. ej. 'Caja 1'.")
    enabled = models.BooleanField("habilitada", default=True)
    purpose = models.CharField(
        "uso", max_length=16, choices=TerminalPurpose.choices, default=TerminalPurpose.TEST
    )
    # The provider offers no call to ask whether a terminal number exists or what it may do
    # (see the contract): a terminal is "sin verificar" until it first takes an intention, which
    # the engine records here.
    verified_at = models.DateTimeField("verificada", null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "terminal"
        verbose_name_plural = "terminales"
        ordering = ["store__name", "label", "terminal_id"]

    def __str__(self) -> str:
        return f"{self.label or 'Terminal'} ({self.terminal_id})"


class CredentialQuerySet(models.QuerySet):
    def active(self) -> "CredentialQuerySet":
        """Credentials that are not retired: the only ones chosen for new operations."""
        return self.filter(retired_at__isnull=True)


class Credential(models.Model):
    """Prisma API keys for one environment, used by one merchant or shared by several.

    The secret key is encrypted at rest (see `stores.crypto`) and write-only: no page, form,
    API answer, admin list, log or `repr` shows it. Use `set_secret()` / `get_secret()`.

    A credential is retired, never deleted (`retired_at`): its intents keep pointing at it for
    their history, but no new operation chooses it and no page offers it again.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField("nombre", max_length=120)
    environment = models.CharField("ambiente", max_length=16, choices=Environment.choices)
    base_url = models.URLField(
        "URL base",
        help_text="p. ej. https://api-homo.prismamediosdepago.com (sin barra final).",
    )
    public_key = models.CharField("clave pública", max_length=200)
    secret_key_encrypted = models.TextField(editable=False)
    merchants = models.ManyToManyField(Merchant, related_name="credentials", blank=True)
    integrator = models.ForeignKey(
        Integrator,
        on_delete=models.PROTECT,
        related_name="credentials",
        null=True,
        blank=True,
        verbose_name="integrador dueño",
        help_text="Quien registró las claves en el API Portal de Prisma (vacío: el comercio).",
    )
    # What the registration in Prisma's API Portal declared; sent on every payment and refund.
    ecr_provider = models.CharField("ecr_provider", max_length=200, default=DEFAULT_ECR_NAME)
    ecr_name = models.CharField("ecr_name", max_length=200, default=DEFAULT_ECR_NAME)
    ecr_version = models.CharField(
        "ecr_version",
        max_length=200,
        blank=True,
        help_text="Vacío: la versión de este portal.",
    )
    # Homologation is of the credential, not of a merchant: a merchant on an approved
    # preintegrada credential starts homologated.
    homologation_approved_at = models.DateTimeField(
        "homologación aprobada", null=True, blank=True, editable=False
    )
    homologation_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name="aprobación registrada por",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    retired_at = models.DateTimeField("retirada", null=True, blank=True, editable=False)
    # Set by a successful "Probar conexión", cleared when the URL or keys change: a store may only
    # be switched to a credential that has been seen working as it is now.
    last_tested_ok_at = models.DateTimeField(
        "última prueba exitosa", null=True, blank=True, editable=False
    )

    objects = CredentialQuerySet.as_manager()

    class Meta:
        verbose_name = "credencial"
        verbose_name_plural = "credenciales"
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_environment_display()})"

    def __repr__(self) -> str:
        # Django's default repr is str(); spelled out so nobody ever adds the secret here.
        return f"<Credential {self.pk} {self.name!r} {self.environment}>"

    def save(self, *args, **kwargs):
        self.base_url = self.base_url.rstrip("/")
        super().save(*args, **kwargs)

    @property
    def subnet_acquirer_id(self) -> str:
        return SUBNET_ACQUIRER_IDS[self.environment]

    @property
    def is_retired(self) -> bool:
        return self.retired_at is not None

    @property
    def is_homologated(self) -> bool:
        return self.homologation_approved_at is not None

    @property
    def is_simulator(self) -> bool:
        """Whether it points at the portal's simulator (mounted at `/simulator`, embedded or
        standalone): its operations are practice, never evidence for Prisma."""
        path = urlsplit(self.base_url).path.rstrip("/")
        return path.endswith("/simulator") or self.base_url.rstrip("/") == (
            getattr(settings, "ECR_SIMULATOR_BASE_URL", "").rstrip("/")
        )

    def set_secret(self, plaintext: str) -> None:
        self.secret_key_encrypted = crypto.encrypt(plaintext)

    def get_secret(self) -> str:
        return crypto.decrypt(self.secret_key_encrypted)


class Membership(models.Model):
    """A person's role in one store, or in every store of a merchant (store left empty)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="memberships", null=True, blank=True
    )
    store = models.ForeignKey(
        Store, on_delete=models.CASCADE, related_name="memberships", null=True, blank=True
    )
    role = models.CharField("rol", max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "membresía"
        verbose_name_plural = "membresías"
        constraints = [
            models.CheckConstraint(
                condition=(Q(store__isnull=False, merchant__isnull=True))
                | (Q(store__isnull=True, merchant__isnull=False)),
                name="membership_store_xor_merchant",
            ),
            models.UniqueConstraint(fields=["user", "store"], name="membership_user_store"),
            models.UniqueConstraint(fields=["user", "merchant"], name="membership_user_merchant"),
        ]

    def __str__(self) -> str:
        where = self.store or self.merchant
        return f"{self.user} · {self.get_role_display()} · {where}"


class PosClient(models.Model):
    """An API key of one POS, bound to one store.

    The key is `<prefix>.<secret>`; only the prefix (to find the row) and a SHA-256 of the whole
    key are stored. The secret is 32 random bytes, so a fast hash is safe and keeps every API
    request cheap (a slow password hash would cost ~100 ms per request for no gain).
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="pos_clients")
    name = models.CharField("nombre", max_length=120)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # What the key may do (issue 15). A till that only charges gets a charge-only key, so a
    # stolen or misused key cannot move money back out. Existing keys keep every operation
    # they had, except refunds without an original payment, which must be granted.
    can_charge = models.BooleanField("puede cobrar", default=True)
    can_cancel = models.BooleanField("puede cancelar", default=True)
    can_reverse = models.BooleanField("puede anular", default=True)
    can_refund = models.BooleanField("puede devolver", default=True)
    can_close_batch = models.BooleanField("puede cerrar lote", default=True)
    can_refund_unreferenced = models.BooleanField(
        "puede devolver sin cobro original",
        default=False,
        help_text="Devoluciones que no nombran el cobro que devuelven.",
    )

    class Meta:
        verbose_name = "cliente POS"
        verbose_name_plural = "clientes POS"
        ordering = ["store__name", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def allows(self, action: str) -> bool:
        """Whether the key's permissions include `action` (a `stores.roles.Action` value).
        Every key may view its store; actions without a field (approving, settings) none may."""
        if action == "view":
            return True
        field = _POS_KEY_PERMISSION_FIELDS.get(action)
        return field is not None and bool(getattr(self, field))


# Action -> the key's permission field.
_POS_KEY_PERMISSION_FIELDS = {
    "charge": "can_charge",
    "cancel": "can_cancel",
    "reverse": "can_reverse",
    "refund": "can_refund",
    "close_batch": "can_close_batch",
    "refund_unreferenced": "can_refund_unreferenced",
}


class OnboardingStage(models.TextChoices):
    """Prisma's onboarding, in order (issue 14 item 3)."""

    REGISTERED = "registered", "Registrado en el API Portal"
    HOMOLOGATION_REQUESTED = "homologation_requested", "Ambiente de homologación pedido"
    TEST_TERMINALS_REQUESTED = "test_terminals_requested", "Terminales de prueba pedidas"
    TEST_TERMINALS_RECEIVED = "test_terminals_received", "Terminales de prueba recibidas"
    CASES_DONE = "cases_done", "Casos de homologación hechos"
    EVIDENCE_SENT = "evidence_sent", "Evidencia enviada a Prisma"
    APPROVED = "approved", "Homologación aprobada"
    PILOT = "pilot", "Piloto en producción"
    ROLLOUT = "rollout", "Despliegue"


class OnboardingStep(models.Model):
    """A stage a merchant's onboarding with Prisma reached: when, who recorded it, the next step,
    Prisma's incident number (homologation request) and the test-terminals request as sent
    (`details`). The newest step is where the merchant waits; reminders go out at 7 days and a
    warning at 12 (Prisma returns an account silent for two weeks to its backlog)."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="onboarding")
    stage = models.CharField("etapa", max_length=32, choices=OnboardingStage.choices)
    reached_at = models.DateTimeField("fecha")
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    next_step = models.CharField("próximo paso", max_length=300, blank=True)
    incident_number = models.CharField("número de incidente", max_length=40, blank=True)
    details = models.JSONField("datos enviados", default=dict, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    warned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "etapa de alta"
        verbose_name_plural = "etapas de alta"
        ordering = ["merchant", "reached_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "stage"], name="onboarding_stage_once")
        ]

    def __str__(self) -> str:
        return f"{self.merchant} · {self.get_stage_display()}"
