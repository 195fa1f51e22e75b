import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from stores.models import Membership, Merchant, PosClient, Store, Terminal

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", [Merchant, Store, Terminal, Membership, PosClient])
def test_changelists_render_and_search(admin_client, model, terminal_a, owner, manager_a):
    url = reverse(f"admin:stores_{model._meta.model_name}_changelist")
    assert admin_client.get(url).status_code == 200
    assert admin_client.get(url, {"q": "a"}).status_code == 200


def test_change_pages_render(admin_client, terminal_a, owner):
    for obj in (terminal_a.store.merchant, terminal_a.store, terminal_a, owner.memberships.get()):
        url = reverse(f"admin:stores_{obj._meta.model_name}_change", args=[obj.pk])
        assert admin_client.get(url).status_code == 200


def test_merchant_add_normalises_cuit(admin_client):
    response = admin_client.post(
        reverse("admin:stores_merchant_add"),
        {
            "cuit": "30712345671",
            "legal_name": "Nuevo S.A.",
            "stores-TOTAL_FORMS": "0",
            "stores-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    assert Merchant.objects.get(legal_name="Nuevo S.A.").cuit == "30-71234567-1"
    assert not [m for m in get_messages(response.wsgi_request) if m.level_tag == "warning"]


def test_sandbox_merchant_save_warns(admin_client):
    response = admin_client.post(
        reverse("admin:stores_merchant_add"),
        {
            "cuit": "30-12345678-9",
            "legal_name": "Sandbox S.A.",
            "sandbox_only": "on",
            "stores-TOTAL_FORMS": "0",
            "stores-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    warnings = [str(m) for m in get_messages(response.wsgi_request) if m.level_tag == "warning"]
    assert warnings == [Merchant.objects.get(legal_name="Sandbox S.A.").cuit_warning]
    assert "sandbox" in warnings[0]


def test_bad_cuit_is_refused_in_the_admin(admin_client):
    response = admin_client.post(
        reverse("admin:stores_merchant_add"),
        {
            "cuit": "30-12345678-9",
            "legal_name": "Sin sandbox S.A.",
            "stores-TOTAL_FORMS": "0",
            "stores-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "El dígito verificador del CUIT no es válido." in response.content.decode()
    assert not Merchant.objects.filter(legal_name="Sin sandbox S.A.").exists()


@pytest.mark.parametrize(
    "model_name", ["merchant", "store", "terminal", "credential", "membership", "posclient"]
)
def test_add_pages_render(admin_client, model_name):
    response = admin_client.get(reverse(f"admin:stores_{model_name}_add"))
    assert response.status_code == 200
    if model_name == "credential":
        assert 'type="password"' in response.content.decode()
