"""Fixtures for the simulator's tests: a credential, two terminals and small HTTP clients.
Plain helpers (URLs, bodies, `Api`, `Control`, `paid_payment`) live in `tests.simulator.support`.

The tests run against `simulator.standalone_urls` (mounted at /simulator/ exactly like the
portal mounts it), so they do not depend on ECR_SIMULATOR being on in the environment.
"""

import pytest

from simulator import services
from tests.simulator.support import CUIT, PUBLIC_KEY, SECRET_KEY, START, T1, T2, Api, Control


@pytest.fixture(autouse=True)
def _simulator_urls(settings):
    settings.ROOT_URLCONF = "simulator.standalone_urls"


@pytest.fixture
def sim_credential(db):
    return services.credential_upsert(
        public_key=PUBLIC_KEY,
        secret_key=SECRET_KEY,
        cuit=CUIT,
        environment="homologation",
        merchant_name="ALMACEN DEMO SA",
    )


@pytest.fixture
def sim_terminals(sim_credential):
    return [
        services.terminal_upsert(terminal_id=T1, cuit=CUIT, serial="6A123455", model="A910"),
        services.terminal_upsert(terminal_id=T2, cuit=CUIT, serial="6A123456", model="A910"),
    ]


@pytest.fixture
def api(client, sim_terminals):
    return Api(client)


@pytest.fixture
def control(client, sim_terminals):
    return Control(client)


@pytest.fixture
def clock(time_machine):
    """Time frozen at START; `clock.shift(seconds)` moves it."""
    time_machine.move_to(START, tick=False)
    return time_machine
