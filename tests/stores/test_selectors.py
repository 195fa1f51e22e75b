"""Every store and terminal lookup goes through the user's memberships; outside is 404."""

import uuid

import pytest
from django.http import Http404
from django.urls import reverse

from stores.selectors import (
    store_get_for_user,
    store_list_for_user,
    terminal_get_for_user,
    terminal_list_for_user,
)
from tests.factories import make_membership, make_merchant, make_store

pytestmark = pytest.mark.django_db


@pytest.fixture
def other_store(db):
    """A store of another merchant: nobody in the personas may see it."""
    return make_store(make_merchant(), name="Sucursal Ajena", code="ajena")


class TestSelectors:
    def test_owner_and_finance_see_every_store_of_their_merchant(
        self, owner, finance, store_a, store_b, other_store
    ):
        for user in (owner, finance):
            assert set(store_list_for_user(user=user)) == {store_a, store_b}

    def test_store_roles_see_only_their_store(self, manager_a, cashier_a, store_a, store_b):
        for user in (manager_a, cashier_a):
            assert list(store_list_for_user(user=user)) == [store_a]
            with pytest.raises(Http404):
                store_get_for_user(user=user, public_id=store_b.public_id)

    def test_outsider_sees_nothing(self, outsider, store_a, terminal_a):
        assert list(store_list_for_user(user=outsider)) == []
        with pytest.raises(Http404):
            terminal_get_for_user(user=outsider, public_id=terminal_a.public_id)

    def test_terminals_follow_the_store_scope(self, manager_a, terminal_a, terminal_b):
        assert list(terminal_list_for_user(user=manager_a)) == [terminal_a]
        assert terminal_get_for_user(user=manager_a, public_id=terminal_a.public_id) == terminal_a
        with pytest.raises(Http404):
            terminal_get_for_user(user=manager_a, public_id=terminal_b.public_id)

    def test_a_user_with_two_memberships_sees_each_store_once(
        self, manager_a, store_a, store_b, merchant
    ):
        make_membership(manager_a, "finance", merchant=merchant)
        stores = list(store_list_for_user(user=manager_a))
        assert len(stores) == len(set(stores)) == 2

    def test_unknown_or_malformed_id_is_404(self, owner, store_a):
        for public_id in (uuid.uuid4(), "no-es-un-uuid"):
            with pytest.raises(Http404):
                store_get_for_user(user=owner, public_id=public_id)


class TestOldStorePages:
    """The "Mis sucursales" skeleton duplicated Hoy; its addresses now lead there."""

    @pytest.mark.parametrize(
        "path", ["/sucursales/", "/sucursales/5b0c8d9e-3f1a-4c2b-9d7e-1a2b3c4d5e6f/"]
    )
    def test_old_addresses_redirect_to_home(self, client_for, owner, path):
        response = client_for(owner).get(path)
        assert response.status_code == 302
        assert response.url == reverse("dashboard:home")

    def test_the_navigation_no_longer_offers_them(self, client_for, owner, store_a):
        body = client_for(owner).get(reverse("dashboard:home")).content.decode()
        assert "Mis sucursales" not in body
