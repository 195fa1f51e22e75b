"""membership_create and usernames (issue 11 #16, #18): people of another merchant cannot be
attached, an unknown username and a foreign one get the same answer, and new usernames pass
Django's own username validators."""

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from stores.models import Membership
from stores.roles import Role
from stores.services import membership_create
from tests import factories

pytestmark = pytest.mark.django_db


def _refusal(**kwargs) -> dict:
    with pytest.raises(ValidationError) as exc:
        membership_create(**kwargs)
    return exc.value.message_dict


def test_an_owner_cannot_attach_a_person_of_another_merchant(owner, store_a):
    stranger = factories.make_user("de-otro-comercio")
    factories.make_membership(stranger, Role.OWNER, merchant=factories.make_merchant())
    errors = _refusal(user=owner, username=stranger.username, role=Role.MANAGER, store=store_a)
    assert "username" in errors
    errors = _refusal(
        user=owner,
        username=stranger.username,
        password="una-clave-larga-1",
        role=Role.MANAGER,
        store=store_a,
    )
    assert "username" in errors
    assert not Membership.objects.filter(user=stranger, store=store_a).exists()
    # ... nor on every store of the merchant, nor a person with no role anywhere.
    assert "username" in _refusal(user=owner, username=stranger.username, role=Role.FINANCE)
    loner = factories.make_user("sin-rol")
    assert "username" in _refusal(
        user=owner, username=loner.username, role=Role.CASHIER, store=store_a
    )


def test_unknown_and_foreign_usernames_get_the_same_answer(owner, store_a):
    stranger = factories.make_user("de-otro-comercio")
    factories.make_membership(stranger, Role.CASHIER, merchant=factories.make_merchant())
    unknown = _refusal(user=owner, username="nadie-asi", role=Role.CASHIER, store=store_a)
    foreign = _refusal(user=owner, username=stranger.username, role=Role.CASHIER, store=store_a)
    assert unknown == foreign


def test_a_person_of_the_same_merchant_is_still_attached(owner, store_a, store_b):
    colleague = factories.make_user("colega")
    factories.make_membership(colleague, Role.CASHIER, store=store_b)
    membership = membership_create(user=owner, username="colega", role=Role.CASHIER, store=store_a)
    assert membership.user == colleague


@pytest.mark.parametrize("username", ["con espacio", "caja/1", "x" * 151, "bad\u202euser"])
def test_new_usernames_pass_djangos_username_validators(owner, store_a, username):
    errors = _refusal(
        user=owner,
        username=username,
        password="una-clave-larga-1",
        role=Role.CASHIER,
        store=store_a,
    )
    assert "username" in errors
    assert not get_user_model().objects.filter(username=username).exists()
