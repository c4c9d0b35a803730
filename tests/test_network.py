"""Resolvers, the address guard and the guarded httpx client.

Tests of refused addresses (10.0.0.1, 169.254.169.254...) never connect: the loop's
create_connection is replaced by one that fails the test if it is ever called.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator

import httpcore
import httpx
import pytest

from checker.config import CheckerConfig
from checker.network import (
    TEST_RESOLVE_ENV,
    AddressRefused,
    CertificateError,
    GuardedBackend,
    GuardedTransport,
    NameResolutionError,
    StaticResolver,
    SystemResolver,
    default_resolver,
    make_client,
    translate_httpcore_errors,
)
from tests.simweb import Connection, Request, SimWeb

LOCAL = CheckerConfig(allow_private_addresses=True, min_interval_s=0.0)


@pytest.fixture
def no_connections(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Any attempt to open a TCP connection fails the test (and sends nothing)."""

    async def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"tried to connect: {args[1:3]}")

    monkeypatch.setattr(asyncio.BaseEventLoop, "create_connection", forbidden)
    yield


# --------------------------------------------------------------------------- resolvers


@pytest.mark.asyncio
async def test_static_resolver_prefers_host_port_entries() -> None:
    resolver = StaticResolver({
        "www.a.test": "127.0.0.1:8080",
        "www.a.test:443": "127.0.0.1:8443",
        "plain.test": "127.0.0.2",
        "tuple.test": ("127.0.0.3", 9000),
        "v6.test": "[::1]:8080",
    })
    assert await resolver.resolve("www.a.test", 80) == [("127.0.0.1", 8080)]
    assert await resolver.resolve("www.a.test", 443) == [("127.0.0.1", 8443)]
    assert await resolver.resolve("WWW.A.TEST.", 443) == [("127.0.0.1", 8443)]
    assert await resolver.resolve("plain.test", 81) == [("127.0.0.2", 81)]
    assert await resolver.resolve("tuple.test", 80) == [("127.0.0.3", 9000)]
    assert await resolver.resolve("v6.test", 80) == [("::1", 8080)]
    assert await resolver.resolve("10.1.2.3", 80) == [("10.1.2.3", 80)]
    assert await resolver.resolve("[::1]", 80) == [("::1", 80)]
    with pytest.raises(NameResolutionError, match="nowhere.test does not resolve"):
        await resolver.resolve("nowhere.test", 80)


@pytest.mark.asyncio
async def test_static_resolver_fallback_and_json() -> None:
    fallback = StaticResolver({"other.test": "127.0.0.9"})
    resolver = StaticResolver.from_json(json.dumps({"a.test": "127.0.0.1:1"}))
    assert await resolver.resolve("a.test", 80) == [("127.0.0.1", 1)]
    chained = StaticResolver({"a.test": "127.0.0.1"}, fallback=fallback)
    assert await chained.resolve("other.test", 80) == [("127.0.0.9", 80)]
    with pytest.raises(ValueError):
        StaticResolver.from_json("[1, 2]")


@pytest.mark.asyncio
async def test_system_resolver_caches_and_shares_lookups(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    async def fake_getaddrinfo(host: str, port: int, **kwargs: object) -> list[tuple[object, ...]]:
        calls.append(host)
        await asyncio.sleep(0.01)
        if host == "missing.test":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2606:2800::1", port, 0, 0)),
        ]

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", fake_getaddrinfo)
    resolver = SystemResolver(max_entries=2)
    answers = await asyncio.gather(*(resolver.resolve("www.example.org", 443) for _ in range(5)))
    assert answers[0] == [("93.184.216.34", 443), ("2606:2800::1", 443)]
    assert all(answer == answers[0] for answer in answers)
    assert calls == ["www.example.org"]
    for _ in range(2):
        with pytest.raises(NameResolutionError, match="missing.test does not resolve"):
            await resolver.resolve("missing.test", 80)
    assert calls == ["www.example.org", "missing.test"]   # failures are cached too
    assert await resolver.resolve("127.0.0.1", 80) == [("127.0.0.1", 80)]   # literals: no lookup
    await resolver.resolve("third.test", 80)
    await resolver.resolve("www.example.org", 443)   # evicted by the bound: asked again
    assert calls.count("www.example.org") == 2


def test_default_resolver_reads_the_test_hook_only_when_private_addresses_are_allowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(TEST_RESOLVE_ENV, json.dumps({"www.ok.test": "127.0.0.1:9"}))
    assert isinstance(default_resolver(CheckerConfig()), SystemResolver)
    assert isinstance(default_resolver(CheckerConfig(allow_private_addresses=True)), StaticResolver)
    monkeypatch.delenv(TEST_RESOLVE_ENV)
    assert isinstance(default_resolver(CheckerConfig(allow_private_addresses=True)), SystemResolver)


# --------------------------------------------------------------------------- the address guard


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("10.0.0.1", "refused: www.x.test resolves to private address 10.0.0.1"),
        ("169.254.169.254", "refused: www.x.test resolves to link-local address 169.254.169.254"),
        ("127.0.0.1", "refused: www.x.test resolves to loopback address 127.0.0.1"),
        ("100.64.1.1", "refused: www.x.test resolves to carrier-grade NAT address 100.64.1.1"),
        ("::ffff:10.0.0.1", "refused: www.x.test resolves to private address 10.0.0.1 (IPv4-mapped ::ffff:a00:1)"),
    ],
)
async def test_backend_refuses_names_resolving_to_non_public_addresses(
    no_connections: None, target: str, reason: str
) -> None:
    backend = GuardedBackend(StaticResolver({"www.x.test": target}))
    with pytest.raises(AddressRefused) as refused:
        await backend.connect_tcp("www.x.test", 80, timeout=1)
    assert refused.value.reason == reason
    assert refused.value.detail == reason.removeprefix("refused: ")


@pytest.mark.asyncio
async def test_backend_refuses_literal_addresses(no_connections: None) -> None:
    backend = GuardedBackend(StaticResolver({}))
    with pytest.raises(AddressRefused, match=r"^refused: link-local address 169\.254\.169\.254$"):
        await backend.connect_tcp("169.254.169.254", 80, timeout=1)


def test_backend_keeps_only_allowed_addresses_in_order() -> None:
    backend = GuardedBackend(StaticResolver({}))
    addresses = [("10.0.0.1", 80), ("93.184.216.34", 80), ("127.0.0.1", 80), ("2606:2800::1", 80)]
    assert backend._allowed("x.test", 80, addresses) == [("93.184.216.34", 80), ("2606:2800::1", 80)]


@pytest.mark.asyncio
async def test_pretend_public_applies_only_to_the_named_entry(simweb: SimWeb) -> None:
    simweb.page("trusted.test", "/")
    simweb.page("evil.test", "/")
    resolver = simweb.resolver(pretend_public=["trusted.test"])
    backend = GuardedBackend(resolver)
    stream = await backend.connect_tcp("trusted.test", 80, timeout=1)
    await stream.aclose()
    with pytest.raises(AddressRefused, match="evil.test resolves to loopback"):
        await backend.connect_tcp("evil.test", 80, timeout=1)
    with pytest.raises(AddressRefused, match="loopback address 127.0.0.1"):
        await backend.connect_tcp("127.0.0.1", simweb.http_port or 0, timeout=1)


class RebindingResolver(StaticResolver):
    """Looks public when resolved, private once connected: what DNS rebinding achieves."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.checks = 0

    def pretends_public(self, host: str, port: int) -> bool:
        self.checks += 1
        return self.checks == 1


@pytest.mark.asyncio
async def test_connected_peer_is_checked_again(simweb: SimWeb) -> None:
    simweb.page("rebind.test", "/")
    config = CheckerConfig(min_interval_s=0.0)
    resolver = RebindingResolver(simweb.resolve_map())
    async with make_client(config, resolver) as client:
        with pytest.raises(AddressRefused, match="rebind.test resolves to loopback address 127.0.0.1"):
            await client.get("http://rebind.test/")
    assert resolver.checks == 2
    assert simweb.hits("rebind.test", "/") == 0


@pytest.mark.asyncio
async def test_closed_port_is_a_connect_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]   # bound, never listening: refused
        backend = GuardedBackend(StaticResolver({"closed.test": f"127.0.0.1:{port}"}), allow_private_addresses=True)
        with pytest.raises(httpcore.ConnectError, match=r"connection refused \(closed.test:80\)"):
            await backend.connect_tcp("closed.test", 80, timeout=1)


# --------------------------------------------------------------------------- the client


async def echo_headers(request: Request, conn: Connection) -> None:
    await conn.send(200, json.dumps(request.headers), content_type="application/json",
                    headers={"Set-Cookie": "session=abc; Path=/"})


@pytest.mark.asyncio
async def test_client_sends_honest_headers_and_keeps_no_cookies(simweb: SimWeb) -> None:
    simweb.custom("www.echo.test", "/", echo_headers)
    simweb.redirect("www.echo.test", "/moved", "/")
    async with make_client(LOCAL, simweb.resolver()) as client:
        moved = await client.get("http://www.echo.test/moved")
        assert moved.status_code == 301   # redirects are fetch()'s business
        first = (await client.get("http://www.echo.test/")).json()
        second = (await client.get("http://www.echo.test/")).json()
    assert first["user-agent"] == LOCAL.user_agent
    assert first["accept-encoding"] == "gzip, deflate"
    assert "cookie" not in second
    assert simweb.stats("www.echo.test").opened == 1   # one kept-alive connection


@pytest.mark.asyncio
async def test_client_ignores_proxy_environment(simweb: SimWeb, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    simweb.page("www.ok.test", "/")
    async with make_client(LOCAL, simweb.resolver()) as client:
        assert (await client.get("http://www.ok.test/")).status_code == 200


@pytest.mark.asyncio
async def test_https_uses_sni_and_verifies_with_ssl_cert_file(simweb: SimWeb, monkeypatch: pytest.MonkeyPatch) -> None:
    simweb.page("www.secure.test", "/", "<title>secure</title>")
    monkeypatch.setenv("SSL_CERT_FILE", simweb.ca_file)
    async with make_client(LOCAL, simweb.resolver()) as client:
        response = await client.get("https://www.secure.test/")
    assert response.text == "<title>secure</title>"
    monkeypatch.delenv("SSL_CERT_FILE")
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    async with make_client(LOCAL, simweb.resolver()) as client:   # certifi does not know our CA
        with pytest.raises(CertificateError, match="unable to get local issuer certificate"):
            await client.get("https://www.secure.test/")


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("scenario", "reason"),
    [
        ("expired", "certificate has expired"),
        ("wrong_host", "certificate is not valid for bad.test"),
        ("self_signed", "self-signed certificate"),
    ],
)
async def test_certificate_errors_carry_the_reason(simweb: SimWeb, scenario: str, reason: str) -> None:
    simweb.tls("bad.test", scenario)
    simweb.page("bad.test", "/")
    async with make_client(LOCAL, simweb.resolver(), ssl_context=simweb.client_ssl_context()) as client:
        with pytest.raises(CertificateError) as error:
            await client.get("https://bad.test/")
    assert error.value.reason == reason
    assert simweb.hits("bad.test", "/") == 0


@pytest.mark.asyncio
async def test_response_heads_are_bounded(simweb: SimWeb) -> None:
    async def big_head(request: Request, conn: Connection) -> None:
        size = int(request.query)
        await conn.send(200, "ok", headers={"X-Big": "a" * size})

    simweb.custom("www.heads.test", "/", big_head)
    simweb.endless_headers("www.heads.test", "/endless")
    config = CheckerConfig(allow_private_addresses=True, max_header_bytes=16 * 1024)
    async with make_client(config, simweb.resolver()) as client:
        assert (await client.get("http://www.heads.test/?10000")).status_code == 200
        with pytest.raises(httpx.RemoteProtocolError, match="response headers exceed 16384 bytes"):
            await client.get("http://www.heads.test/?20000")
        with pytest.raises(httpx.RemoteProtocolError, match="response headers exceed 16384 bytes"):
            await client.get("http://www.heads.test/endless")


@pytest.mark.asyncio
async def test_one_small_pool_per_origin_and_idle_pools_are_closed(simweb: SimWeb) -> None:
    for i in range(3):
        simweb.page(f"h{i}.test", "/")
    async with make_client(LOCAL, simweb.resolver()) as client:
        transport = client._transport
        assert isinstance(transport, GuardedTransport)
        for i in range(3):
            assert (await client.get(f"http://h{i}.test/")).status_code == 200
        assert transport.pool_count == 3
        transport._keepalive_expiry = 0.0
        transport.SWEEP_EVERY_S = 0.0
        await asyncio.sleep(0.01)
        await client.get("http://h0.test/")
        assert transport.pool_count == 1   # only the pool in use remains
    await asyncio.sleep(0.05)
    assert simweb.stats("h1.test").connections == simweb.stats("h2.test").connections == 0


@pytest.mark.asyncio
async def test_pool_limits_connections_per_origin(simweb: SimWeb) -> None:
    simweb.slow("www.slow.test", "/", delay=0.05)
    config = CheckerConfig(allow_private_addresses=True, per_host_limit=2)
    async with make_client(config, simweb.resolver()) as client:
        responses = await asyncio.gather(*(client.get("http://www.slow.test/") for _ in range(6)))
    assert all(r.status_code == 200 for r in responses)
    assert simweb.stats("www.slow.test").max_connections == 2


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (httpcore.ConnectTimeout("x"), httpx.ConnectTimeout),
        (httpcore.ReadTimeout("x"), httpx.ReadTimeout),
        (httpcore.PoolTimeout("x"), httpx.PoolTimeout),
        (httpcore.ConnectError("x"), httpx.ConnectError),
        (httpcore.ReadError("x"), httpx.ReadError),
        (httpcore.RemoteProtocolError("x"), httpx.RemoteProtocolError),
        (httpcore.UnsupportedProtocol("x"), httpx.UnsupportedProtocol),
    ],
)
def test_httpcore_errors_become_the_most_specific_httpx_error(raised: Exception, expected: type) -> None:
    with pytest.raises(expected) as caught, translate_httpcore_errors():
        raise raised
    assert type(caught.value) is expected
    assert caught.value.__cause__ is raised


def test_other_errors_pass_through_translation() -> None:
    with pytest.raises(KeyError), translate_httpcore_errors():
        raise KeyError("x")
