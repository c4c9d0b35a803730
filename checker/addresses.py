"""Which IP addresses the checker may connect to.

Directory entries come from the public, so a URL may point (directly, through DNS or through a
redirect) at the checker's own network: loopback, private ranges, cloud metadata services. Only
globally routable unicast addresses are allowed. Addresses that embed an IPv4 address (IPv4-mapped,
6to4, Teredo, NAT64) are judged by the IPv4 address they lead to.
"""

from __future__ import annotations

import ipaddress
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

IPAddress = IPv4Address | IPv6Address

# Ordered: the first matching range names the refusal. Python's own flags (is_private, ...) are
# consulted after this table, so every special-purpose range is refused even if missing here.
_NAMED_RANGES: tuple[tuple[IPv4Network | IPv6Network, str], ...] = tuple(
    (ipaddress.ip_network(network), label)
    for network, label in (
        ("0.0.0.0/32", "unspecified"),
        ("0.0.0.0/8", "reserved"),                    # "this network"
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),             # includes 169.254.169.254, cloud metadata
        ("100.64.0.0/10", "carrier-grade NAT"),
        ("10.0.0.0/8", "private"),
        ("172.16.0.0/12", "private"),
        ("192.168.0.0/16", "private"),
        ("192.0.0.0/24", "reserved"),                 # IETF protocol assignments
        ("192.0.2.0/24", "documentation"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("198.18.0.0/15", "benchmarking"),
        ("192.88.99.0/24", "reserved"),               # deprecated 6to4 relay anycast
        ("224.0.0.0/4", "multicast"),
        ("255.255.255.255/32", "broadcast"),
        ("240.0.0.0/4", "reserved"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("fc00::/7", "private"),                      # unique local addresses
        ("ff00::/8", "multicast"),
        ("2001:db8::/32", "documentation"),
        ("3fff::/20", "documentation"),
        ("100::/64", "reserved"),                     # discard-only
        ("2001::/23", "reserved"),                    # IETF protocol assignments (Teredo handled first)
        ("64:ff9b:1::/48", "reserved"),               # local-use NAT64
        ("::/96", "reserved"),                        # deprecated IPv4-compatible
    )
)

_NAT64 = IPv6Network("64:ff9b::/96")


def parse_address(ip: str | IPAddress) -> IPAddress:
    """Parse an address as found in URLs and socket names ("[::1]", "fe80::1%eth0")."""
    if isinstance(ip, (IPv4Address, IPv6Address)):
        return ip
    text = ip.strip().removeprefix("[").removesuffix("]").split("%", 1)[0]
    return ipaddress.ip_address(text)


def _embedded_ipv4(address: IPv6Address) -> tuple[IPv4Address, str] | None:
    """The IPv4 address an IPv6 address leads to, with the mechanism's name."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped, "IPv4-mapped"
    if address.sixtofour is not None:
        return address.sixtofour, "6to4"
    if address.teredo is not None:
        return address.teredo[1], "Teredo"
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF), "NAT64"
    return None


def _own_reason(address: IPAddress) -> str | None:
    for network, label in _NAMED_RANGES:
        if address.version == network.version and address in network:
            return label
    if address.is_multicast:
        return "multicast"
    if address.is_private or address.is_reserved or not address.is_global:
        return "reserved"
    return None


def refusal_reason(ip: str | IPAddress) -> str | None:
    """Why the checker must not connect to `ip`, or None when it is a public address.

    The reason reads as a phrase, e.g. "loopback address 127.0.0.1" or
    "private address 10.0.0.1 (IPv4-mapped ::ffff:a00:1)". Unparseable input is refused too.
    """
    try:
        address = parse_address(ip)
    except ValueError:
        return f"invalid address {ip!r}"
    if isinstance(address, IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner, mechanism = embedded
            label = _own_reason(inner)
            return None if label is None else f"{label} address {inner} ({mechanism} {address})"
    label = _own_reason(address)
    return None if label is None else f"{label} address {address}"


def is_public_address(ip: str | IPAddress) -> bool:
    """True when `ip` is a globally routable unicast address the checker may connect to."""
    return refusal_reason(ip) is None
