"""Issue 14 item 1: integrators own credentials shared by their merchants ("preintegradas");
homologation belongs to the credential; the ECR identity comes from the registration; the
integrator's people create merchants from the dashboard."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from stores import services
from stores.models import Environment, Membership, Merchant
from stores.roles import Role
from tests import factories
from transactions import homologation
from transactions.gateway.client import PrismaGateway
from transactions.gateway.types import PaymentRequest, RefundRequest

pytestmark = pytest.mark.django_db


@pytest.fixture
def integrator_person(db):
    return factories.make_user("integra", first_name="Integra")


@pytest.fixture
def integrator(integrator_person):
    return services.integrator_register(
        cuit=factories.valid_cuit(), legal_name="Integra S.R.L.", members=[integrator_person]
    )


@pytest.fixture
def preintegrada(integrator):
    return factories.make_credential(
        integrator=integrator, name="Preintegrada", ecr_provider="Integra", ecr_name="Caja Integra",
        ecr_version="3.2.1",
    )  # fmt: skip


def test_register_is_idempotent_by_cuit_and_checks_the_cuit(integrator, integrator_person):
    again = services.integrator_register(cuit=integrator.cuit, legal_name="Integra SRL")
    assert again.pk == integrator.pk and again.legal_name == "Integra SRL"
    assert list(again.members.all()) == [integrator_person]
    with pytest.raises(ValidationError):
        services.integrator_register(cuit="30-12345678-9", legal_name="Mal")


def test_the_integrators_person_creates_a_merchant_from_the_dashboard(
    client_for, integrator, integrator_person, preintegrada
):
    url = reverse("dashboard:merchant_create")
    client = client_for(integrator_person)
    assert client.get(url).status_code == 200
    cuit = factories.valid_cuit()
    response = client.post(
        url,
        {
            "integrator": integrator.pk,
            "cuit": cuit.replace("-", ""),
            "legal_name": "Kiosco Nuevo S.A.",
            "credentials": [preintegrada.pk],
        },
    )
    assert response.status_code == 302, response.content.decode()[-1500:]
    merchant = Merchant.objects.get(cuit=cuit)
    assert merchant.integrator == integrator
    assert preintegrada in merchant.credentials.all()
    assert Membership.objects.get(user=integrator_person, merchant=merchant).role == Role.OWNER
    # ... and, as its owner, configures it.
    assert client.get(reverse("dashboard:store_create")).status_code == 200


def test_merchant_create_refuses_bad_cuit_in_spanish(client_for, integrator, integrator_person):
    response = client_for(integrator_person).post(
        reverse("dashboard:merchant_create"),
        {"integrator": integrator.pk, "cuit": "30-71234567-2", "legal_name": "X"},
    )
    assert response.status_code == 422
    assert "dígito verificador" in response.content.decode()
    assert not Merchant.objects.filter(legal_name="X").exists()


def test_people_of_no_integrator_cannot_create_merchants(client_for, owner, integrator):
    assert client_for(owner).get(reverse("dashboard:merchant_create")).status_code == 403
    with pytest.raises(PermissionDenied):
        services.merchant_create(
            user=owner, integrator=integrator, cuit=factories.valid_cuit(), legal_name="X"
        )


def test_only_the_integrators_credentials_can_be_shared(integrator, integrator_person, credential):
    with pytest.raises(ValidationError):
        services.merchant_create(
            user=integrator_person,
            integrator=integrator,
            cuit=factories.valid_cuit(),
            legal_name="X",
            credentials=[credential],
        )


def test_a_merchant_on_an_approved_preintegrada_starts_homologated(
    client_for, integrator, integrator_person, preintegrada
):
    first = services.merchant_create(
        user=integrator_person,
        integrator=integrator,
        cuit=factories.valid_cuit(),
        legal_name="Primero S.A.",
        credentials=[preintegrada],
    )
    client = client_for(integrator_person)
    page = client.get(reverse("dashboard:homologation"), {"comercio": first.public_id})
    assert "data-homologated" not in page.content.decode()
    approve = reverse("dashboard:credential_homologated", args=[preintegrada.public_id])
    assert client.post(approve).status_code == 302
    preintegrada.refresh_from_db()
    assert preintegrada.is_homologated
    assert preintegrada.homologation_approved_by == integrator_person

    second = services.merchant_create(
        user=integrator_person,
        integrator=integrator,
        cuit=factories.valid_cuit(),
        legal_name="Segundo S.A.",
        credentials=[preintegrada],
    )
    assert homologation.approved_credential(second) == preintegrada
    page = client.get(reverse("dashboard:homologation"), {"comercio": second.public_id})
    assert "data-homologated" in page.content.decode()


def test_only_homologation_credentials_are_approved(owner, merchant):
    production = factories.make_credential(merchants=[merchant], environment="production")
    with pytest.raises(ValidationError):
        services.credential_mark_homologated(credential=production, user=owner)


def test_an_owner_of_only_some_merchants_cannot_approve_a_shared_credential(
    client_for, owner, merchant, credential
):
    credential.merchants.add(factories.make_merchant())
    url = reverse("dashboard:credential_homologated", args=[credential.public_id])
    assert client_for(owner).post(url).status_code == 403
    credential.refresh_from_db()
    assert not credential.is_homologated


class TestWireIdentity:
    def _payment(self, credential):
        request = PaymentRequest(amount=Decimal("15.00"), terminal_ids=["12345678"], menu_text="x")
        return PrismaGateway(credential)._body(request)["payment_request_data"]

    def test_ecr_identity_comes_from_the_registration(self, preintegrada):
        body = self._payment(preintegrada)
        assert (body["ecr_provider"], body["ecr_name"], body["ecr_version"]) == (
            "Integra",
            "Caja Integra",
            "3.2.1",
        )
        refund = PrismaGateway(preintegrada)._body(
            RefundRequest(amount=Decimal("1.00"), terminal_ids=["12345678"], menu_text="x")
        )
        assert refund["ecr_provider"] == "Integra" and refund["ecr_version"] == "3.2.1"

    def test_defaults_are_the_portals_name_and_version(self, credential, settings):
        body = self._payment(credential)
        assert body["ecr_provider"] == body["ecr_name"] == "ECR Portal"
        assert body["ecr_version"] == settings.ECR_VERSION

    def test_sandbox_fields_only_with_a_sandbox_credential(self, credential):
        assert "merchant_group_code" not in self._payment(credential)
        sandbox = factories.make_credential(environment=Environment.SANDBOX)
        body = self._payment(sandbox)
        assert (body["merchant_group_code"], body["currency_code"]) == ("1238494234", "032")


def test_integrator_register_command(db):
    from django.core.management import call_command

    cuit = factories.valid_cuit()
    for _ in range(2):
        call_command(
            "integrator_register",
            cuit=cuit,
            legal_name="Integra S.R.L.",
            username="integra2",
            password="una-clave-larga-123",
        )
    from stores.models import Integrator

    integrator = Integrator.objects.get(cuit=cuit)
    assert [u.username for u in integrator.members.all()] == ["integra2"]


def test_an_integrators_person_without_merchants_reaches_settings(
    client_for, integrator, integrator_person
):
    body = client_for(integrator_person).get(reverse("dashboard:settings")).content.decode()
    assert 'data-action="merchant-create"' in body
