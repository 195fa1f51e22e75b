"""A credential's host is resolved and checked at every connection, and the request goes to the
checked address (issue 11 #12): a name of 127.0.0.1 (`*.nip.io`), of the cloud metadata or of a
cluster service never gets the credential's keys, even if it resolved to a public address when
the credential was saved (DNS rebinding). In production only the provider's hosts are used,
unless ECR_PROVIDER_HOSTS widens the list."""

from unittest import mock

import httpx
import pytest

from tests.transactions.gateway.support import make_credential
from transactions.gateway import GatewayError, PrismaGateway
from transactions.gateway.pinning import PinnedTransport

pytestmark = pytest.mark.django_db

PROVIDER = "https://api-homo.prismamediosdepago.com"


def _resolving(*answers: str):
    """Patches DNS: each lookup answers the next address (the last one repeats)."""
    queue = list(answers)

    def getaddrinfo(host, *args, **kwargs):
        address = queue.pop(0) if len(queue) > 1 else queue[0]
        family = 10 if ":" in address else 2
        return [(family, 1, 6, "", (address, 443))]

    return mock.patch("stores.address_policy.socket.getaddrinfo", side_effect=getaddrinfo)


def _gateway(fake_prisma, base_url: str, *, ttl_s: float = 30.0) -> PrismaGateway:
    transport = PinnedTransport(httpx.MockTransport(fake_prisma), ttl_s=ttl_s)
    return PrismaGateway(make_credential(base_url=base_url), transport=transport)


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.TESTING = False
    settings.ECR_PROVIDER_HOSTS = []
    return settings


def test_the_request_goes_to_the_checked_address_with_the_hosts_name(fake_prisma, production):
    with _resolving("93.184.216.34"):
        _gateway(fake_prisma, PROVIDER).token()
    (request,) = fake_prisma.requests
    assert request.url.host == "93.184.216.34"
    assert request.headers["Host"] == "api-homo.prismamediosdepago.com"
    assert request.extensions["sni_hostname"] == "api-homo.prismamediosdepago.com"


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.96.0.1", "169.254.169.254", "::ffff:127.0.0.1", "64:ff9b::a9fe:a9fe"],
)
def test_a_name_of_an_internal_address_gets_nothing(fake_prisma, production, address):
    with _resolving(address), pytest.raises(GatewayError) as exc:
        _gateway(fake_prisma, PROVIDER).token()
    assert "no permitida" in exc.value.message and not exc.value.retryable
    assert fake_prisma.requests == []


def test_dns_rebinding_after_the_check_is_refused(fake_prisma, production):
    gateway = _gateway(fake_prisma, PROVIDER, ttl_s=0)
    with _resolving("93.184.216.34", "169.254.169.254"):
        gateway.token()
        gateway._cache_delete(gateway._token_key)
        with pytest.raises(GatewayError):
            gateway.token()
    assert len(fake_prisma.requests) == 1


def test_in_production_only_the_providers_hosts_unless_listed(fake_prisma, production):
    with _resolving("93.184.216.34"), pytest.raises(GatewayError) as exc:
        _gateway(fake_prisma, "https://metadata.google.internal").token()
    assert "ECR_PROVIDER_HOSTS" in exc.value.message
    assert fake_prisma.requests == []
    production.ECR_PROVIDER_HOSTS = ["prisma-proxy.example.com"]
    with _resolving("93.184.216.34"):
        _gateway(fake_prisma, "https://prisma-proxy.example.com").token()
    assert len(fake_prisma.requests) == 1


def test_loopback_in_tests_and_for_a_listed_host_only(fake_prisma, settings):
    settings.DEBUG = False
    settings.TESTING = True  # the test server's simulator on 127.0.0.1
    with _resolving("127.0.0.1"):
        _gateway(fake_prisma, "http://sim.localtest.me:8000").token()
    settings.TESTING = False
    settings.ECR_PROVIDER_HOSTS = ["sim.localtest.me"]  # the simulator as its own process
    with _resolving("127.0.0.1"):
        _gateway(fake_prisma, "http://sim.localtest.me:8000").token()
    with _resolving("10.0.0.5"), pytest.raises(GatewayError):  # never a private network
        _gateway(fake_prisma, "http://sim.localtest.me:8000").token()
    assert len(fake_prisma.requests) == 2


def test_a_name_that_does_not_resolve_is_a_connection_failure(fake_prisma, production):
    with (
        mock.patch("stores.address_policy.socket.getaddrinfo", side_effect=OSError("NXDOMAIN")),
        pytest.raises(GatewayError) as exc,
    ):
        _gateway(fake_prisma, PROVIDER).token()
    assert exc.value.retryable and "no se envió nada" in exc.value.message
    assert fake_prisma.requests == []


def test_every_gateway_without_a_test_transport_is_pinned(db):
    gateway = PrismaGateway(make_credential(base_url=PROVIDER))
    try:
        assert isinstance(gateway._client._transport, PinnedTransport)
    finally:
        gateway.close()
