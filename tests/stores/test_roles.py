import pytest

from stores.permissions import user_can
from stores.roles import Action, Role, role_allows

EXPECTED = {
    Role.OWNER: set(Action),
    Role.MANAGER: set(Action) - {Action.MANAGE_SETTINGS, Action.REFUND_UNREFERENCED},
    Role.CASHIER: {Action.VIEW, Action.CHARGE, Action.CANCEL},
    Role.FINANCE: {Action.VIEW, Action.VIEW_REPORTS},
}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("action", list(Action))
def test_role_table(role, action):
    assert role_allows(role, action) is (action in EXPECTED[role])


def test_unknown_role_allows_nothing():
    assert not any(role_allows("intruso", action) for action in Action)


def test_finance_moves_no_money():
    money = {Action.CHARGE, Action.CANCEL, Action.REVERSE, Action.REFUND, Action.CLOSE_BATCH}
    assert not any(role_allows(Role.FINANCE, action) for action in money)


@pytest.mark.django_db
class TestUserCan:
    def test_store_role_applies_only_to_its_store(self, cashier_a, store_a, store_b):
        assert user_can(user=cashier_a, store=store_a, action=Action.CHARGE)
        assert not user_can(user=cashier_a, store=store_a, action=Action.REFUND)
        assert not user_can(user=cashier_a, store=store_b, action=Action.VIEW)

    def test_merchant_role_applies_to_every_store(self, owner, finance, store_a, store_b):
        for store in (store_a, store_b):
            assert user_can(user=owner, store=store, action=Action.MANAGE_SETTINGS)
            assert user_can(user=finance, store=store, action=Action.VIEW_REPORTS)
            assert not user_can(user=finance, store=store, action=Action.CHARGE)

    def test_outsider_may_do_nothing(self, outsider, store_a):
        assert not any(user_can(user=outsider, store=store_a, action=a) for a in Action)
