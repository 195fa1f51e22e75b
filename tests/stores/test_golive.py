"""Issue 14 items 2 and 5: terminals for tests or production, and the production pilot gate:
one pilot store, at most two production terminals, until an owner marks the pilot passed."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from stores import golive, services
from stores.models import Environment, Merchant, Terminal, TerminalPurpose
from tests import factories
from tests.transactions.api.support import api_client, post
from transactions import services as tx_services
from transactions.errors import Code, IntentRuleError
from transactions.models import Intent

pytestmark = pytest.mark.django_db

PROD = TerminalPurpose.PRODUCTION


@pytest.fixture
def production(merchant):
    return factories.make_production_credential(merchant)


def _pilot(owner, store, production, terminals=2):
    services.store_set_credential(store=store, credential=production, user=owner)
    made = [factories.make_terminal(store, purpose=PROD) for _ in range(terminals)]
    store.refresh_from_db()
    return made


def _refused(store, terminal, code):
    with pytest.raises(IntentRuleError) as exc:
        tx_services.payment_create(store=store, terminals=[terminal], amount="100")
    assert exc.value.code == code
    assert not Intent.objects.exists(), "nothing is written on a refusal"
    return exc.value


class TestPurpose:
    def test_test_terminal_is_refused_in_production(self, owner, store_a, production):
        services.store_set_credential(store=store_a, credential=production, user=owner)
        store_a.refresh_from_db()
        terminal = factories.make_terminal(store_a)  # test by default
        error = _refused(store_a, terminal, Code.TERMINAL_WRONG_PURPOSE)
        assert "es de prueba" in error.message

    def test_production_terminal_is_refused_in_homologation(self, store_a, credential):
        terminal = factories.make_terminal(store_a, purpose=PROD)
        error = _refused(store_a, terminal, Code.TERMINAL_WRONG_PURPOSE)
        assert "usá una terminal de prueba" in error.message

    def test_charge_uses_the_credentials_environment_not_a_stale_store(
        self, owner, store_a, credential, production, terminal_a
    ):
        stale = type(store_a).objects.get(pk=store_a.pk)
        services.store_set_credential(store=store_a, credential=production, user=owner)
        _refused(stale, terminal_a, Code.TERMINAL_WRONG_PURPOSE)


class TestPilotGate:
    def test_first_store_in_production_is_the_pilot(self, owner, merchant, store_a, production):
        _pilot(owner, store_a, production)
        merchant.refresh_from_db()
        assert merchant.pilot_store == store_a and merchant.pilot_passed_at is None

    def test_pilot_terminals_pass_the_gate(self, owner, store_a, production):
        first, second = _pilot(owner, store_a, production)
        for terminal in (first, second):
            assert (
                golive.charge_problem(
                    store=store_a, terminal=terminal, environment=Environment.PRODUCTION
                )
                is None
            )

    def test_a_third_production_terminal_is_refused_in_settings_and_at_charge(
        self, client_for, owner, store_a, production
    ):
        _pilot(owner, store_a, production)
        response = client_for(owner).post(
            reverse("dashboard:terminal_create"),
            {"store": store_a.pk, "terminal_id": "33333333", "purpose": PROD, "enabled": "on"},
        )
        assert response.status_code == 422
        assert "hasta 2 terminales" in response.content.decode()
        assert not Terminal.objects.filter(terminal_id="33333333").exists()
        # Even if one got there another way (admin, import), it cannot charge.
        third = factories.make_terminal(store_a, purpose=PROD)
        error = _refused(store_a, third, Code.PILOT_GATE)
        assert "piloto" in error.message

    def test_a_second_store_cannot_go_to_production(self, owner, store_a, store_b, production):
        _pilot(owner, store_a, production)
        with pytest.raises(ValidationError) as exc:
            services.store_set_credential(store=store_b, credential=production, user=owner)
        assert "una sola sucursal" in str(exc.value)
        store_b.refresh_from_db()
        assert store_b.environment == Environment.HOMOLOGATION

    def test_a_store_in_production_other_than_the_pilot_cannot_charge(
        self, owner, merchant, store_a, store_b, production
    ):
        _pilot(owner, store_a, production)
        # Put there behind the rules' back (admin): the charge path still refuses.
        type(store_b).objects.filter(pk=store_b.pk).update(
            credential=production, environment=Environment.PRODUCTION
        )
        store_b.refresh_from_db()
        terminal = factories.make_terminal(store_b, purpose=PROD)
        _refused(store_b, terminal, Code.PILOT_GATE)

    def test_pilot_passed_opens_the_roll_out(
        self, client_for, owner, merchant, store_a, store_b, production
    ):
        _pilot(owner, store_a, production)
        client = client_for(owner)
        page = client.get(reverse("dashboard:homologation")).content.decode()
        assert 'data-action="pilot-pass"' in page
        response = client.post(f"{reverse('dashboard:pilot_pass')}?comercio={merchant.public_id}")
        assert response.status_code == 302
        merchant.refresh_from_db()
        assert merchant.pilot_passed_at is not None and merchant.pilot_passed_by == owner
        services.store_set_credential(store=store_b, credential=production, user=owner)
        third = factories.make_terminal(store_a, purpose=PROD)
        assert (
            golive.charge_problem(store=store_a, terminal=third, environment=Environment.PRODUCTION)
            is None
        )
        assert (
            'data-pilot-passed="1"'
            in client.get(reverse("dashboard:homologation")).content.decode()
        )

    def test_pilot_cannot_pass_without_a_pilot_store(self, owner, merchant):
        with pytest.raises(ValidationError):
            services.merchant_pilot_pass(merchant=merchant, user=owner)
        assert Merchant.objects.get(pk=merchant.pk).pilot_passed_at is None

    def test_only_owners_pass_the_pilot(
        self, client_for, manager_a, finance, owner, store_a, production, merchant
    ):
        _pilot(owner, store_a, production)
        for person in (manager_a, finance):
            response = client_for(person).post(reverse("dashboard:pilot_pass"))
            assert response.status_code == 403
        assert Merchant.objects.get(pk=merchant.pk).pilot_passed_at is None

    def test_bulk_switch_is_all_or_nothing_under_the_gate(
        self, owner, store_a, store_b, production
    ):
        with pytest.raises(ValidationError) as exc:
            services.store_switch_environment(
                stores=[store_a, store_b], credential=production, user=owner
            )
        assert "No se cambió ninguna sucursal" in str(exc.value)
        for store in (store_a, store_b):
            store.refresh_from_db()
            assert store.environment == Environment.HOMOLOGATION

    def test_api_refusal_has_its_own_code(self, owner, store_a, production):
        _pilot(owner, store_a, production)
        third = factories.make_terminal(store_a, purpose=PROD)
        _client, raw_key = factories.make_pos_client(store_a)
        response = post(
            api_client(raw_key), "/payments", {"terminal": str(third.public_id), "amount": "100.00"}
        )
        assert response.status_code == 409
        assert response.json()["code"] == Code.PILOT_GATE == "pilot_gate"

    def test_dashboard_refusal_is_in_spanish(self, client_for, owner, store_a, production):
        _pilot(owner, store_a, production)
        third = factories.make_terminal(store_a, purpose=PROD)
        response = client_for(owner).post(
            reverse("dashboard:terminal_charge", args=[third.public_id]),
            {"amount": "100", "installments": "1", "method": "card"},
        )
        assert "El piloto de producción admite hasta 2 terminales" in response.content.decode()
        assert not Intent.objects.exists()


def test_migration_marks_merchants_already_in_production_as_past_the_pilot(
    merchant, store_a, terminal_a
):
    import importlib

    from django.apps import apps

    type(store_a).objects.filter(pk=store_a.pk).update(environment=Environment.PRODUCTION)
    migration = importlib.import_module("stores.migrations.0007_terminal_purpose_and_pilot_gate")
    migration.mark_what_already_runs_in_production(apps, None)
    merchant.refresh_from_db()
    terminal_a.refresh_from_db()
    assert terminal_a.purpose == PROD
    assert merchant.pilot_store == store_a and merchant.pilot_passed_at is not None
