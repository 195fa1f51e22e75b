"""A credential's base URL is judged by where its name leads when it is saved (issue 11 #12):
names of this machine, of the cloud metadata or of a cluster service are refused, and with
DEBUG=0 only the provider's hosts (or those in ECR_PROVIDER_HOSTS) are accepted. Development
keeps the simulator on http://127.0.0.1."""

from unittest import mock

import pytest

from stores.validators import PROVIDER_HOSTS, provider_url_problem


def _resolving(address: str):
    family = 10 if ":" in address else 2
    return mock.patch(
        "stores.address_policy.socket.getaddrinfo",
        return_value=[(family, 1, 6, "", (address, 443))],
    )


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.TESTING = False
    settings.ECR_PROVIDER_HOSTS = []
    return settings


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("https://metadata.google.internal/computeMetadata/v1", "169.254.169.254"),
        ("https://127.0.0.1.nip.io/x", "127.0.0.1"),
        ("https://kubernetes.default.svc/api", "10.96.0.1"),
        ("https://rebind.example.com", "::ffff:192.168.0.10"),
    ],
)
def test_names_of_internal_addresses_are_refused_when_saving(settings, url, address):
    settings.DEBUG = False  # tests: the host list is not applied, the address policy is
    with _resolving(address):
        assert provider_url_problem(url) != ""
    settings.DEBUG = True  # development allows loopback, never a private network
    with _resolving(address):
        assert (provider_url_problem(url) == "") is (address == "127.0.0.1")


@pytest.mark.parametrize("host", sorted(PROVIDER_HOSTS))
def test_in_production_the_providers_hosts_are_accepted(production, host):
    with _resolving("93.184.216.34"):
        assert provider_url_problem(f"https://{host}") == ""


@pytest.mark.parametrize(
    "url", ["https://api.example.com", "https://93.184.216.34/v1", "https://evil.payway.com.ar"]
)
def test_in_production_other_hosts_are_refused_unless_listed(production, url):
    with _resolving("93.184.216.34"):
        assert "ECR_PROVIDER_HOSTS" in provider_url_problem(url)
        production.ECR_PROVIDER_HOSTS = ["api.example.com", "93.184.216.34", "evil.payway.com.ar"]
        assert provider_url_problem(url) == ""


def test_a_listed_host_still_may_not_reach_a_private_network(production):
    production.ECR_PROVIDER_HOSTS = ["prisma-proxy.example.com"]
    with _resolving("10.0.0.5"):
        assert provider_url_problem("https://prisma-proxy.example.com") != ""


def test_a_known_host_resolving_inside_is_refused(production):
    with _resolving("169.254.169.254"):
        assert provider_url_problem("https://api.prismamediosdepago.com") != ""


def test_the_simulator_on_loopback_keeps_working_in_development(settings):
    settings.DEBUG = True
    assert provider_url_problem("http://127.0.0.1:8000/simulator") == ""
    with _resolving("127.0.0.1"):
        assert provider_url_problem("http://localhost:8000/simulator") == ""
