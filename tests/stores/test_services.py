"""The settings rules as services: members and roles, credentials (create, update, secret,
retire) and the shared-credential rule."""

import pytest
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError

from stores.models import Credential, Environment, Membership
from stores.roles import Role
from stores.services import (
    credential_create,
    credential_retire,
    credential_set_secret,
    credential_update,
    membership_create,
    membership_delete,
    membership_set_role,
)
from tests import factories

pytestmark = pytest.mark.django_db


class TestMembershipCreate:
    def test_a_new_person_on_one_store(self, owner, store_a):
        membership = membership_create(
            user=owner,
            username="nueva",
            password="una-clave-larga-1",
            first_name="Nueva",
            role=Role.CASHIER,
            store=store_a,
        )
        assert (membership.role, membership.store, membership.merchant) == (
            Role.CASHIER,
            store_a,
            None,
        )
        assert membership.user.check_password("una-clave-larga-1")
        assert membership.user.first_name == "Nueva"

    def test_no_store_means_every_store_of_the_only_merchant_he_manages(self, owner, merchant):
        membership = membership_create(
            user=owner, username="nueva", password="una-clave-larga-1", role=Role.FINANCE
        )
        assert (membership.store, membership.merchant) == (None, merchant)

    def test_no_store_with_two_managed_merchants_asks_for_one(self, owner):
        factories.make_membership(owner, Role.OWNER, merchant=factories.make_merchant())
        with pytest.raises(ValidationError) as exc:
            membership_create(
                user=owner, username="nueva", password="una-clave-larga-1", role=Role.FINANCE
            )
        assert "Elegí una sucursal" in exc.value.message_dict["store"][0]
        assert not Membership.objects.filter(user__username="nueva").exists()

    def test_a_new_person_needs_a_valid_password(self, owner, store_a):
        with pytest.raises(ValidationError) as exc:
            membership_create(user=owner, username="nueva", role=Role.CASHIER, store=store_a)
        assert "indicá una contraseña inicial" in exc.value.message_dict["username"][0]
        with pytest.raises(ValidationError) as exc:
            membership_create(
                user=owner, username="nueva", password="1", role=Role.CASHIER, store=store_a
            )
        assert "password" in exc.value.message_dict  # the project's validators apply
        assert not Membership.objects.filter(user__username="nueva").exists()

    def test_a_known_person_gets_the_role_and_keeps_the_password(self, owner, finance, store_a):
        membership = membership_create(
            user=owner, username=finance.username, role=Role.MANAGER, store=store_a
        )
        assert membership.user == finance
        finance.refresh_from_db()
        assert finance.check_password(factories.DEFAULT_PASSWORD)

    def test_a_role_already_there_is_refused(self, owner, cashier_a, store_a):
        with pytest.raises(ValidationError) as exc:
            membership_create(
                user=owner, username=cashier_a.username, role=Role.MANAGER, store=store_a
            )
        assert "ya tiene un rol ahí" in exc.value.message_dict[NON_FIELD_ERRORS][0]

    def test_only_who_manages_the_store(self, manager_a, store_a):
        with pytest.raises(PermissionDenied):
            membership_create(
                user=manager_a,
                username="nueva",
                password="una-clave-larga-1",
                role=Role.OWNER,
                store=store_a,
            )
        assert not Membership.objects.filter(user__username="nueva").exists()


class TestMembershipChanges:
    def test_role_change_and_removal(self, owner, cashier_a):
        membership = Membership.objects.get(user=cashier_a)
        membership_set_role(membership=membership, role=Role.MANAGER, user=owner)
        membership.refresh_from_db()
        assert membership.role == Role.MANAGER
        membership_delete(membership=membership, user=owner)
        assert not Membership.objects.filter(pk=membership.pk).exists()

    def test_nobody_changes_or_removes_his_own_role(self, owner):
        membership = Membership.objects.get(user=owner)
        with pytest.raises(ValidationError, match="tu propio rol"):
            membership_set_role(membership=membership, role=Role.CASHIER, user=owner)
        with pytest.raises(ValidationError, match="quitarte el acceso"):
            membership_delete(membership=membership, user=owner)
        membership.refresh_from_db()
        assert membership.role == Role.OWNER

    def test_a_manager_changes_no_role(self, manager_a, cashier_a):
        membership = Membership.objects.get(user=cashier_a)
        with pytest.raises(PermissionDenied):
            membership_set_role(membership=membership, role=Role.OWNER, user=manager_a)
        with pytest.raises(PermissionDenied):
            membership_delete(membership=membership, user=manager_a)
        assert Membership.objects.get(pk=membership.pk).role == Role.CASHIER


def _fields(**kw):
    return {
        "name": "Producción",
        "environment": Environment.PRODUCTION,
        "base_url": "https://api.example.com/",
        "public_key": "pk-1",
        **kw,
    }


class TestCredentials:
    def test_create_encrypts_the_secret(self, owner, merchant):
        credential = credential_create(
            user=owner, secret_key="sk-1", merchants=[merchant], **_fields()
        )
        stored = Credential.objects.get(pk=credential.pk)
        assert stored.get_secret() == "sk-1"
        assert "sk-1" not in stored.secret_key_encrypted
        assert stored.base_url == "https://api.example.com"
        assert list(stored.merchants.all()) == [merchant]

    def test_create_for_a_merchant_he_does_not_manage_is_refused(self, owner, manager_a):
        other = factories.make_merchant()
        with pytest.raises(PermissionDenied):
            credential_create(user=owner, secret_key="sk", merchants=[other], **_fields())
        assert not Credential.objects.filter(name="Producción").exists()

    def test_update_keeps_the_secret_unless_given(self, owner, credential, merchant):
        credential_update(
            credential=credential, user=owner, merchants=[merchant], **_fields(name="Otra")
        )
        credential.refresh_from_db()
        assert (credential.name, credential.get_secret()) == ("Otra", factories.DEFAULT_SECRET_KEY)
        credential_update(
            credential=credential,
            user=owner,
            merchants=[merchant],
            secret_key="nuevo",
            **_fields(),
        )
        credential.refresh_from_db()
        assert credential.get_secret() == "nuevo"

    def test_the_shared_credential_rule(self, owner, credential, merchant):
        """Shared with a merchant the owner does not manage: no update, secret or retire."""
        other = factories.make_merchant()
        credential.merchants.add(other)
        with pytest.raises(PermissionDenied):
            credential_update(
                credential=credential,
                user=owner,
                merchants=[merchant],
                **_fields(base_url="https://evil.example.com"),
            )
        with pytest.raises(PermissionDenied):
            credential_set_secret(credential=credential, secret_key="robada", user=owner)
        with pytest.raises(PermissionDenied):
            credential_retire(credential=credential, user=owner)
        credential = Credential.objects.get(pk=credential.pk)
        assert credential.base_url == "https://simulator.invalid"
        assert set(credential.merchants.all()) == {merchant, other}
        assert credential.get_secret() == factories.DEFAULT_SECRET_KEY
        assert credential.retired_at is None

    def test_update_cannot_hand_the_credential_to_a_merchant_he_does_not_manage(
        self, owner, credential, merchant
    ):
        other = factories.make_merchant()
        with pytest.raises(PermissionDenied):
            credential_update(
                credential=credential, user=owner, merchants=[merchant, other], **_fields()
            )
        assert list(Credential.objects.get(pk=credential.pk).merchants.all()) == [merchant]

    def test_set_secret(self, owner, credential):
        credential_set_secret(credential=credential, secret_key="otro", user=owner)
        assert Credential.objects.get(pk=credential.pk).get_secret() == "otro"
        with pytest.raises(ValidationError):
            credential_set_secret(credential=credential, secret_key="", user=owner)

    def test_retire_is_kept_and_safe_twice(self, owner, credential):
        credential_retire(credential=credential, user=owner)
        first = Credential.objects.get(pk=credential.pk).retired_at
        assert first is not None
        credential_retire(credential=credential, user=owner)
        assert Credential.objects.get(pk=credential.pk).retired_at == first
        assert list(Credential.objects.active()) == []

    def test_a_retired_credential_cannot_change(self, owner, credential, merchant):
        credential_retire(credential=credential, user=owner)
        with pytest.raises(ValidationError, match="retirada"):
            credential_set_secret(credential=credential, secret_key="otro", user=owner)
        with pytest.raises(ValidationError, match="retirada"):
            credential_update(credential=credential, user=owner, merchants=[merchant], **_fields())
