"""Issue 14 item 3: the onboarding tracker: stages with dates and who, the incident number, the
test-terminals request ready to paste, reminders at 7 days and a warning at 12 (scheduled)."""

import datetime as dt

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from stores import onboarding
from stores.models import OnboardingStage
from transactions.schedules import SCHEDULES

pytestmark = pytest.mark.django_db
PAGE = reverse("dashboard:onboarding")
REQUEST = {
    "cantidad": "2",
    "contacto": "Ana Pérez",
    "domicilio": "Av. Corrientes 1234",
    "localidad": "CABA",
    "provincia": "Buenos Aires",
    "codigo_postal": "1043",
    "telefono": "11 5555-0000",
    "horario": "9 a 18",
    "cuit": "30-71234567-1",
}


def test_stages_go_forward_with_their_rules(owner, merchant):
    onboarding.onboarding_advance(merchant=merchant, stage="registered", user=owner)
    with pytest.raises(ValidationError) as exc:
        onboarding.onboarding_advance(merchant=merchant, stage="homologation_requested", user=owner)
    assert "incident_number" in exc.value.message_dict
    onboarding.onboarding_advance(
        merchant=merchant, stage="homologation_requested", user=owner, incident_number="INC-42"
    )
    with pytest.raises(ValidationError):
        onboarding.onboarding_advance(merchant=merchant, stage="registered", user=owner)
    with pytest.raises(ValidationError) as exc:
        onboarding.onboarding_advance(
            merchant=merchant, stage="test_terminals_requested", details={"cantidad": "2"}
        )
    assert "Código postal" in str(exc.value)
    step = onboarding.onboarding_advance(
        merchant=merchant, stage="test_terminals_requested", user=owner, details=REQUEST
    )
    assert step.by == owner and step.next_step
    assert "Horario de recepción: 9 a 18" in onboarding.request_text(step.details)


def test_page_shows_stages_and_the_request_to_paste(client_for, owner, merchant):
    client = client_for(owner)
    response = client.post(PAGE, {"stage": "registered"})
    assert response.status_code == 302
    client.post(PAGE, {"stage": "homologation_requested", "incident_number": "INC-7"})
    data = {"stage": "test_terminals_requested", **{f"t_{k}": v for k, v in REQUEST.items()}}
    assert client.post(PAGE, data).status_code == 302
    body = client.get(PAGE).content.decode()
    assert "INC-7" in body and "data-request-text" in body and "Código postal: 1043" in body
    refused = client.post(PAGE, {"stage": "registered"})
    assert refused.status_code == 422 and "etapa posterior" in refused.content.decode()


def test_reminder_at_seven_days_and_warning_at_twelve_once_each(owner, merchant):
    owner.email = "duenia@example.com"
    owner.save()
    start = timezone.now()
    onboarding.onboarding_advance(merchant=merchant, stage="registered", user=owner, at=start)
    assert onboarding.onboarding_reminders(now=start + dt.timedelta(days=6)) == {
        "reminders": 0, "warnings": 0,
    }  # fmt: skip
    seven = start + dt.timedelta(days=7)
    assert onboarding.onboarding_reminders(now=seven)["reminders"] == 1
    assert onboarding.onboarding_reminders(now=seven)["reminders"] == 0, "once"
    assert len(mail.outbox) == 1 and "Recordatorio" in mail.outbox[0].body
    twelve = start + dt.timedelta(days=12)
    assert onboarding.onboarding_reminders(now=twelve)["warnings"] == 1
    assert "dos semanas" in mail.outbox[1].body
    step = onboarding.current_step(merchant)
    assert "dos semanas" in onboarding.waiting_notice(step, twelve)


def test_rollout_is_never_reminded(merchant):
    onboarding.onboarding_advance(
        merchant=merchant, stage=OnboardingStage.ROLLOUT, at=timezone.now() - dt.timedelta(days=30)
    )
    assert onboarding.onboarding_reminders() == {"reminders": 0, "warnings": 0}


def test_the_reminders_are_scheduled():
    assert ("ecr-onboarding-reminders", "stores.tasks.onboarding_reminders_task", 24 * 60) in (
        SCHEDULES
    )


def test_the_dashboard_shows_the_reminder(client_for, owner, merchant):
    onboarding.onboarding_advance(
        merchant=merchant, stage="registered", at=timezone.now() - dt.timedelta(days=8)
    )
    assert "data-onboarding-notice" in client_for(owner).get(PAGE).content.decode()
