"""Onboarding tracker (issue 14 item 3): which of Prisma's stages a merchant reached, when and
by whom, what comes next, Prisma's incident number, and the test-terminals request ready to
paste into the e-mail to Prisma. Reminders at 7 days of waiting in a stage, a warning at 12
(`onboarding_reminders`, run daily by the scheduler)."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.utils import timezone

from stores import audit, permissions
from stores.models import Membership, Merchant, OnboardingStage, OnboardingStep
from stores.roles import Role

logger = logging.getLogger(__name__)

REMIND_AFTER = dt.timedelta(days=7)
WARN_AFTER = dt.timedelta(days=12)
ORDER = list(OnboardingStage)

# The fields of Prisma's test-terminals request (its onboarding e-mail), in its order.
TEST_TERMINALS_FIELDS = [
    ("cantidad", "Cantidad de terminales"),
    ("contacto", "Nombre de contacto"),
    ("domicilio", "Domicilio"),
    ("localidad", "Localidad"),
    ("provincia", "Provincia"),
    ("codigo_postal", "Código postal"),
    ("telefono", "Teléfono"),
    ("horario", "Horario de recepción"),
    ("cuit", "CUIT"),
]

NEXT_STEPS = {
    OnboardingStage.REGISTERED: "Pedir a Prisma el ambiente de homologación.",
    OnboardingStage.HOMOLOGATION_REQUESTED: "Pedir las terminales de prueba.",
    OnboardingStage.TEST_TERMINALS_REQUESTED: "Esperar las terminales y cargarlas.",
    OnboardingStage.TEST_TERMINALS_RECEIVED: "Correr los casos del asistente de homologación.",
    OnboardingStage.CASES_DONE: "Enviar a Prisma el XLSX con los payment_id.",
    OnboardingStage.EVIDENCE_SENT: "Esperar la aprobación de Prisma.",
    OnboardingStage.APPROVED: "Cargar la credencial de producción y elegir la sucursal piloto.",
    OnboardingStage.PILOT: "Probar el piloto y marcarlo aprobado.",
    OnboardingStage.ROLLOUT: "",
}


def steps(merchant: Merchant) -> list[OnboardingStep]:
    return list(merchant.onboarding.select_related("by").order_by("reached_at", "pk"))


def current_step(merchant: Merchant) -> OnboardingStep | None:
    return merchant.onboarding.order_by("-reached_at", "-pk").first()


def request_text(details: dict) -> str:
    """The test-terminals request as lines to paste into the e-mail to Prisma."""
    return "\n".join(f"{label}: {details.get(key, '')}" for key, label in TEST_TERMINALS_FIELDS)


def onboarding_advance(
    *,
    merchant: Merchant,
    stage: str,
    user=None,
    next_step: str = "",
    incident_number: str = "",
    details: dict | None = None,
    at: dt.datetime | None = None,
) -> OnboardingStep:
    """Records that the merchant reached `stage` (forward only). The homologation request needs
    Prisma's incident number; the test-terminals request, every field of the form."""
    if user is not None and not permissions.user_manages_merchant(user=user, merchant=merchant):
        raise PermissionDenied("Solo el dueño del comercio registra el alta en Prisma.")
    stage = OnboardingStage(stage)
    current = current_step(merchant)
    if current is not None and ORDER.index(stage) <= ORDER.index(OnboardingStage(current.stage)):
        raise ValidationError({"stage": "Elegí una etapa posterior a la actual."})
    details = {k: str(v).strip() for k, v in (details or {}).items()}
    if stage == OnboardingStage.HOMOLOGATION_REQUESTED and not incident_number.strip():
        raise ValidationError({"incident_number": "Ingresá el número de incidente de Prisma."})
    if stage == OnboardingStage.TEST_TERMINALS_REQUESTED:
        missing = [label for key, label in TEST_TERMINALS_FIELDS if not details.get(key)]
        if missing:
            raise ValidationError({"details": f"Completá: {', '.join(missing)}."})
    step = OnboardingStep.objects.create(
        merchant=merchant,
        stage=stage,
        reached_at=at or timezone.now(),
        by=user if getattr(user, "pk", None) else None,
        next_step=next_step or NEXT_STEPS[stage],
        incident_number=incident_number.strip(),
        details=details,
    )
    audit.record(merchant, {"onboarding": (current.stage if current else "—", stage)}, user=user)
    return step


def waiting_notice(step: OnboardingStep | None, now: dt.datetime | None = None) -> str:
    """The dashboard's reminder for a stage that has waited too long ("" when it has not)."""
    if step is None or step.stage == OnboardingStage.ROLLOUT:
        return ""
    waited = (now or timezone.now()) - step.reached_at
    if waited >= WARN_AFTER:
        return (
            f"Hace {waited.days} días que el alta está en «{step.get_stage_display()}»: Prisma "
            "devuelve a su lista de espera una cuenta sin actividad por dos semanas. "
            f"Próximo paso: {step.next_step}"
        )
    if waited >= REMIND_AFTER:
        return (
            f"Recordatorio: hace {waited.days} días que el alta está en "
            f"«{step.get_stage_display()}». Próximo paso: {step.next_step}"
        )
    return ""


def onboarding_reminders(*, now: dt.datetime | None = None) -> dict[str, int]:
    """E-mails the owners of merchants waiting 7 days in a stage (once per stage) and warns at
    12 (once). Safe to run twice: each notice is claimed by a guarded update first."""
    now = now or timezone.now()
    sent = {"reminders": 0, "warnings": 0}
    latest = {}
    for step in OnboardingStep.objects.exclude(stage=OnboardingStage.ROLLOUT).order_by(
        "merchant_id", "reached_at", "pk"
    ):
        latest[step.merchant_id] = step
    for step in latest.values():
        waited = now - step.reached_at
        if waited >= WARN_AFTER:
            field, kind = "warned_at", "warnings"
        elif waited >= REMIND_AFTER:
            field, kind = "reminded_at", "reminders"
        else:
            continue
        claimed = OnboardingStep.objects.filter(pk=step.pk, **{f"{field}__isnull": True}).update(
            **{field: now}
        )
        if not claimed:
            continue
        _mail_owners(step, waiting_notice(step, now))
        sent[kind] += 1
    return sent


def _mail_owners(step: OnboardingStep, text: str) -> None:
    emails = list(
        Membership.objects.filter(merchant_id=step.merchant_id, role=Role.OWNER)
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )
    if not emails:
        return
    try:
        send_mail(
            f"Alta en Prisma de {step.merchant.legal_name}",
            text,
            getattr(settings, "DEFAULT_FROM_EMAIL", None),
            emails,
        )
    except OSError:
        # The dashboard shows the same notice; a mail server down must not stop the others.
        logger.warning("onboarding reminder mail failed for merchant %s", step.merchant_id)
