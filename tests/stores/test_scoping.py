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
from tests.factories import make_membership, make_merchant, make_store, make_terminal

pytestmark = pytest.mark.django_db


def detail_url(store):
    return reverse("stores:detail", args=[store.public_id])


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


class TestStoreListPage:
    def test_anonymous_is_sent_to_login(self, client):
        response = client.get(reverse("stores:list"))
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))

    def test_manager_sees_only_store_a_with_its_terminals(
        self, client_for, manager_a, terminal_a, terminal_b
    ):
        response = client_for(manager_a).get(reverse("stores:list"))
        assert response.status_code == 200
        body = response.content.decode()
        assert "Mis sucursales" in body
        assert "Sucursal A" in body and "11111111" in body and "Caja A1" in body
        assert "Sucursal B" not in body and "22222222" not in body

    def test_owner_sees_all(self, client_for, owner, terminal_a, terminal_b, other_store):
        body = client_for(owner).get(reverse("stores:list")).content.decode()
        assert "Sucursal A" in body and "Sucursal B" in body
        assert "Sucursal Ajena" not in body

    def test_outsider_sees_an_empty_list(self, client_for, outsider, terminal_a):
        response = client_for(outsider).get(reverse("stores:list"))
        assert response.status_code == 200
        body = response.content.decode()
        assert "No tenés sucursales asignadas" in body
        assert "Sucursal A" not in body

    def test_disabled_terminal_is_marked(self, client_for, owner, store_a):
        make_terminal(store_a, terminal_id="33333333", enabled=False)
        body = client_for(owner).get(reverse("stores:list")).content.decode()
        assert "Deshabilitada" in body

    def test_query_count_does_not_grow_with_stores(
        self, client_for, owner, merchant, django_assert_max_num_queries
    ):
        for _ in range(5):
            store = make_store(merchant)
            make_terminal(store)
            make_terminal(store)
        client = client_for(owner)
        with django_assert_max_num_queries(8):
            assert client.get(reverse("stores:list")).status_code == 200


class TestStoreDetailPage:
    def test_manager_of_a_sees_a(self, client_for, manager_a, store_a, terminal_a):
        response = client_for(manager_a).get(detail_url(store_a))
        assert response.status_code == 200
        assert "11111111" in response.content.decode()

    def test_manager_of_a_gets_404_for_b(self, client_for, manager_a, store_b):
        assert client_for(manager_a).get(detail_url(store_b)).status_code == 404

    def test_cashier_of_a_gets_404_for_b(self, client_for, cashier_a, store_b):
        assert client_for(cashier_a).get(detail_url(store_b)).status_code == 404

    def test_outsider_gets_404(self, client_for, outsider, store_a):
        assert client_for(outsider).get(detail_url(store_a)).status_code == 404

    def test_owner_and_finance_get_both(self, client_for, owner, finance, store_a, store_b):
        for user in (owner, finance):
            client = client_for(user)
            assert client.get(detail_url(store_a)).status_code == 200
            assert client.get(detail_url(store_b)).status_code == 200

    def test_other_merchants_store_is_404_even_for_the_owner(self, client_for, owner, other_store):
        assert client_for(owner).get(detail_url(other_store)).status_code == 404
