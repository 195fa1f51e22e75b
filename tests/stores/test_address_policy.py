"""The one private-address policy: literals, names, and what a host name resolves to."""

import ipaddress
import socket

import pytest

from stores.address_policy import Reach, address_reach, host_reach, parse_address, resolve_allowed


@pytest.mark.parametrize(
    ("host", "reach"),
    [
        ("93.184.216.34", Reach.PUBLIC),
        ("2606:2800:220:1:248:1893:25c8:1946", Reach.PUBLIC),
        ("pos.example.com", Reach.NAME),
        ("localhost", Reach.LOOPBACK),
        ("LOCALHOST.", Reach.LOOPBACK),
        ("caja.localhost", Reach.LOOPBACK),
        ("127.0.0.1", Reach.LOOPBACK),
        ("127.8.9.10", Reach.LOOPBACK),
        ("::1", Reach.LOOPBACK),
        ("10.0.0.5", Reach.INTERNAL),
        ("172.16.3.4", Reach.INTERNAL),
        ("192.168.1.10", Reach.INTERNAL),
        ("100.64.0.1", Reach.INTERNAL),  # carrier-grade NAT
        ("0.0.0.0", Reach.INTERNAL),
        ("169.254.169.254", Reach.INTERNAL),  # cloud metadata
        ("169.254.10.20", Reach.INTERNAL),  # link-local
        ("fe80::1", Reach.INTERNAL),  # IPv6 link-local
        ("fe80::1%eth0", Reach.INTERNAL),  # with a zone id
        ("fe80::1%25eth0", Reach.INTERNAL),  # the zone id as a URL spells it
        ("fd00::1", Reach.INTERNAL),  # IPv6 unique local
        ("::", Reach.INTERNAL),
        ("::ffff:10.0.0.5", Reach.INTERNAL),  # IPv4-mapped private
        ("::ffff:169.254.169.254", Reach.INTERNAL),  # IPv4-mapped metadata
        ("::ffff:127.0.0.1", Reach.LOOPBACK),  # IPv4-mapped loopback
        ("::ffff:93.184.216.34", Reach.PUBLIC),  # IPv4-mapped public
    ],
)
def test_host_reach(host, reach):
    assert host_reach(host) is reach


def test_a_mapped_address_is_judged_as_the_ipv4_it_reaches():
    assert parse_address("::ffff:10.0.0.5") == ipaddress.IPv4Address("10.0.0.5")
    assert address_reach(ipaddress.IPv6Address("::ffff:127.0.0.1")) is Reach.LOOPBACK
    assert parse_address("pos.example.com") is None


def _resolving_to(monkeypatch, *addresses):
    def fake_getaddrinfo(host, *args, **kwargs):
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, 0))
            for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)


def test_a_name_resolving_to_public_addresses_is_allowed_and_pinned_to_the_first(monkeypatch):
    _resolving_to(monkeypatch, "93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946")
    assert resolve_allowed("hooks.example.com", allow_loopback=False) == ("", "93.184.216.34")


@pytest.mark.parametrize(
    "private",
    ["10.0.0.5", "192.168.0.1", "169.254.169.254", "fe80::1%eth0", "fd00::2", "::ffff:10.1.1.1"],
)
def test_a_name_with_any_private_address_is_refused(monkeypatch, private):
    _resolving_to(monkeypatch, "93.184.216.34", private)
    error, address = resolve_allowed("hooks.example.com", allow_loopback=True)
    assert error == f"destino no permitido ({private.split('%')[0]})" and address == ""


def test_loopback_names_only_where_the_caller_allows_them(monkeypatch):
    _resolving_to(monkeypatch, "127.0.0.1", "::1")
    assert resolve_allowed("localhost", allow_loopback=True) == ("", "127.0.0.1")
    assert (
        resolve_allowed("localhost", allow_loopback=False)[0] == "destino no permitido (127.0.0.1)"
    )


def test_a_name_that_does_not_resolve_is_an_error(monkeypatch):
    def failing(host, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", failing)
    error, address = resolve_allowed("nowhere.invalid", allow_loopback=True)
    assert error == "no se pudo resolver nowhere.invalid: Name or service not known"
    assert address == ""
