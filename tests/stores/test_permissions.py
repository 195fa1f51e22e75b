"""stores.permissions decides; stores.selectors restricts querysets by those decisions."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser

from stores.models import Credential, Membership, Merchant, PosClient, Store, Terminal
from stores.permissions import (
    StorePermissions,
    credential_change_allowed,
    is_own_membership,
    roles_allowing,
    user_can_for_merchant,
    user_manages_membership,
    user_manages_merchant,
)
from stores.roles import Action, Role
from stores.selectors import (
    credential_choices_for_store,
    credential_for_store,
    merchant_list_for_user,
    restrict,
    store_list_for_user,
)
from stores.services import credential_retire
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def other_store(db):
    return factories.make_store(factories.make_merchant(), name="Ajena", code="ajena")


def test_roles_allowing_follows_the_table():
    assert roles_allowing(Action.MANAGE_SETTINGS) == [Role.OWNER]
    assert set(roles_allowing(Action.VIEW_REPORTS)) == {Role.OWNER, Role.MANAGER, Role.FINANCE}
    assert set(roles_allowing(Action.VIEW)) == set(Role)


class TestMerchantDecisions:
    def test_only_a_merchant_wide_role_acts_on_the_merchant(
        self, owner, finance, manager_a, outsider, merchant
    ):
        assert user_manages_merchant(user=owner, merchant=merchant)
        assert user_can_for_merchant(user=finance, merchant=merchant, action=Action.VIEW_REPORTS)
        assert not user_manages_merchant(user=finance, merchant=merchant)
        # Managing store A's settings is not managing the merchant.
        assert not user_can_for_merchant(user=manager_a, merchant=merchant, action=Action.VIEW)
        assert not user_manages_merchant(user=outsider, merchant=merchant)
        assert not user_manages_merchant(user=AnonymousUser(), merchant=merchant)

    def test_who_manages_a_membership(self, owner, manager_a, cashier_a, finance):
        cashier_role = Membership.objects.get(user=cashier_a)
        finance_role = Membership.objects.get(user=finance)
        assert user_manages_membership(user=owner, membership=cashier_role)
        assert user_manages_membership(user=owner, membership=finance_role)
        assert not user_manages_membership(user=manager_a, membership=cashier_role)

    def test_own_membership(self, owner, cashier_a):
        assert is_own_membership(user=owner, membership=Membership.objects.get(user=owner))
        assert not is_own_membership(user=owner, membership=Membership.objects.get(user=cashier_a))


class TestSharedCredentialRule:
    def test_the_owner_of_every_merchant_it_serves_may_change_it(self, owner, credential):
        assert credential_change_allowed(user=owner, credential=credential)

    def test_shared_with_a_merchant_he_does_not_manage_is_refused(self, owner, credential):
        credential.merchants.add(factories.make_merchant())
        assert not credential_change_allowed(user=owner, credential=credential)

    def test_shared_between_two_merchants_he_owns_is_allowed(self, owner, credential):
        second = factories.make_merchant()
        factories.make_membership(owner, Role.OWNER, merchant=second)
        credential.merchants.add(second)
        assert credential_change_allowed(user=owner, credential=credential)

    def test_others_and_orphans(self, owner, finance, manager_a, credential):
        assert not credential_change_allowed(user=finance, credential=credential)
        assert not credential_change_allowed(user=manager_a, credential=credential)
        orphan = factories.make_credential(merchants=[])
        assert not credential_change_allowed(user=owner, credential=orphan)
        admin = get_user_model().objects.create_superuser("raiz", password="x")
        assert credential_change_allowed(user=admin, credential=orphan)


def test_store_permissions_in_one_query(
    owner, cashier_a, store_a, store_b, django_assert_num_queries
):
    with django_assert_num_queries(1):
        permissions = StorePermissions(user=cashier_a, stores=[store_a, store_b])
    assert permissions.allows(store_a, Action.CHARGE)
    assert not permissions.allows(store_a, Action.REFUND)
    assert not permissions.allows(store_b, Action.VIEW)
    assert StorePermissions(user=owner, stores=[store_b]).any(Action.MANAGE_SETTINGS)


class TestListsForUser:
    def test_stores_by_action(self, owner, manager_a, cashier_a, finance, store_a, store_b):
        assert set(store_list_for_user(user=owner, action=Action.MANAGE_SETTINGS)) == {
            store_a,
            store_b,
        }
        assert list(store_list_for_user(user=manager_a, action=Action.REFUND)) == [store_a]
        assert list(store_list_for_user(user=manager_a, action=Action.MANAGE_SETTINGS)) == []
        assert list(store_list_for_user(user=cashier_a, action=Action.CLOSE_BATCH)) == []
        assert list(store_list_for_user(user=finance, action=Action.CHARGE)) == []

    def test_an_action_is_held_by_the_same_membership_that_names_the_store(
        self, manager_a, store_a, store_b, merchant
    ):
        """Finance on the whole merchant plus manager of A: refunds on A only."""
        factories.make_membership(manager_a, Role.FINANCE, merchant=merchant)
        assert list(store_list_for_user(user=manager_a, action=Action.REFUND)) == [store_a]
        assert set(store_list_for_user(user=manager_a, action=Action.VIEW_REPORTS)) == {
            store_a,
            store_b,
        }

    def test_merchants_seen_and_managed(self, owner, manager_a, outsider, merchant, other_store):
        assert list(merchant_list_for_user(user=manager_a)) == [merchant]
        assert list(merchant_list_for_user(user=manager_a, action=Action.MANAGE_SETTINGS)) == []
        assert list(merchant_list_for_user(user=owner, action=Action.MANAGE_SETTINGS)) == [merchant]
        assert list(merchant_list_for_user(user=outsider)) == []
        assert list(merchant_list_for_user(user=AnonymousUser())) == []


class TestRestrict:
    def test_models_with_a_store(self, manager_a, terminal_a, terminal_b, key_pair):
        assert list(restrict(Terminal, user=manager_a)) == [terminal_a]
        assert list(restrict(Terminal.objects.filter(enabled=True), user=manager_a)) == [terminal_a]
        assert list(restrict(PosClient, user=manager_a)) == [key_pair[0]]
        assert list(restrict(Terminal, user=manager_a, action=Action.MANAGE_SETTINGS)) == []

    def test_intents_are_scoped_by_their_store(self, manager_a, store_a, store_b, credential):
        from transactions.models import Intent

        mine = factories.make_intent(store_a, credential=credential)
        factories.make_intent(store_b, credential=credential)
        assert list(restrict(Intent, user=manager_a)) == [mine]

    def test_merchants_memberships_and_credentials(
        self, owner, manager_a, cashier_a, credential, merchant, other_store
    ):
        factories.make_credential(merchants=[other_store.merchant])
        assert list(restrict(Credential, user=owner, action=Action.MANAGE_SETTINGS)) == [credential]
        assert list(restrict(Credential, user=manager_a)) == [credential]
        assert list(restrict(Credential, user=manager_a, action=Action.MANAGE_SETTINGS)) == []
        assert list(restrict(Merchant, user=manager_a)) == [merchant]
        assert set(restrict(Membership, user=owner, action=Action.MANAGE_SETTINGS)) == set(
            Membership.objects.all()
        )
        assert list(restrict(Membership, user=manager_a, action=Action.MANAGE_SETTINGS)) == []

    def test_a_credential_shared_by_two_visible_merchants_appears_once(self, owner, credential):
        second = factories.make_merchant()
        factories.make_membership(owner, Role.OWNER, merchant=second)
        credential.merchants.add(second)
        assert list(restrict(Credential, user=owner)) == [credential]

    def test_pos_key_sees_its_store_only(self, store_a, terminal_a, terminal_b, key_pair):
        client, _raw = key_pair
        assert list(restrict(Terminal, pos_client=client)) == [terminal_a]
        assert list(restrict(Store, pos_client=client)) == [store_a]
        from stores.services import pos_client_revoke

        pos_client_revoke(client=client)
        assert list(restrict(Terminal, pos_client=client)) == []

    def test_anonymous_sees_nothing_and_superuser_everything(self, terminal_a, other_store):
        assert list(restrict(Terminal, user=AnonymousUser())) == []
        admin = get_user_model().objects.create_superuser("raiz", password="x")
        assert set(restrict(Store, user=admin)) == set(Store.objects.all())

    def test_an_unknown_model_is_refused_rather_than_left_unscoped(self, owner):
        with pytest.raises(TypeError, match="does not know"):
            restrict(get_user_model(), user=owner)
        with pytest.raises(TypeError):
            restrict(Store)


@pytest.fixture
def key_pair(store_a):
    return factories.make_pos_client(store_a, name="POS A")


def test_a_retired_credential_is_never_chosen_for_new_charges(store_a, credential, merchant):
    newer = factories.make_credential(merchants=[merchant], name="Nueva")
    assert credential_for_store(store=store_a) == credential, "adding one moves nothing"
    credential_retire(credential=credential)
    # No other credential is picked in its place: the store waits for an explicit choice.
    assert credential_for_store(store=store_a) is None
    assert newer in credential_choices_for_store(store=store_a)
    assert credential not in credential_choices_for_store(store=store_a)


def test_restrict_reaches_the_store_through_a_terminal_or_a_pos_key(
    manager_a, store_a, terminal_a, terminal_b, credential, key_pair
):
    from django.utils import timezone

    from transactions.models import Batch
    from transactions.states import Kind
    from transactions.webhooks.models import WebhookEndpoint

    batches = []
    for terminal in (terminal_a, terminal_b):
        settlement = factories.make_intent(
            terminal.store, terminal=terminal, credential=credential, kind=Kind.SETTLEMENT
        )
        batches.append(
            Batch.objects.create(
                terminal=terminal, batch_number=1, settlement=settlement, closed_at=timezone.now()
            )
        )
    hook = WebhookEndpoint.objects.create(pos_client=key_pair[0], url="https://pos.example.com/h")
    other_key, _raw = factories.make_pos_client(factories.make_store())
    WebhookEndpoint.objects.create(pos_client=other_key, url="https://pos.example.com/h")
    assert list(restrict(Batch, user=manager_a)) == [batches[0]]
    assert list(restrict(WebhookEndpoint, user=manager_a)) == [hook]
