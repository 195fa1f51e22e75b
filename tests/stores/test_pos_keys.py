"""POS API keys: hashed at rest, shown once, revocable."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from stores.models import Merchant, PosClient, Store
from stores.services import pos_client_authenticate, pos_client_revoke
from tests.factories import make_pos_client

pytestmark = pytest.mark.django_db


def create_key(store_code: str, name: str = "Caja 1") -> str:
    out, err = StringIO(), StringIO()
    call_command("create_pos_key", "--store", store_code, "--name", name, stdout=out, stderr=err)
    assert "no se vuelve a mostrar" in err.getvalue()
    return out.getvalue().strip()


def test_command_output_authenticates(store_a):
    raw_key = create_key("sucursal-a")
    client = pos_client_authenticate(raw_key=raw_key)
    assert client is not None
    assert client.store == store_a
    assert client.name == "Caja 1"
    assert client.last_used_at is not None


def test_only_a_hash_is_stored(store_a):
    raw_key = create_key("sucursal-a")
    client = PosClient.objects.get()
    assert raw_key.startswith(client.prefix + ".")
    secret_part = raw_key.split(".", 1)[1]
    stored = [str(v) for v in PosClient.objects.values().get().values()]
    assert not any(secret_part in value for value in stored)


def test_revoked_key_does_not_authenticate(store_a):
    raw_key = create_key("sucursal-a")
    client = pos_client_authenticate(raw_key=raw_key)
    pos_client_revoke(client=client)
    assert client.revoked_at is not None
    assert pos_client_authenticate(raw_key=raw_key) is None


@pytest.mark.parametrize(
    "mangle",
    [
        lambda key: key[:-1] + ("A" if key[-1] != "A" else "B"),  # wrong secret, right prefix
        lambda key: key.split(".")[0],  # prefix only
        lambda key: key.replace("ecr_", "xyz_", 1),  # wrong prefix
        lambda key: "",  # empty
        lambda key: "ecr_00000000." + key.split(".", 1)[1],  # unknown prefix, right secret
        lambda key: key + "extra",
    ],
)
def test_wrong_or_malformed_key_does_not_authenticate(store_a, mangle):
    raw_key = create_key("sucursal-a")
    assert pos_client_authenticate(raw_key=mangle(raw_key)) is None
    assert pos_client_authenticate(raw_key=raw_key) is not None  # the real one still works


def test_unknown_store_fails_in_spanish(store_a):
    with pytest.raises(CommandError, match="No existe una sucursal con el código 'nada'"):
        call_command("create_pos_key", "--store", "nada", "--name", "Caja 1")
    assert not PosClient.objects.exists()


def test_unknown_store_exits_non_zero(store_a, capsys):
    from django.core.management import ManagementUtility

    utility = ManagementUtility(["manage.py", "create_pos_key", "--store", "nada", "--name", "x"])
    with pytest.raises(SystemExit) as exc:
        utility.execute()
    assert exc.value.code != 0
    assert "No existe una sucursal" in capsys.readouterr().err


def test_keys_are_distinct(store_a):
    _, first = make_pos_client(store_a)
    _, second = make_pos_client(store_a)
    assert first != second
    assert pos_client_authenticate(raw_key=first) != pos_client_authenticate(raw_key=second)


class TestAdmin:
    def test_add_shows_the_key_once(self, admin_client, store_a):
        response = admin_client.post(
            reverse("admin:stores_posclient_add"), {"store": store_a.pk, "name": "Caja admin"}
        )
        assert response.status_code == 200
        assert "no-store" in response.headers["Cache-Control"]
        body = response.content.decode()
        client = PosClient.objects.get(name="Caja admin")
        raw_key = body.split('<pre id="pos-key">', 1)[1].split("</pre>", 1)[0]
        assert pos_client_authenticate(raw_key=raw_key) == client

        # Nowhere else: not in the change page nor in the list.
        for url in (
            reverse("admin:stores_posclient_change", args=[client.pk]),
            reverse("admin:stores_posclient_changelist"),
        ):
            page = admin_client.get(url).content.decode()
            assert client.prefix in page
            assert raw_key not in page
            assert client.key_hash not in page

    def test_revoke_action(self, admin_client, store_a):
        client, raw_key = make_pos_client(store_a)
        response = admin_client.post(
            reverse("admin:stores_posclient_changelist"),
            {"action": "revoke_pos_clients", "_selected_action": [client.pk]},
        )
        assert response.status_code == 302
        assert pos_client_authenticate(raw_key=raw_key) is None


def test_create_pos_key_command_makes_a_charge_only_key(store_a):
    out = StringIO()
    call_command(
        "create_pos_key", "--store", store_a.code, "--name", "Caja 9", "--charge-only",
        stdout=out, stderr=StringIO(),
    )  # fmt: skip
    key = PosClient.objects.get(name="Caja 9")
    assert key.can_charge and not (key.can_refund or key.can_reverse or key.can_close_batch)
    assert out.getvalue().startswith("ecr_")


def test_the_key_comes_with_its_store_and_merchant_as_the_orm_loads_them(
    store_a, django_assert_num_queries
):
    """The compiled look-up (`stores.selectors.pos_client_active_by_prefix`) loads every column
    of the key, its store and the store's merchant, as `select_related` would, and nothing is
    read again afterwards."""
    raw_key = create_key("sucursal-a")
    client = pos_client_authenticate(raw_key=raw_key)
    expected = PosClient.objects.select_related("store", "store__merchant").get(pk=client.pk)
    with django_assert_num_queries(0):
        for model_of, got, want in (
            (PosClient, client, expected),
            (Store, client.store, expected.store),
            (Merchant, client.store.merchant, expected.store.merchant),
        ):
            for field in model_of._meta.concrete_fields:
                assert getattr(got, field.attname) == getattr(want, field.attname), field.name
            assert not got._state.adding
    assert client.store.merchant.cuit == store_a.merchant.cuit
