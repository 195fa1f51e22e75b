"""Settings: owners only (403 for other roles), objects outside scope 404, secrets write-only."""

import pytest
from django.urls import reverse

from stores.models import Credential, Membership, PosClient, Terminal
from stores.roles import Role
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("persona", "expected"),
    [("owner", 200), ("manager_a", 403), ("cashier_a", 403), ("finance", 403), ("outsider", 403)],
)
def test_settings_index(client_for, request, persona, expected, credential, terminal_a):
    user = request.getfixturevalue(persona)
    response = client_for(user).get(reverse("dashboard:settings"))
    assert response.status_code == expected
    if expected == 200:
        body = response.content.decode()
        assert "11111111" in body
        assert credential.name in body
        assert factories.DEFAULT_SECRET_KEY not in body
        assert "Miembros y roles" in body


@pytest.mark.parametrize("persona", ["manager_a", "cashier_a", "finance"])
def test_settings_actions_refused_to_non_owners(client_for, request, persona, terminal_a, store_a):
    client = client_for(request.getfixturevalue(persona))
    assert (
        client.get(reverse("dashboard:terminal_edit", args=[terminal_a.public_id])).status_code
        == 403
    )
    assert client.get(reverse("dashboard:store_edit", args=[store_a.public_id])).status_code == 403
    assert client.post(reverse("dashboard:terminal_create"), {}).status_code == 403
    assert client.post(reverse("dashboard:pos_key_create"), {}).status_code == 403
    assert client.post(reverse("dashboard:member_create"), {}).status_code == 403


def test_objects_of_another_merchant_are_404(client_for, owner):
    other_store = factories.make_store()
    other_terminal = factories.make_terminal(other_store)
    other_credential = factories.make_credential(merchants=[other_store.merchant])
    client = client_for(owner)
    assert (
        client.get(reverse("dashboard:store_edit", args=[other_store.public_id])).status_code == 404
    )
    assert (
        client.get(reverse("dashboard:terminal_edit", args=[other_terminal.public_id])).status_code
        == 404
    )
    assert (
        client.get(
            reverse("dashboard:credential_edit", args=[other_credential.public_id])
        ).status_code
        == 404
    )


def test_owner_adds_a_terminal_with_spanish_errors(client_for, owner, store_a):
    client = client_for(owner)
    url = reverse("dashboard:terminal_create")
    response = client.post(url, {"store": store_a.pk, "terminal_id": "12ab", "label": "Caja 9"})
    assert response.status_code == 422
    assert "8 dígitos" in response.content.decode()
    response = client.post(
        url, {"store": store_a.pk, "terminal_id": "33333333", "label": "Caja 9", "enabled": "on"}
    )
    assert response.status_code == 302
    assert Terminal.objects.get(terminal_id="33333333").store == store_a


def test_owner_edits_a_store(client_for, owner, store_a, merchant):
    url = reverse("dashboard:store_edit", args=[store_a.public_id])
    response = client_for(owner).post(
        url,
        {
            "name": "Sucursal Centro",
            "code": store_a.code,
            "time_zone": "America/Argentina/Cordoba",
            "environment": "homologation",
            "batch_close_hour": "21",
            "pending_timeout_seconds": "90",
        },
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    store_a.refresh_from_db()
    assert (store_a.name, store_a.batch_close_hour) == ("Sucursal Centro", 21)


def test_credential_secret_is_write_only(client_for, owner, credential):
    url = reverse("dashboard:credential_edit", args=[credential.public_id])
    client = client_for(owner)
    page = client.get(url).content.decode()
    assert factories.DEFAULT_SECRET_KEY not in page
    assert credential.secret_key_encrypted not in page
    data = {
        "name": credential.name,
        "environment": credential.environment,
        "base_url": "https://prisma.example.com",
        "public_key": credential.public_key,
        "secret_key": "",
        "merchants": [m.pk for m in credential.merchants.all()],
    }
    assert client.post(url, data).status_code == 302
    credential.refresh_from_db()
    assert credential.get_secret() == factories.DEFAULT_SECRET_KEY  # empty keeps the old one
    assert client.post(url, {**data, "secret_key": "nuevo-secreto"}).status_code == 302
    credential.refresh_from_db()
    assert credential.get_secret() == "nuevo-secreto"


def test_credential_test_reports_gateway_errors(client_for, owner, credential, monkeypatch):
    from transactions import gateway
    from transactions.gateway.errors import GatewayError

    class Fake:
        def __init__(self, outcome):
            self.outcome = outcome

        def liveness(self):
            if isinstance(self.outcome, Exception):
                raise self.outcome
            return self.outcome

    url = reverse("dashboard:credential_test", args=[credential.public_id])
    client = client_for(owner)
    monkeypatch.setattr(gateway, "gateway_for", lambda c: Fake(True))
    assert 'data-test-result="ok"' in client.post(url).content.decode()
    monkeypatch.setattr(
        gateway,
        "gateway_for",
        lambda c: Fake(GatewayError("Credencial rechazada", http_status=401)),
    )
    body = client.post(url).content.decode()
    assert 'data-test-result="error"' in body and "Credencial rechazada" in body


def test_credential_test_refused_to_manager(client_for, manager_a, credential):
    url = reverse("dashboard:credential_test", args=[credential.public_id])
    assert client_for(manager_a).post(url).status_code == 403


def test_pos_key_is_shown_once_and_can_be_revoked(client_for, owner, store_a):
    client = client_for(owner)
    response = client.post(
        reverse("dashboard:pos_key_create"), {"store": store_a.pk, "name": "POS 1"}
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    key = response.context["key"]
    assert key in response.content.decode()
    index = client.get(reverse("dashboard:settings")).content.decode()
    assert key not in index
    pos = PosClient.objects.get(name="POS 1")
    url = reverse("dashboard:pos_key_revoke", args=[pos.public_id])
    assert client.post(url, {"confirmar": "1"}).status_code == 302
    pos.refresh_from_db()
    assert not pos.is_active


def test_manager_cannot_revoke_a_pos_key(client_for, manager_a, store_a):
    pos, _key = factories.make_pos_client(store_a)
    url = reverse("dashboard:pos_key_revoke", args=[pos.public_id])
    assert client_for(manager_a).post(url).status_code == 403
    pos.refresh_from_db()
    assert pos.is_active


def test_owner_gives_a_new_person_a_role(client_for, owner, store_a):
    client = client_for(owner)
    url = reverse("dashboard:member_create")
    response = client.post(url, {"username": "nueva", "role": "cashier", "store": store_a.pk})
    assert response.status_code == 422
    assert "indicá una contraseña inicial" in response.content.decode()
    weak = client.post(
        url, {"username": "nueva", "password": "1", "role": "cashier", "store": store_a.pk}
    )
    assert weak.status_code == 422, "the project's password validators apply"
    assert not Membership.objects.filter(user__username="nueva").exists()
    response = client.post(
        url,
        {
            "username": "nueva",
            "password": "una-clave-larga-1",
            "role": "cashier",
            "store": store_a.pk,
        },
    )
    assert response.status_code == 302
    membership = Membership.objects.get(user__username="nueva")
    assert (membership.role, membership.store) == (Role.CASHIER, store_a)


def test_owner_changes_and_removes_a_role(client_for, owner, cashier_a):
    membership = Membership.objects.get(user=cashier_a)
    client = client_for(owner)
    url = reverse("dashboard:member_edit", args=[membership.public_id])
    assert client.post(url, {"role": "manager"}).status_code == 302
    membership.refresh_from_db()
    assert membership.role == Role.MANAGER
    delete_url = reverse("dashboard:member_delete", args=[membership.public_id])
    assert client.post(delete_url, {"confirmar": "1"}).status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_owner_cannot_demote_himself(client_for, owner):
    membership = Membership.objects.get(user=owner)
    response = client_for(owner).post(
        reverse("dashboard:member_edit", args=[membership.public_id]), {"role": "cashier"}
    )
    assert response.status_code == 422, response.content.decode()[:3000]
    membership.refresh_from_db()
    assert membership.role == Role.OWNER


def test_manager_cannot_change_roles(client_for, manager_a, cashier_a):
    membership = Membership.objects.get(user=cashier_a)
    url = reverse("dashboard:member_edit", args=[membership.public_id])
    assert client_for(manager_a).post(url, {"role": "owner"}).status_code == 403


def test_owner_creates_a_credential(client_for, owner, merchant):
    response = client_for(owner).post(
        reverse("dashboard:credential_create"),
        {
            "name": "Producción",
            "environment": "production",
            "base_url": "https://api.example.com",
            "public_key": "pk-1",
            "secret_key": "sk-1",
            "merchants": [merchant.pk],
        },
    )
    assert response.status_code == 302
    assert Credential.objects.get(name="Producción").get_secret() == "sk-1"


def test_a_credential_shared_with_another_merchant_cannot_be_taken_over(
    client_for, owner, credential, merchant
):
    """An integrator's credential serves two merchants: the owner of one cannot change its URL
    or drop the other merchant (that would cut the other's payments or leak its keys)."""
    other_merchant = factories.make_merchant(legal_name="Otro S.A.")
    credential.merchants.add(other_merchant)
    url = reverse("dashboard:credential_edit", args=[credential.public_id])
    response = client_for(owner).post(
        url,
        {
            "name": credential.name,
            "environment": credential.environment,
            "base_url": "https://evil.example.com",
            "public_key": credential.public_key,
            "secret_key": "",
            "merchants": [merchant.pk],
        },
    )
    assert response.status_code == 403
    credential.refresh_from_db()
    assert credential.base_url == "https://simulator.invalid"
    assert set(credential.merchants.all()) == {merchant, other_merchant}


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://api-homo.prismamediosdepago.com", True),
        ("https://93.184.216.34/v1", True),
        ("http://api.prismamediosdepago.com", False),
        ("https://127.0.0.1:8000/simulator", False),
        ("https://169.254.169.254/latest", False),
        ("https://10.0.0.5", False),
        ("https://localhost/x", False),
    ],
)
def test_credential_urls_must_be_public_https_in_production(settings, url, ok):
    from stores.validators import provider_url_problem

    settings.DEBUG = False
    assert (provider_url_problem(url) == "") is ok
    settings.DEBUG = True
    assert provider_url_problem("http://127.0.0.1:8000/simulator") == ""


class TestRetireCredential:
    def test_owner_sees_retirar_confirms_and_retires(self, client_for, owner, credential, store_a):
        client = client_for(owner)
        url = reverse("dashboard:credential_retire", args=[credential.public_id])
        index = client.get(reverse("dashboard:settings")).content.decode()
        assert url in index and 'data-action="retire-credential"' in index

        confirm = client.get(url)
        assert confirm.status_code == 200
        body = confirm.content.decode()
        assert credential.name in body and 'data-action="confirm-retire"' in body
        credential.refresh_from_db()
        assert credential.retired_at is None, "asking for confirmation changes nothing"

        assert client.post(url).status_code == 302
        credential.refresh_from_db()
        assert credential.retired_at is not None

        index = client.get(reverse("dashboard:settings")).content.decode()
        assert "data-credential-retired" in index  # kept in the list, for history
        assert url not in index
        assert reverse("dashboard:credential_edit", args=[credential.public_id]) not in index
        # ...and offered nowhere: no edit, test or new charge with it.
        edit = reverse("dashboard:credential_edit", args=[credential.public_id])
        assert client.get(edit).status_code == 404
        assert client.post(url).status_code == 404
        from stores.selectors import credential_for_store

        assert credential_for_store(store=store_a) is None

    @pytest.mark.parametrize("persona", ["manager_a", "cashier_a", "finance"])
    def test_other_roles_cannot_retire(self, client_for, request, persona, credential):
        client = client_for(request.getfixturevalue(persona))
        url = reverse("dashboard:credential_retire", args=[credential.public_id])
        assert client.get(url).status_code == 403
        assert client.post(url).status_code == 403
        credential.refresh_from_db()
        assert credential.retired_at is None

    def test_a_shared_credential_cannot_be_retired_by_one_owner(
        self, client_for, owner, credential
    ):
        credential.merchants.add(factories.make_merchant())
        url = reverse("dashboard:credential_retire", args=[credential.public_id])
        assert client_for(owner).post(url).status_code == 403
        credential.refresh_from_db()
        assert credential.retired_at is None

    def test_homologation_no_longer_counts_a_retired_credential(
        self, client_for, owner, credential
    ):
        from stores.services import credential_retire

        client = client_for(owner)
        assert client.get(reverse("dashboard:homologation")).context["has_credential"]
        credential_retire(credential=credential)
        assert not client.get(reverse("dashboard:homologation")).context["has_credential"]


def test_an_existing_role_is_refused_with_a_spanish_form_error(
    client_for, owner, cashier_a, store_a
):
    response = client_for(owner).post(
        reverse("dashboard:member_create"),
        {"username": cashier_a.username, "role": "manager", "store": store_a.pk},
    )
    assert response.status_code == 422
    assert "Esa persona ya tiene un rol ahí; editalo en la lista." in response.content.decode()
    assert Membership.objects.filter(user=cashier_a).count() == 1


def test_giving_access_to_every_store(client_for, owner, merchant):
    response = client_for(owner).post(
        reverse("dashboard:member_create"),
        {"username": "nueva", "password": "una-clave-larga-1", "role": "finance", "store": ""},
    )
    assert response.status_code == 302
    membership = Membership.objects.get(user__username="nueva")
    assert (membership.merchant, membership.store) == (merchant, None)


def test_the_member_form_checks_shape_only(store_a, django_assert_num_queries):
    """No queries in the form: who the person is and whether the role exists are the service's."""
    from stores.models import Store
    from transactions.dashboard.forms import MemberForm

    form = MemberForm(
        {"username": "alguien", "role": "cashier", "store": ""}, stores=Store.objects.none()
    )
    with django_assert_num_queries(0):
        assert form.is_valid(), form.errors


def test_removing_oneself_is_refused_with_a_message(client_for, owner):
    membership = Membership.objects.get(user=owner)
    client = client_for(owner)
    response = client.post(
        reverse("dashboard:member_delete", args=[membership.public_id]), {"confirmar": "1"}
    )
    assert response.status_code == 302
    assert "No podés quitarte el acceso a vos mismo." in client.get(response.url).content.decode()
    assert Membership.objects.filter(pk=membership.pk).exists()
