"""IPv4 addresses hidden in IPv6 (and 192.0.0.0/24) are judged as what they reach (issue 11 #13).

Python 3.11 calls `::127.0.0.1`, `64:ff9b::7f00:1`, `2002:7f00:1::` and `192.0.0.192` global;
through a NAT64 gateway, a 6to4 relay or an old stack they reach this machine or a private
network. Credentials and webhooks share this policy, so both are covered.
"""

from unittest import mock

import pytest

from stores.address_policy import Reach, host_reach, resolve_allowed


@pytest.mark.parametrize(
    ("host", "reach"),
    [
        ("::127.0.0.1", Reach.LOOPBACK),  # IPv4-compatible
        ("::10.0.0.5", Reach.INTERNAL),
        ("::169.254.169.254", Reach.INTERNAL),
        ("64:ff9b::7f00:1", Reach.LOOPBACK),  # NAT64 well-known prefix
        ("64:ff9b::127.0.0.1", Reach.LOOPBACK),
        ("64:ff9b::a9fe:a9fe", Reach.INTERNAL),  # NAT64 of the metadata address
        ("64:ff9b:1::a00:5", Reach.INTERNAL),  # NAT64 local-use prefix
        ("2002:7f00:1::", Reach.LOOPBACK),  # 6to4 of 127.0.0.1
        ("2002:a00:5::1", Reach.INTERNAL),  # 6to4 of 10.0.0.5
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", Reach.LOOPBACK),  # Teredo client 127.0.0.1
        ("::ffff:127.0.0.1", Reach.LOOPBACK),  # IPv4-mapped
        ("::ffff:192.168.0.1", Reach.INTERNAL),
        ("192.0.0.192", Reach.INTERNAL),  # IETF protocol assignments
        ("192.0.0.9", Reach.INTERNAL),
        # What embeds a public address stays public; plain IPv6 is untouched.
        ("64:ff9b::808:808", Reach.PUBLIC),
        ("2002:808:808::1", Reach.PUBLIC),
        ("::ffff:93.184.216.34", Reach.PUBLIC),
        ("2606:2800:220:1:248:1893:25c8:1946", Reach.PUBLIC),
        ("::1", Reach.LOOPBACK),
        ("::", Reach.INTERNAL),
    ],
)
def test_an_ipv4_address_embedded_in_ipv6_is_judged_as_the_ipv4_address(host, reach):
    assert host_reach(host) is reach


@pytest.mark.parametrize(
    "address", ["::127.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::", "::ffff:10.0.0.5", "192.0.0.192"]
)
def test_a_name_resolving_to_a_hidden_internal_address_is_refused(address):
    family = 10 if ":" in address else 2
    infos = [(family, 1, 6, "", (address, 0))]
    with mock.patch("stores.address_policy.socket.getaddrinfo", return_value=infos):
        error, chosen = resolve_allowed("pos.example.com", allow_loopback=False)
    assert error and chosen == ""


@pytest.mark.parametrize(
    "url",
    ["https://[::127.0.0.1]/x", "https://[64:ff9b::7f00:1]/x", "https://[2002:7f00:1::]/x"],
)
def test_webhook_and_credential_urls_with_hidden_loopback_are_refused(settings, url):
    from stores.validators import provider_url_problem
    from transactions.webhooks.services import WebhookUrlInvalid, webhook_url_check

    settings.DEBUG = False
    settings.TESTING = False
    assert provider_url_problem(url) != ""
    with pytest.raises(WebhookUrlInvalid):
        webhook_url_check(url)
