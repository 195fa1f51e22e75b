"""seed_demo under DEBUG=0 registers the demo in a standalone simulator on this machine
(`manage.py runsimulator`, same settings and database) when ECR_SIMULATOR_BASE_URL points at it
(issue 11, item 24)."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.test import override_settings

from simulator.models import SimCredential, SimTerminal
from stores.management.commands import seed_demo
from stores.models import Credential

pytestmark = pytest.mark.django_db

STANDALONE = "http://127.0.0.1:8001/simulator"


@override_settings(
    DEBUG=False, TESTING=False, ECR_SIMULATOR=False, ECR_SIMULATOR_BASE_URL=STANDALONE
)
def test_debug_off_registers_the_demo_in_the_standalone_simulator():
    out = StringIO()
    call_command("seed_demo", "--force", stdout=out, stderr=StringIO())
    assert Credential.objects.get().base_url == STANDALONE
    credential = SimCredential.objects.get(public_key=seed_demo.DEMO_PUBLIC_KEY)
    assert credential.secret_key == seed_demo.DEMO_SECRET_KEY
    assert SimTerminal.objects.count() == 6
    assert "Simulador: credencial y terminales registradas." in out.getvalue()


@override_settings(
    DEBUG=False,
    TESTING=False,
    ECR_SIMULATOR=False,
    ECR_SIMULATOR_BASE_URL="https://sim.example.com/simulator",
)
def test_a_remote_simulator_is_not_written_to():
    call_command("seed_demo", "--force", stdout=StringIO(), stderr=StringIO())
    assert not SimCredential.objects.exists()
