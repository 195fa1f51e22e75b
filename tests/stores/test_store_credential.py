"""Issue 12 item 1: each store charges with an explicitly chosen credential.

Adding a credential never moves a store; switching asks for confirmation and needs a successful
"Probar conexión" of the chosen credential; retired credentials are never offered nor used.
"""

import importlib

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from stores import services
from stores.models import Environment, Store
from stores.selectors import credential_choices_for_store, credential_for_store
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def tested(merchant):
    """A second homologation credential of the merchant that passed "Probar conexión"."""
    return factories.make_credential(
        merchants=[merchant], name="Homologación nueva", give_to_stores=False, tested=True
    )


def test_adding_a_credential_through_the_service_changes_no_store(
    owner, merchant, store_a, store_b, credential
):
    services.credential_create(
        user=owner,
        name="Nueva con URL mala",
        environment=Environment.HOMOLOGATION,
        base_url="https://unreachable.example.com",
        public_key="pk",
        secret_key="sk",
        merchants=[merchant],
    )
    assert credential_for_store(store=store_a) == credential
    assert credential_for_store(store=store_b) == credential


def test_switch_needs_a_successful_test(owner, store_a, credential, merchant):
    untested = factories.make_credential(merchants=[merchant], give_to_stores=False)
    with pytest.raises(ValidationError) as exc:
        services.store_set_credential(store=store_a, credential=untested, user=owner)
    assert "Probá la conexión" in str(exc.value)
    assert credential_for_store(store=store_a) == credential

    services.credential_record_test_ok(credential=untested)
    services.store_set_credential(store=store_a, credential=untested, user=owner)
    assert credential_for_store(store=store_a) == untested


def test_switch_refuses_retired_and_foreign_credentials(owner, store_a, credential, tested):
    services.credential_retire(credential=tested)
    with pytest.raises(ValidationError):
        services.store_set_credential(store=store_a, credential=tested, user=owner)
    foreign = factories.make_credential(merchants=[factories.make_merchant()], tested=True)
    with pytest.raises(ValidationError):
        services.store_set_credential(store=store_a, credential=foreign, user=owner)
    assert credential_for_store(store=store_a) == credential
    assert tested not in credential_choices_for_store(store=store_a)
    assert foreign not in credential_choices_for_store(store=store_a)


def test_switch_takes_the_credentials_environment(owner, merchant, store_a, credential):
    production = factories.make_production_credential(merchant)
    services.store_set_credential(store=store_a, credential=production, user=owner)
    store_a.refresh_from_db()
    assert (store_a.credential, store_a.environment) == (production, Environment.PRODUCTION)


def test_no_store_goes_to_production_before_prisma_approved_the_homologation(
    owner, merchant, store_a, credential
):
    production = factories.make_credential(
        [merchant], environment=Environment.PRODUCTION, give_to_stores=False, tested=True
    )
    with pytest.raises(ValidationError) as refused:
        services.store_set_credential(store=store_a, credential=production, user=owner)
    assert refused.value.error_dict["credential"][0].code == "homologation_pending"
    assert "todavía no aprobó la homologación" in " ".join(refused.value.messages)
    store_a.refresh_from_db()
    assert store_a.credential == credential, "nothing changed"
    # An integrator's preintegrada approved once counts for this merchant too.
    services.credential_mark_homologated(credential=credential, user=owner)
    services.store_set_credential(store=store_a, credential=production, user=owner)
    store_a.refresh_from_db()
    assert store_a.environment == Environment.PRODUCTION


def test_changing_url_or_keys_forgets_the_last_test(owner, merchant, tested):
    fields = {
        "name": tested.name,
        "environment": tested.environment,
        "public_key": tested.public_key,
        "merchants": [merchant],
    }
    services.credential_update(
        credential=tested, user=owner, base_url=tested.base_url, **{**fields, "name": "Otro"}
    )
    assert tested.last_tested_ok_at is not None, "a new name keeps the test"
    services.credential_update(
        credential=tested, user=owner, base_url="https://otra.example.com", **fields
    )
    tested.refresh_from_db()
    assert tested.last_tested_ok_at is None


def test_a_credential_in_use_keeps_its_environment_and_merchants(
    owner, merchant, store_a, credential
):
    fields = {
        "name": credential.name,
        "base_url": credential.base_url,
        "public_key": credential.public_key,
    }
    with pytest.raises(ValidationError) as exc:
        services.credential_update(
            credential=credential,
            user=owner,
            environment=Environment.PRODUCTION,
            merchants=[merchant],
            **fields,
        )
    assert "environment" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.credential_update(
            credential=credential,
            user=owner,
            environment=credential.environment,
            merchants=[],
            **fields,
        )
    assert "merchants" in exc.value.message_dict


def test_data_migration_writes_down_todays_choice(merchant, store_a, credential):
    """The migration gives each store the newest active credential of its merchant for its
    environment: what the old `credential_for_store` picked."""
    retired_newer = factories.make_credential(merchants=[merchant], give_to_stores=False)
    services.credential_retire(credential=retired_newer)
    production = factories.make_credential(
        merchants=[merchant], environment=Environment.PRODUCTION, give_to_stores=False
    )
    lonely = factories.make_store(factories.make_merchant(), credential=None)
    Store.objects.update(credential=None)
    migration = importlib.import_module("stores.migrations.0005_store_credential_explicit")
    migration.give_each_store_the_credential_it_uses_today(apps, None)
    store_a.refresh_from_db()
    lonely.refresh_from_db()
    assert store_a.credential == credential
    assert store_a.credential != production
    assert lonely.credential is None


class TestDashboard:
    def test_store_and_terminal_pages_show_the_credential(
        self, client_for, owner, store_a, terminal_a, credential
    ):
        client = client_for(owner)
        page = client.get(reverse("dashboard:store_edit", args=[store_a.public_id]))
        body = page.content.decode()
        assert "data-store-credential" in body and credential.name in body
        body = client.get(
            reverse("dashboard:terminal_detail", args=[terminal_a.public_id])
        ).content.decode()
        assert "data-terminal-credential" in body and credential.name in body
        assert credential.name in client.get(reverse("dashboard:settings")).content.decode()

    def test_switch_asks_for_confirmation(self, client_for, owner, store_a, credential, tested):
        client = client_for(owner)
        url = reverse("dashboard:store_credential", args=[store_a.public_id])
        page = client.get(url).content.decode()
        assert tested.name in page
        asked = client.post(url, {"credential": tested.pk})
        assert asked.status_code == 200
        assert 'data-action="confirm-switch-credential"' in asked.content.decode()
        assert credential_for_store(store=store_a) == credential, "asking changes nothing"
        done = client.post(url, {"credential": tested.pk, "confirm": "on"})
        assert done.status_code == 302
        assert credential_for_store(store=store_a) == tested

    def test_untested_credential_is_refused_with_a_spanish_error(
        self, client_for, owner, store_a, credential, merchant
    ):
        untested = factories.make_credential(merchants=[merchant], give_to_stores=False)
        url = reverse("dashboard:store_credential", args=[store_a.public_id])
        response = client_for(owner).post(url, {"credential": untested.pk, "confirm": "on"})
        assert response.status_code == 422
        assert "Probá la conexión" in response.content.decode()
        assert credential_for_store(store=store_a) == credential

    def test_retired_credentials_are_not_offered(
        self, client_for, owner, store_a, credential, tested
    ):
        services.credential_retire(credential=tested)
        url = reverse("dashboard:store_credential", args=[store_a.public_id])
        client = client_for(owner)
        assert tested.name not in client.get(url).content.decode()
        response = client.post(url, {"credential": tested.pk, "confirm": "on"})
        assert response.status_code == 422
        assert credential_for_store(store=store_a) == credential

    def test_a_successful_test_is_recorded(self, client_for, owner, credential, monkeypatch):
        from transactions import gateway

        class Alive:
            def liveness(self):
                return True

        monkeypatch.setattr(gateway, "gateway_for", lambda c: Alive())
        before = timezone.now()
        url = reverse("dashboard:credential_test", args=[credential.public_id])
        client_for(owner).post(url)
        credential.refresh_from_db()
        assert credential.last_tested_ok_at >= before
