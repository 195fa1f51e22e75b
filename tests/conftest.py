"""Personas and shared fixtures for the whole suite.

One merchant with two stores (A and B), one terminal in each, a homologation credential, and
five people: the merchant's owner and finance (every store), the manager and the cashier of
store A, and an outsider with no membership. `client_for(user)` gives a logged-in test client.
"""

import pytest
from django.test import Client

from stores.roles import Role
from tests import factories


@pytest.fixture
def merchant(db):
    return factories.make_merchant(legal_name="Comercio de Prueba S.A.")


@pytest.fixture
def store_a(merchant):
    return factories.make_store(merchant, name="Sucursal A", code="sucursal-a")


@pytest.fixture
def store_b(merchant):
    """Same merchant as store A: scoping must separate stores, not only merchants."""
    return factories.make_store(merchant, name="Sucursal B", code="sucursal-b")


@pytest.fixture
def terminal_a(store_a):
    return factories.make_terminal(store_a, terminal_id="11111111", label="Caja A1")


@pytest.fixture
def terminal_b(store_b):
    return factories.make_terminal(store_b, terminal_id="22222222", label="Caja B1")


@pytest.fixture
def credential(merchant):
    """Homologation credential of the merchant. `base_url` is a placeholder that resolves
    nowhere: tests that talk to a provider point it at the simulator or a fake transport."""
    return factories.make_credential(
        merchants=[merchant], name="Homologación de prueba", base_url="https://simulator.invalid"
    )


@pytest.fixture
def owner(merchant):
    user = factories.make_user("duenio", first_name="Dueña")
    factories.make_membership(user, Role.OWNER, merchant=merchant)
    return user


@pytest.fixture
def manager_a(store_a):
    user = factories.make_user("encargado_a", first_name="Encargado")
    factories.make_membership(user, Role.MANAGER, store=store_a)
    return user


@pytest.fixture
def cashier_a(store_a):
    user = factories.make_user("cajero_a", first_name="Cajero")
    factories.make_membership(user, Role.CASHIER, store=store_a)
    return user


@pytest.fixture
def finance(merchant):
    user = factories.make_user("finanzas", first_name="Finanzas")
    factories.make_membership(user, Role.FINANCE, merchant=merchant)
    return user


@pytest.fixture
def outsider(db):
    return factories.make_user("ajeno", first_name="Ajeno")


@pytest.fixture
def client_for(db):
    """`client_for(user)`: a Django test client logged in as that user (a fresh one each call)."""

    def _client_for(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return _client_for


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A test that timed out also reports what the database's sessions were doing then."""
    report = yield
    if report.failed and call.excinfo is not None and "pytest-timeout" in call.excinfo.exconly():
        from tests.hang_report import database_sessions

        sessions = database_sessions()
        if sessions is not None:
            report.sections.append(("PostgreSQL sessions at the timeout", sessions))
    return report
