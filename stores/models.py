"""Who and where: merchants, their stores and terminals, provider credentials, people and POS
keys."""

import datetime as dt
import uuid
import zoneinfo

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

_TIME_ZONE_CHOICES = [
    (name, name)
    for name in sorted(zoneinfo.available_timezones())
    if name.startswith("America/Argentina/")
]


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
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "comercio"
        verbose_name_plural = "comercios"
        ordering = ["legal_name"]

    def __str__(self) -> str:
        return f"{self.legal_name} ({self.cuit})"

    def clean(self) -> None:
        if not self.cuit:
            # Blank is reported by clean_fields (or, in a form, the CUIT field already failed and
            # was left out of the instance): a second "not digits" error would only confuse.
            return
        try:
            self.cuit = normalize_cuit(self.cuit)
        except ValidationError as exc:
            raise ValidationError({"cuit": exc.messages}) from exc
        if not cuit_has_valid_check_digit(self.cuit) and not self.sandbox_only:
            raise ValidationError(
                {"cuit": "El dígito verificador del CUIT no es válido."}, code="cuit_check_digit"
            )

    @property
    def cuit_warning(self) -> str:
        if self.sandbox_only and not cuit_has_valid_check_digit(self.cuit):
            return "CUIT ficticio de sandbox: no sirve para homologación ni producción."
        return ""


class Store(models.Model):
    """A sucursal of a merchant: where terminals stand and people work.

    `environment` says which of the merchant's credentials the store uses, so one store can pilot
    in production while the others stay in homologation.
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


class Terminal(models.Model):
    """A Paystore card terminal of a store, known to Prisma by its 8-digit terminal id."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="terminals")
    terminal_id = models.CharField(
        "número de terminal", max_length=8, unique=True, validators=[validate_terminal_id]
    )
    serial = models.CharField("número de serie", max_length=40, blank=True)
    model = models.CharField("modelo", max_length=40, blank=True)
    label = models.CharField("nombre", max_length=80, blank=True, help_text="p. ej. 'Caja 1'.")
    enabled = models.BooleanField("habilitada", default=True)
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
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    retired_at = models.DateTimeField("retirada", null=True, blank=True, editable=False)

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
