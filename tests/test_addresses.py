"""The address rules: which IPs the checker may connect to (pure functions, no sockets)."""

from __future__ import annotations

import ipaddress

import pytest

from checker.addresses import is_public_address, parse_address, refusal_reason


@pytest.mark.parametrize(
    ("ip", "reason"),
    [
        ("127.0.0.1", "loopback address 127.0.0.1"),
        ("127.8.9.10", "loopback address 127.8.9.10"),
        ("::1", "loopback address ::1"),
        ("10.0.0.1", "private address 10.0.0.1"),
        ("172.16.5.4", "private address 172.16.5.4"),
        ("172.31.255.255", "private address 172.31.255.255"),
        ("192.168.1.1", "private address 192.168.1.1"),
        ("fd12:3456::1", "private address fd12:3456::1"),
        ("169.254.169.254", "link-local address 169.254.169.254"),
        ("fe80::1", "link-local address fe80::1"),
        ("fe80::1%eth0", "link-local address fe80::1"),
        ("100.64.0.1", "carrier-grade NAT address 100.64.0.1"),
        ("100.127.255.254", "carrier-grade NAT address 100.127.255.254"),
        ("224.0.0.251", "multicast address 224.0.0.251"),
        ("ff02::1", "multicast address ff02::1"),
        ("0.0.0.0", "unspecified address 0.0.0.0"),
        ("::", "unspecified address ::"),
        ("0.1.2.3", "reserved address 0.1.2.3"),
        ("240.0.0.1", "reserved address 240.0.0.1"),
        ("255.255.255.255", "broadcast address 255.255.255.255"),
        ("192.0.2.10", "documentation address 192.0.2.10"),
        ("198.51.100.7", "documentation address 198.51.100.7"),
        ("203.0.113.99", "documentation address 203.0.113.99"),
        ("2001:db8::1", "documentation address 2001:db8::1"),
        ("198.18.0.1", "benchmarking address 198.18.0.1"),
        ("192.0.0.8", "reserved address 192.0.0.8"),
        ("fec0::1", "site-local address fec0::1"),
        ("100::1", "reserved address 100::1"),
        # IPv6 forms that lead to an IPv4 address are judged by that address
        ("::ffff:127.0.0.1", "loopback address 127.0.0.1 (IPv4-mapped ::ffff:7f00:1)"),
        ("::ffff:10.0.0.1", "private address 10.0.0.1 (IPv4-mapped ::ffff:a00:1)"),
        ("::ffff:169.254.169.254", "link-local address 169.254.169.254 (IPv4-mapped ::ffff:a9fe:a9fe)"),
        ("2002:7f00:1::", "loopback address 127.0.0.1 (6to4 2002:7f00:1::)"),
        ("2002:a00:1::1", "private address 10.0.0.1 (6to4 2002:a00:1::1)"),
        ("64:ff9b::a9fe:a9fe", "link-local address 169.254.169.254 (NAT64 64:ff9b::a9fe:a9fe)"),
        ("64:ff9b::7f00:1", "loopback address 127.0.0.1 (NAT64 64:ff9b::7f00:1)"),
        ("[::1]", "loopback address ::1"),
    ],
)
def test_non_public_addresses_are_refused_with_a_reason(ip: str, reason: str) -> None:
    assert refusal_reason(ip) == reason
    assert not is_public_address(ip)


@pytest.mark.parametrize(
    "ip",
    [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.216.34",
        "172.32.0.1",            # just outside 172.16.0.0/12
        "100.128.0.1",           # just outside CGNAT
        "169.255.0.1",           # just outside link-local
        "2606:4700:4700::1111",
        "2a00:1450:4001:81d::200e",
        "::ffff:8.8.8.8",        # IPv4-mapped public
        "2002:808:808::1",       # 6to4 of 8.8.8.8
        "64:ff9b::808:808",      # NAT64 of 8.8.8.8
    ],
)
def test_public_addresses_are_allowed(ip: str) -> None:
    assert refusal_reason(ip) is None
    assert is_public_address(ip)


def test_accepts_ipaddress_objects() -> None:
    assert not is_public_address(ipaddress.ip_address("10.1.2.3"))
    assert is_public_address(ipaddress.IPv6Address("2606:4700:4700::1111"))


@pytest.mark.parametrize("garbage", ["", "localhost", "999.1.1.1", "example.org", "1.2.3"])
def test_unparseable_input_is_refused(garbage: str) -> None:
    assert not is_public_address(garbage)
    assert refusal_reason(garbage) == f"invalid address {garbage!r}"


def test_parse_address_strips_brackets_and_zone() -> None:
    assert parse_address("[fe80::1%eth0]") == ipaddress.IPv6Address("fe80::1")
