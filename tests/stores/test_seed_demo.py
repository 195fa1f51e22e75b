from io import StringIO
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from stores.management.commands import seed_demo
from stores.models import Credential, Membership, Merchant, PosClient, Store, Terminal
from stores.roles import Role
from stores.selectors import store_list_for_user
from stores.services import pos_client_authenticate

pytestmark = pytest.mark.django_db

MODELS = [Merchant, Store, Terminal, Credential, Membership, PosClient, get_user_model()]


def run_seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out, stderr=StringIO())
    return out.getvalue()


def snapshot():
    return {
        "counts": {model.__name__: model.objects.count() for model in MODELS},
        "terminals": sorted(Terminal.objects.values_list("terminal_id", "store__code", "label")),
        "memberships": sorted(
            Membership.objects.values_list("user__username", "role", "store__code")
        ),
        "keys": sorted(PosClient.objects.values_list("prefix", "key_hash")),
        "password_hashes": sorted(get_user_model().objects.values_list("username", "password")),
        "secret": list(Credential.objects.values_list("secret_key_encrypted", flat=True)),
    }


@override_settings(ECR_SIMULATOR=False)
def test_running_twice_gives_the_same_data():
    first_output = run_seed()
    first = snapshot()
    second_output = run_seed()
    assert snapshot() == first
    assert first["counts"] == {
        "Merchant": 1,
        "Store": 3,
        "Terminal": 6,
        "Credential": 1,
        "Membership": 4,
        "PosClient": 3,
        "User": 5,
    }
    # Keys are printed when created and never again.
    first_keys = [line.split(": ", 1)[1] for line in first_output.splitlines() if "ecr_" in line]
    assert len(first_keys) == 3
    assert all(pos_client_authenticate(raw_key=key) for key in first_keys)
    assert "ecr_" not in second_output
    assert second_output.count("ya existe") == 3


@override_settings(ECR_SIMULATOR=False)
def test_demo_content(settings):
    output = run_seed()
    merchant = Merchant.objects.get()
    assert (merchant.legal_name, merchant.cuit) == ("Almacén Demo S.A.", "30-71234567-1")
    assert set(Store.objects.values_list("code", flat=True)) == {"centro", "palermo", "belgrano"}
    assert set(Store.objects.values_list("environment", flat=True)) == {"homologation"}
    assert sorted(Terminal.objects.values_list("terminal_id", flat=True)) == [
        str(n) for n in range(38011127, 38011133)
    ]
    credential = Credential.objects.get()
    assert credential.environment == "homologation"
    assert credential.base_url == settings.ECR_SIMULATOR_BASE_URL.rstrip("/")
    assert credential.get_secret() == seed_demo.DEMO_SECRET_KEY
    assert list(credential.merchants.all()) == [merchant]

    users = get_user_model().objects
    assert users.get(username="admin").is_superuser
    for username in ("admin", "duenio", "encargado", "cajero", "finanzas"):
        assert users.get(username=username).check_password(seed_demo.DEMO_PASSWORD)
        assert username in output
    assert seed_demo.DEMO_PASSWORD in output
    roles = dict(Membership.objects.values_list("user__username", "role"))
    assert roles == {
        "duenio": Role.OWNER,
        "encargado": Role.MANAGER,
        "cajero": Role.CASHIER,
        "finanzas": Role.FINANCE,
    }
    assert store_list_for_user(user=users.get(username="duenio")).count() == 3
    assert [s.code for s in store_list_for_user(user=users.get(username="cajero"))] == ["centro"]


@override_settings(ECR_SIMULATOR=False)
def test_a_revoked_demo_key_is_replaced_on_the_next_run():
    run_seed()
    PosClient.objects.filter(store__code="centro").update(revoked_at="2025-01-01T00:00Z")
    output = run_seed()
    assert output.count("ecr_") == 1
    assert PosClient.objects.filter(store__code="centro", revoked_at__isnull=True).count() == 1


@override_settings(ECR_SIMULATOR=True)
def test_registers_the_demo_in_the_simulator():
    with (
        mock.patch.object(seed_demo, "get_commands", return_value={"simulator_seed": "simulator"}),
        mock.patch.object(seed_demo, "call_command") as fake_call,
    ):
        run_seed()
    fake_call.assert_called_once()
    args = list(fake_call.call_args.args)
    assert args[0] == "simulator_seed"
    options = list(zip(args[1::2], args[2::2], strict=True))
    assert ("--public-key", seed_demo.DEMO_PUBLIC_KEY) in options
    assert ("--secret-key", seed_demo.DEMO_SECRET_KEY) in options
    assert ("--cuit", "30-71234567-1") in options
    assert ("--environment", "homologation") in options
    assert ("--merchant-name", "Almacén Demo S.A.") in options
    assert [v for k, v in options if k == "--terminal"] == [
        str(n) for n in range(38011127, 38011133)
    ]


@override_settings(ECR_SIMULATOR=True)
def test_missing_simulator_command_is_a_warning_not_a_crash():
    err = StringIO()
    with mock.patch.object(seed_demo, "get_commands", return_value={}):
        call_command("seed_demo", stdout=StringIO(), stderr=err)
    assert "simulator_seed" in err.getvalue()
    assert Terminal.objects.count() == 6


@override_settings(DEBUG=False, TESTING=False, ECR_SIMULATOR=False)
def test_refuses_without_debug_unless_forced():
    with pytest.raises(CommandError, match="DEBUG=0"):
        call_command("seed_demo", stdout=StringIO())
    assert not Merchant.objects.exists()
    call_command("seed_demo", "--force", stdout=StringIO(), stderr=StringIO())
    assert Merchant.objects.count() == 1
