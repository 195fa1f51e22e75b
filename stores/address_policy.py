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


def address_reach(address: IPAddress) -> Reach:
    """PUBLIC, LOOPBACK or INTERNAL for one IP address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return Reach.LOOPBACK
    return Reach.PUBLIC if address.is_global else Reach.INTERNAL


def host_reach(host: str) -> Reach:
    """What a URL's host is, without asking DNS (validation must not depend on it)."""
    if is_local_name(host):
        return Reach.LOOPBACK
    address = parse_address(host)
    return Reach.NAME if address is None else address_reach(address)


def resolve_allowed(host: str, *, allow_loopback: bool) -> tuple[str, str]:
    """(error, address): resolves `host` and checks every address it has.

    The error (Spanish, for logs and the delivery's record) is "" when every address is public,
    or loopback with `allow_loopback`; then `address` is the first one, and the caller must
    connect to that very address (a second lookup could swap in a private one: DNS rebinding).
    """
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        return f"no se pudo resolver {host}: {exc.strerror or exc}", ""
    addresses = [str(info[4][0]).split("%", 1)[0] for info in infos]
    if not addresses:
        return f"no se pudo resolver {host}", ""
    for text in addresses:
        reach = address_reach(ipaddress.ip_address(text))
        if reach is Reach.PUBLIC or (reach is Reach.LOOPBACK and allow_loopback):
            continue
        return f"destino no permitido ({text})", ""
    return "", addresses[0]
