"""Which hosts the portal may send requests to: the one private-address (SSRF) policy.

Three places ask: a credential's base URL (the portal sends the credential's keys there), a
webhook URL registered by a POS key (a key must not make the portal call its own network) and
every webhook delivery (the host's DNS answers, checked again at each attempt because DNS
changes). Only globally routable addresses may be called; loopback only where the caller allows
it (development and tests).

It lives in `stores` because `stores` never imports `transactions` and both use it; it imports
nothing of the project and never reads settings (callers decide whether loopback is allowed).
"""

import enum
import ipaddress
import socket

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Reach(enum.Enum):
    """What a host is, as far as the policy can tell."""

    PUBLIC = "public"  # a globally routable address
    NAME = "name"  # a DNS name: only its resolved addresses can be judged
    LOOPBACK = "loopback"  # this machine: `localhost` names and 127.0.0.0/8, ::1
    INTERNAL = "internal"  # private, link-local (cloud metadata 169.254.169.254), reserved...


def is_local_name(host: str) -> bool:
    """`localhost` and every `*.localhost` name (RFC 6761: they always mean this machine)."""
    host = host.lower().rstrip(".")
    return host == "localhost" or host.endswith(".localhost")


def parse_address(host: str) -> IPAddress | None:
    """The address a URL's host names literally, or None for a name.

    A zone id (`fe80::1%eth0`, `%25eth0` in URLs) is dropped: it does not change where the
    address is. An IPv4-mapped IPv6 address (`::ffff:10.0.0.5`) is judged as the IPv4 address
    it reaches.
    """
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


# IPv6 prefixes that carry an IPv4 address in their low 32 bits (NAT64 well-known and
# local-use prefixes, RFC 6052 / 8215) or, for IPv4-compatible addresses, after 96 zero bits. A
# gateway or relay on the way turns them into that IPv4 address, so they are judged as it.
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
# IETF protocol assignments (RFC 6890): Python 3.11 calls most of it global; nothing there is a
# provider or a webhook receiver.
_IETF_PROTOCOL = ipaddress.ip_network("192.0.0.0/24")


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address reaches through its embedding, or None.

    IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`, deprecated but still routed
    by some stacks), NAT64 (`64:ff9b::a.b.c.d`), 6to4 (`2002:AABB:CCDD::`) and Teredo (the
    client address).
    """
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if any(address in network for network in _NAT64):
        return low32
    if address in _IPV4_COMPATIBLE and int(address) > 1:  # :: and ::1 are themselves
        return low32
    return None


def address_reach(address: IPAddress) -> Reach:
    """PUBLIC, LOOPBACK or INTERNAL for one IP address (an IPv6 address that embeds an IPv4
    one is judged as that IPv4 address, and is never more public than it)."""
    inner = embedded_ipv4(address)
    if inner is not None:
        address = inner
    if address.is_loopback:
        return Reach.LOOPBACK
    if isinstance(address, ipaddress.IPv4Address) and address in _IETF_PROTOCOL:
        return Reach.INTERNAL
    return Reach.PUBLIC if address.is_global else Reach.INTERNAL


def host_reach(host: str) -> Reach:
    """What a URL's host is, without asking DNS (validation must not depend on it)."""
    if is_local_name(host):
        return Reach.LOOPBACK
    address = parse_address(host)
    return Reach.NAME if address is None else address_reach(address)


def resolve_addresses(host: str) -> list[str]:
    """Every address `host` resolves to (an IP literal resolves to itself), zone ids dropped.

    Raises OSError when the name does not resolve (or resolves to nothing).
    """
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    addresses = [str(info[4][0]).split("%", 1)[0] for info in infos]
    if not addresses:
        raise OSError(f"{host} no tiene direcciones")
    return addresses


def refused_address(addresses: list[str], *, allow_loopback: bool) -> str:
    """The first of `addresses` the policy refuses ("" when every one is public, or loopback
    with `allow_loopback`). A name is judged by all its addresses: one private answer among
    public ones is enough to refuse it (the client could pick that one)."""
    for text in addresses:
        reach = address_reach(ipaddress.ip_address(text))
        if reach is Reach.PUBLIC or (reach is Reach.LOOPBACK and allow_loopback):
            continue
        return text
    return ""


def resolve_allowed(host: str, *, allow_loopback: bool) -> tuple[str, str]:
    """(error, address): resolves `host` and checks every address it has.

    The error (Spanish, for logs and the delivery's record) is "" when every address is public,
    or loopback with `allow_loopback`; then `address` is the first one, and the caller must
    connect to that very address (a second lookup could swap in a private one: DNS rebinding).
    """
    try:
        addresses = resolve_addresses(host)
    except OSError as exc:
        return f"no se pudo resolver {host}: {exc.strerror or exc}", ""
    refused = refused_address(addresses, allow_loopback=allow_loopback)
    if refused:
        return f"destino no permitido ({refused})", ""
    return "", addresses[0]
