"""Issue 14 item 7: changes of settings are audited (who, when, what) and shown to owners."""

import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from stores import services
from stores.roles import Role
from tests import factories

pytestmark = pytest.mark.django_db
PAGE = reverse("dashboard:settings_audit")


def test_switching_a_stores_credential_is_audited_with_who(
    client_for, owner, store_a, merchant, credential
):
    production = factories.make_production_credential(merchant)
    url = reverse("dashboard:store_credential", args=[store_a.public_id])
    client = client_for(owner)
    client.post(url, {"credential": production.pk, "confirm": "on"})
    entry = LogEntry.objects.get_for_object(store_a).latest("timestamp")
    assert entry.actor == owner
    assert entry.changes_dict["environment"] == ["homologation", "production"]
    body = client.get(PAGE).content.decode()
    assert "data-audit-entry" in body and "Producción" in body and owner.username in body


def test_roles_members_keys_and_pilot_are_audited(owner, store_a, merchant, credential):
    person = factories.make_user("nuevo")
    membership = factories.make_membership(person, Role.CASHIER, store=store_a)
    services.membership_set_role(membership=membership, role=Role.MANAGER, user=owner)
    assert LogEntry.objects.get_for_object(membership).count() == 2
    client, _raw = factories.make_pos_client(store_a)
    services.pos_client_revoke(client=client)
    assert LogEntry.objects.get_for_object(client).count() == 2
    production = factories.make_production_credential(merchant)
    services.store_set_credential(store=store_a, credential=production, user=owner)
    services.merchant_pilot_pass(merchant=merchant, user=owner)
    changes = [e.changes_dict for e in LogEntry.objects.get_for_object(merchant)]
    assert any("pilot_store" in c for c in changes)
    assert any("pilot_passed_at" in c for c in changes)


def test_secrets_are_never_logged(owner, merchant, credential):
    services.credential_set_secret(
        credential=credential, secret_key="secreto-nuevo-xyz", user=owner
    )
    for entry in LogEntry.objects.all():
        assert "secreto-nuevo-xyz" not in str(entry.changes)
        assert credential.secret_key_encrypted not in str(entry.changes)


@pytest.mark.parametrize(
    ("persona", "expected"), [("owner", 200), ("manager_a", 403), ("finance", 403)]
)
def test_page_is_for_owners_and_scoped(client_for, request, persona, expected, store_a, credential):
    other = factories.make_store(name="Ajena")
    factories.make_terminal(other)
    response = client_for(request.getfixturevalue(persona)).get(PAGE)
    assert response.status_code == expected
    if expected == 200:
        assert "Ajena" not in response.content.decode()


def test_the_page_shows_changes_in_spanish_with_names_not_ids(
    client_for, owner, store_a, merchant, credential, django_assert_max_num_queries
):
    """Field names, choice labels, related objects by name, Sí/No, local dates: never
    `environment: homologation`, `enabled: False` or a bare pk; and no query per entry."""
    production = factories.make_production_credential(merchant, name="Producción Norte")
    services.store_set_credential(store=store_a, credential=production, user=owner)
    terminal = factories.make_terminal(store_a)
    for n in range(5):
        terminal.enabled = n % 2 == 0
        terminal.save()
    other = factories.make_store(name="Otra", merchant=merchant)
    terminal.store = other
    terminal.save()
    services.merchant_pilot_pass(merchant=merchant, user=owner)
    client = client_for(owner)
    body = client.get(PAGE).content.decode()
    assert "Ambiente</span>: Homologación → Producción" in body
    assert (
        "Credencial</span>: Homologación de prueba (Homologación) → Producción Norte (Producción)"
        in body
    )
    assert "Habilitada</span>: Sí → No" in body
    assert f"Sucursal</span>: {store_a.name} → Otra" in body
    assert "homologation" not in body and "True" not in body and "None" not in body
    with django_assert_max_num_queries(15):
        client.get(PAGE)
