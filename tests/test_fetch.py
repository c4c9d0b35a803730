"""fetch() against the simulated web on real sockets (MockTransport only for pure exception logic).

Every connection these tests make is checked to stay inside 127.0.0.0/8 (see `loopback_only`).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import time
import zlib
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest

from checker.config import CheckerConfig
from checker.fetch import decode_text, fetch
from checker.network import TEST_RESOLVE_ENV, AddressRefused, NameResolutionError, StaticResolver, make_client
from checker.outcome import Cause, FetchTrace
from checker.politeness import HostPool
from tests.simweb import Connection, Request, SimWeb
from tests.simweb.process import simweb_process

FAST: dict[str, Any] = {
    "allow_private_addresses": True,
    "min_interval_s": 0.0,
    "retries": 0,
    "backoff_base_s": 0.01,
    "backoff_max_s": 0.05,
    "connect_timeout_s": 2.0,
    "read_timeout_s": 2.0,
    "total_timeout_s": 5.0,
    "max_body_bytes": 64 * 1024,
    "max_decoded_bytes": 256 * 1024,
}


def make_config(**overrides: Any) -> CheckerConfig:
    return CheckerConfig(**(FAST | overrides))


async def run(
    web: SimWeb,
    url: str,
    *,
    resolver: StaticResolver | None = None,
    hosts: HostPool | None = None,
    **overrides: Any,
) -> FetchTrace:
    config = make_config(**overrides)
    async with make_client(config, resolver or web.resolver(), ssl_context=web.client_ssl_context()) as client:
        return await fetch(url, client=client, hosts=hosts or HostPool(config), config=config)


# --------------------------------------------------------------------------- plain success


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.asyncio
async def test_ok_page(simweb: SimWeb, scheme: str) -> None:
    html = "<!doctype html><title>Example Charity</title><p>Hello"
    simweb.page("www.example-charity.test", "/", html)
    trace = await run(simweb, f"{scheme}://www.example-charity.test/")
    assert trace.cause is None and trace.error is None
    assert trace.status_code == 200
    assert trace.final_url == f"{scheme}://www.example-charity.test/"
    assert [(h.url, h.status_code, h.location) for h in trace.hops] == [(trace.final_url, 200, None)]
    assert trace.text == html and trace.body == html.encode()
    assert trace.content_type == "text/html"
    assert trace.headers["content-length"] == str(len(html))
    assert trace.attempts == 1 and trace.bytes_read == len(html) and not trace.truncated
    assert trace.elapsed_ms >= trace.hops[0].elapsed_ms >= 0


@pytest.mark.parametrize("head_status", [405, 404])
@pytest.mark.asyncio
async def test_only_get_is_sent_so_head_hostile_servers_pass(simweb: SimWeb, head_status: int) -> None:
    simweb.head_status("www.nohead.test", "/", head_status=head_status)
    trace = await run(simweb, "http://www.nohead.test/")
    assert trace.status_code == 200
    assert simweb.route("www.nohead.test", "/").methods == ["GET"]


@pytest.mark.parametrize(
    "url",
    ["ftp://files.test/x", "mailto:info@example.test", "javascript:alert(1)", "http://", "www.no-scheme.test", "", "http://[::1"],
)
@pytest.mark.asyncio
async def test_unsupported_or_malformed_urls(simweb: SimWeb, url: str) -> None:
    trace = await run(simweb, url)
    assert trace.cause is Cause.BAD_URL, trace.error
    assert trace.error
    assert trace.attempts == 0 and trace.hops == []


# --------------------------------------------------------------------------- statuses and retries


@pytest.mark.parametrize("status", [401, 403, 404, 410, 999])
@pytest.mark.asyncio
async def test_final_client_errors_are_not_retried(simweb: SimWeb, status: int) -> None:
    simweb.status("www.status.test", "/", status)
    trace = await run(simweb, "http://www.status.test/", retries=2)
    assert trace.status_code == status and trace.cause is None
    assert trace.attempts == 1
    assert simweb.hits("www.status.test", "/") == 1


@pytest.mark.asyncio
async def test_challenge_headers_and_body_are_kept(simweb: SimWeb) -> None:
    simweb.challenge_403("www.waf.test")
    simweb.linkedin_999("www.linkedin.test")
    trace = await run(simweb, "https://www.waf.test/")
    assert trace.status_code == 403 and trace.headers["cf-mitigated"] == "challenge"
    assert trace.text is not None and "Just a moment" in trace.text
    assert (await run(simweb, "https://www.linkedin.test/")).status_code == 999


@pytest.mark.asyncio
async def test_503_then_success_is_retried(simweb: SimWeb) -> None:
    simweb.flaky("www.flaky.test", "/", failures=1, status=503)
    trace = await run(simweb, "http://www.flaky.test/", retries=2)
    assert trace.status_code == 200 and trace.cause is None
    assert trace.attempts == 2
    assert len(trace.hops) == 1   # one hop per URL in the chain, whatever the retries
    assert simweb.hits("www.flaky.test", "/") == 2


@pytest.mark.asyncio
async def test_persistent_5xx_gives_up_after_the_retries(simweb: SimWeb) -> None:
    simweb.status("www.down.test", "/", 502)
    trace = await run(simweb, "http://www.down.test/", retries=2)
    assert trace.status_code == 502 and trace.attempts == 3
    assert simweb.hits("www.down.test", "/") == 3


@pytest.mark.asyncio
async def test_retry_after_seconds_is_honoured_for_the_whole_host(simweb: SimWeb) -> None:
    simweb.rate_limited("www.busy.test", "/a", retry_after=1)
    simweb.page("www.busy.test", "/b")
    config = make_config(retries=1)
    hosts = HostPool(config)
    async with make_client(config, simweb.resolver()) as client:
        first = asyncio.create_task(fetch("http://www.busy.test/a", client=client, hosts=hosts, config=config))
        while simweb.hits("www.busy.test", "/a") == 0:
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.05)   # the 429 has been read and the host deferred
        other = await fetch("http://www.busy.test/b", client=client, hosts=hosts, config=config)
        trace = await first
    assert trace.status_code == 200 and trace.attempts == 2 and trace.retry_after_s == 1.0
    arrivals = simweb.route("www.busy.test", "/a").arrivals
    assert arrivals[1] - arrivals[0] >= 1.0
    assert other.status_code == 200
    assert simweb.route("www.busy.test", "/b").arrivals[0] - arrivals[0] >= 1.0


@pytest.mark.asyncio
async def test_retry_after_http_date_is_honoured(simweb: SimWeb) -> None:
    simweb.rate_limited("www.dated.test", "/", retry_after=2, as_date=True, status=503)
    trace = await run(simweb, "http://www.dated.test/", retries=1)
    assert trace.status_code == 200 and trace.attempts == 2
    gap = simweb.route("www.dated.test", "/").gaps()[0]
    assert 1.0 <= gap <= 2.5   # HTTP-dates have one-second resolution
    assert trace.retry_after_s is not None and 1.0 <= trace.retry_after_s <= 2.0


@pytest.mark.asyncio
async def test_retry_after_beyond_the_cap_is_reported_not_awaited(simweb: SimWeb) -> None:
    simweb.rate_limited("www.later.test", "/", retry_after=3600)
    started = time.monotonic()
    trace = await run(simweb, "http://www.later.test/", retries=2, retry_after_cap_s=5)
    assert time.monotonic() - started < 1
    assert trace.status_code == 429 and trace.attempts == 1
    assert trace.retry_after_s == 3600


@pytest.mark.asyncio
async def test_429_without_retry_after_backs_off_and_retries(simweb: SimWeb) -> None:
    simweb.rate_limited("www.nohint.test", "/", retry_after=None, failures=2)
    trace = await run(simweb, "http://www.nohint.test/", retries=2)
    assert trace.status_code == 200 and trace.attempts == 3 and trace.retry_after_s is None


# --------------------------------------------------------------------------- time


@pytest.mark.asyncio
async def test_slow_but_in_time(simweb: SimWeb) -> None:
    simweb.slow("www.slow.test", "/", delay=0.3)
    trace = await run(simweb, "http://www.slow.test/", total_timeout_s=2)
    assert trace.status_code == 200 and trace.cause is None
    assert trace.elapsed_ms >= 300


@pytest.mark.asyncio
async def test_one_byte_per_second_is_cut_at_the_total_timeout(simweb: SimWeb) -> None:
    simweb.trickle("www.trickle.test", "/", interval=1.0)
    started = time.monotonic()
    trace = await run(simweb, "http://www.trickle.test/", total_timeout_s=1.5, read_timeout_s=3)
    elapsed = time.monotonic() - started
    assert trace.cause is Cause.TIMEOUT
    assert trace.error == "no complete response within 1.5 s"
    assert 1.4 <= elapsed < 2.2
    assert trace.status_code == 200 and len(trace.hops) == 1   # the head did arrive
    assert 1 <= trace.bytes_read <= 3


@pytest.mark.asyncio
async def test_a_url_has_an_overall_deadline_across_hops_and_retries(simweb: SimWeb) -> None:
    # Every hop answers slowly but within its own timeout; the chain as a whole is cut.
    for i in range(10):
        simweb.page("www.slowchain.test", f"/{i}", "", status=302, headers={"Location": f"/{i + 1}"}, delay=0.3)
    started = time.monotonic()
    trace = await run(simweb, "http://www.slowchain.test/0", total_timeout_s=1, url_deadline_s=1.0)
    elapsed = time.monotonic() - started
    assert trace.cause is Cause.TIMEOUT
    assert trace.error.startswith("gave up after 1 s")
    assert 0.9 <= elapsed < 1.6
    assert 2 <= len(trace.hops) <= 4


@pytest.mark.asyncio
async def test_stall_after_headers_hits_the_read_timeout(simweb: SimWeb) -> None:
    simweb.stall_after_headers("www.stall.test", "/")
    started = time.monotonic()
    trace = await run(simweb, "http://www.stall.test/", read_timeout_s=0.3)
    assert trace.cause is Cause.TIMEOUT and trace.error is not None and "read timeout" in trace.error
    assert time.monotonic() - started < 1.5


@pytest.mark.asyncio
async def test_timeouts_are_retried(simweb: SimWeb) -> None:
    simweb.stall_after_headers("www.stall.test", "/")
    trace = await run(simweb, "http://www.stall.test/", read_timeout_s=0.1, retries=2)
    assert trace.cause is Cause.TIMEOUT and trace.attempts == 3


# --------------------------------------------------------------------------- bounded memory


@pytest.mark.parametrize("behaviour", ["huge_body", "endless_body"])
@pytest.mark.asyncio
async def test_huge_and_endless_bodies_are_capped(simweb: SimWeb, behaviour: str) -> None:
    getattr(simweb, behaviour)("www.big.test", "/")
    started = time.monotonic()
    trace = await run(simweb, "http://www.big.test/", max_body_bytes=100_000)
    assert time.monotonic() - started < 2
    assert trace.status_code == 200 and trace.cause is None
    assert trace.truncated and len(trace.body) == 100_000
    assert trace.bytes_read < 1_000_000


@pytest.mark.asyncio
async def test_gzip_bomb_stops_at_the_decoded_cap(simweb: SimWeb) -> None:
    simweb.gzip_bomb("www.bomb.test", "/")
    trace = await run(simweb, "http://www.bomb.test/", max_body_bytes=1_000_000, max_decoded_bytes=300_000)
    assert trace.status_code == 200 and trace.truncated
    assert len(trace.body) == 300_000
    assert trace.bytes_read < 200_000


def compressed_page(encoding: str, html: bytes) -> Any:
    if encoding == "gzip":
        payload = gzip.compress(html)
    elif encoding == "deflate":
        payload = zlib.compress(html)
    else:  # raw deflate, as some servers send for "deflate"
        compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        payload = compressor.compress(html) + compressor.flush()
        encoding = "deflate"

    async def handler(request: Request, conn: Connection) -> None:
        await conn.send(200, payload, headers={"Content-Encoding": encoding})

    return handler


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate"])
@pytest.mark.asyncio
async def test_compressed_bodies_are_decoded(simweb: SimWeb, encoding: str) -> None:
    html = ("<!doctype html><title>Zipped</title>" + "<p>words " * 2000).encode()
    simweb.custom("www.zip.test", "/", compressed_page(encoding, html))
    trace = await run(simweb, "http://www.zip.test/")
    assert trace.body == html and not trace.truncated
    assert trace.bytes_read < len(html) // 10


@pytest.mark.asyncio
async def test_corrupt_gzip_is_a_protocol_error(simweb: SimWeb) -> None:
    async def handler(request: Request, conn: Connection) -> None:
        await conn.send(200, b"\x1f\x8b this is not gzip", headers={"Content-Encoding": "gzip"})

    simweb.custom("www.corrupt.test", "/", handler)
    trace = await run(simweb, "http://www.corrupt.test/")
    assert trace.status_code == 200 and trace.cause is Cause.PROTOCOL


# --------------------------------------------------------------------------- text


@pytest.mark.parametrize("declare", ["header", "meta", "none"])
@pytest.mark.asyncio
async def test_windows_1252_pages_are_decoded(simweb: SimWeb, declare: str) -> None:
    simweb.windows_1252_page("www.legacy.test", "/", "Café – naïve “quotes”", declare=declare)
    trace = await run(simweb, "http://www.legacy.test/")
    assert trace.text is not None and "<title>Café – naïve “quotes”</title>" in trace.text


@pytest.mark.parametrize(
    ("body", "content_type", "truncated", "expected"),
    [
        ("héllo".encode(), "text/html; charset=utf-8", False, "héllo"),
        ("héllo".encode("latin-1"), "text/html; charset=ISO-8859-1", False, "héllo"),
        ("‘hi’".encode("cp1252"), 'text/html; charset="latin1"', False, "‘hi’"),   # WHATWG: latin1 = windows-1252
        ("héllo".encode(), "text/html", False, "héllo"),
        ("héllo".encode("cp1252"), None, False, "héllo"),
        ("\ufeffhé".encode("utf-8"), "text/html; charset=windows-1252", False, "hé"),   # BOM wins
        ("hé".encode("utf-16"), "text/plain", False, "hé"),
        ("<meta http-equiv='Content-Type' content='text/html; charset=koi8-r'>привет".encode("koi8-r"),
         "text/html", False, "<meta http-equiv='Content-Type' content='text/html; charset=koi8-r'>привет"),
        ("abc€".encode()[:-1], "text/html", True, "abc"),   # a character cut by the cap
        ("héllo".encode(), "text/html; charset=bogus-charset", False, "héllo"),
        (b"\x89PNG...", "image/png", False, None),
        (b"%PDF-1.4", "application/pdf", False, None),
        (b'{"a": 1}', "application/json", False, '{"a": 1}'),
        (b"<feed/>", "application/atom+xml", False, "<feed/>"),
    ],
)
def test_decode_text(body: bytes, content_type: str | None, truncated: bool, expected: str | None) -> None:
    assert decode_text(body, content_type, truncated) == expected


# --------------------------------------------------------------------------- redirects


@pytest.mark.asyncio
async def test_redirect_loop(simweb: SimWeb) -> None:
    simweb.redirect_loop("www.loop.test", "/a", "/b")
    trace = await run(simweb, "http://www.loop.test/a")
    assert trace.cause is Cause.REDIRECT_LOOP
    assert [h.status_code for h in trace.hops] == [302, 302]
    assert [h.location for h in trace.hops] == ["http://www.loop.test/b", "http://www.loop.test/a"]
    assert simweb.hits("www.loop.test", "/a") == simweb.hits("www.loop.test", "/b") == 1


@pytest.mark.asyncio
async def test_self_redirect_setting_a_cookie_is_not_a_loop(simweb: SimWeb) -> None:
    async def gate(request: Request, conn: Connection) -> None:
        if "visited=1" in request.headers.get("cookie", ""):
            await conn.send(200, "<title>Inside</title>")
        else:
            await conn.send(302, "", headers={"Location": "/", "Set-Cookie": "visited=1; Path=/"})

    simweb.custom("www.gate.test", "/", gate)
    trace = await run(simweb, "http://www.gate.test/")
    assert trace.status_code == 200 and trace.cause is None and len(trace.hops) == 2
    again = await run(simweb, "http://www.gate.test/")   # a new fetch starts without cookies
    assert len(again.hops) == 2


@pytest.mark.parametrize(("length", "cause", "hops"), [(10, None, 11), (11, Cause.TOO_MANY_REDIRECTS, 11)])
@pytest.mark.asyncio
async def test_redirect_chain_limit(simweb: SimWeb, length: int, cause: Cause | None, hops: int) -> None:
    simweb.redirect_chain("www.chain.test", "/start", length=length)
    trace = await run(simweb, "http://www.chain.test/start", max_redirects=10)
    assert trace.cause is cause
    assert len(trace.hops) == hops
    if cause is None:
        assert trace.status_code == 200 and trace.final_url == f"http://www.chain.test/start/{length}"


@pytest.mark.asyncio
async def test_relative_location_is_resolved_against_the_current_url(simweb: SimWeb) -> None:
    simweb.redirect("www.rel.test", "/docs/old/page", "../new/page?x=1", status=308)
    simweb.page("www.rel.test", "/docs/new/page", "<title>New</title>")
    trace = await run(simweb, "http://www.rel.test/docs/old/page")
    assert trace.status_code == 200
    assert trace.hops[0].location == "http://www.rel.test/docs/new/page?x=1"
    assert trace.final_url == "http://www.rel.test/docs/new/page?x=1"


@pytest.mark.parametrize(
    ("location", "message"),
    [
        (None, "301 redirect without a Location header"),
        ("   ", "301 redirect without a Location header"),
        ("ftp://files.test/", "301 redirect to a non-http(s) Location 'ftp://files.test/'"),
        ("javascript:alert(1)", "301 redirect to a non-http(s) Location 'javascript:alert(1)'"),
        ("http://[bad", "301 redirect to an invalid Location"),
    ],
)
@pytest.mark.asyncio
async def test_bad_redirects(simweb: SimWeb, location: str | None, message: str) -> None:
    simweb.redirect("www.badredir.test", "/", location, status=301)
    trace = await run(simweb, "http://www.badredir.test/")
    assert trace.cause is Cause.BAD_REDIRECT
    assert trace.error is not None and trace.error.startswith(message)
    assert trace.status_code == 301 and len(trace.hops) == 1


@pytest.mark.asyncio
async def test_http_to_https(simweb: SimWeb) -> None:
    simweb.http_to_https("www.secure.test", "/")
    trace = await run(simweb, "http://www.secure.test/")
    assert [(h.url, h.status_code) for h in trace.hops] == [
        ("http://www.secure.test/", 301), ("https://www.secure.test/", 200)
    ]
    assert trace.final_url == "https://www.secure.test/" and trace.text == "<title>Secure</title>"


@pytest.mark.asyncio
async def test_cross_domain_redirect_and_deep_link_sent_home(simweb: SimWeb) -> None:
    simweb.redirect("www.old-name.test", "/", "https://www.new-name.test/", status=301)
    simweb.page("www.new-name.test", "/", "<title>New name</title>")
    simweb.redirect("www.new-name.test", "/programs/food-bank", "/", status=302)
    moved = await run(simweb, "http://www.old-name.test/")
    assert moved.final_url == "https://www.new-name.test/" and moved.status_code == 200
    home = await run(simweb, "https://www.new-name.test/programs/food-bank")
    assert [h.status_code for h in home.hops] == [302, 200]
    assert home.final_url == "https://www.new-name.test/"


# --------------------------------------------------------------------------- connection failures


@pytest.mark.asyncio
async def test_connection_closed_without_response_is_a_retried_protocol_error(simweb: SimWeb) -> None:
    simweb.close_without_response("www.hangup.test", "/")
    trace = await run(simweb, "http://www.hangup.test/", retries=1)
    assert trace.cause is Cause.PROTOCOL and trace.status_code is None
    assert trace.attempts == 2 and simweb.hits("www.hangup.test", "/") == 2


@pytest.mark.asyncio
async def test_connection_reset_mid_body(simweb: SimWeb) -> None:
    simweb.reset_mid_body("www.reset.test", "/")
    trace = await run(simweb, "http://www.reset.test/")
    assert trace.cause is Cause.PROTOCOL and trace.status_code == 200
    assert trace.error


@pytest.mark.asyncio
async def test_unknown_host_is_a_dns_error(simweb: SimWeb) -> None:
    trace = await run(simweb, "https://www.no-such-charity.test/")
    assert trace.cause is Cause.DNS
    assert trace.error == "www.no-such-charity.test does not resolve (no such name)"
    assert simweb.stats("www.no-such-charity.test").requests == 0


@pytest.mark.asyncio
async def test_closed_port_is_a_connect_error(simweb: SimWeb) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))   # bound but not listening: connections are refused
        port = sock.getsockname()[1]
        resolver = simweb.resolver(extra={"www.closed.test": f"127.0.0.1:{port}"})
        trace = await run(simweb, "http://www.closed.test/", resolver=resolver, retries=2)
    assert trace.cause is Cause.CONNECT and trace.error == "connection refused (www.closed.test:80)"
    assert trace.attempts == 1   # refused connections are not retried


@pytest.mark.parametrize(
    ("scenario", "reason"),
    [
        ("expired", "certificate has expired"),
        ("wrong_host", "certificate is not valid for www.tls.test"),
        ("self_signed", "self-signed certificate"),
    ],
)
@pytest.mark.asyncio
async def test_tls_failures(simweb: SimWeb, scenario: str, reason: str) -> None:
    simweb.tls("www.tls.test", scenario)
    simweb.page("www.tls.test", "/")
    trace = await run(simweb, "https://www.tls.test/", retries=2)
    assert trace.cause is Cause.TLS
    assert trace.error == f"{reason} (www.tls.test)"
    assert trace.attempts == 1 and simweb.hits("www.tls.test", "/") == 0


@pytest.mark.asyncio
async def test_certificate_expiry_is_recorded_for_an_early_warning(simweb: SimWeb) -> None:
    simweb.tls("www.renew-soon.test", "expiring_soon")
    simweb.page("www.renew-soon.test", "/")
    simweb.page("www.plain.test", "/")
    trace = await run(simweb, "https://www.renew-soon.test/")
    assert trace.cause is None and trace.status_code == 200
    days_left = (datetime.fromisoformat(trace.tls_expires_at) - datetime.now(timezone.utc)).days
    assert 8 <= days_left <= 10
    assert (await run(simweb, "http://www.plain.test/")).tls_expires_at is None


# --------------------------------------------------------------------------- the address guard


@pytest.mark.asyncio
async def test_name_resolving_to_loopback_is_refused(simweb: SimWeb) -> None:
    simweb.page("www.target.test", "/")
    trace = await run(simweb, "http://www.target.test/", allow_private_addresses=False)
    assert trace.cause is Cause.PRIVATE_ADDRESS
    assert trace.error == "www.target.test resolves to loopback address 127.0.0.1"
    assert simweb.hits("www.target.test", "/") == 0 and simweb.stats("www.target.test").requests == 0


@pytest.mark.parametrize(
    ("location", "error"),
    [
        ("http://127.0.0.1:{port}/secret", "loopback address 127.0.0.1"),
        ("http://internal.test/secret", "internal.test resolves to loopback address 127.0.0.1"),
        ("http://[::ffff:127.0.0.1]:{port}/secret", "loopback address 127.0.0.1 (IPv4-mapped ::ffff:7f00:1)"),
        ("http://metadata.test/latest/meta-data/", "metadata.test resolves to link-local address 169.254.169.254"),
        ("http://169.254.169.254/latest/meta-data/", "link-local address 169.254.169.254"),
    ],
)
@pytest.mark.asyncio
async def test_redirect_from_a_public_site_to_a_private_address_is_refused(
    simweb: SimWeb, location: str, error: str
) -> None:
    """The first hop is allowed ("pretend public"); the redirect target must get zero hits."""
    simweb.redirect("www.public.test", "/", location.format(port=simweb.http_port), status=302)
    simweb.page("127.0.0.1", "/secret", "<title>secret</title>")
    simweb.page("internal.test", "/secret", "<title>secret</title>")
    resolver = simweb.resolver(
        pretend_public=["www.public.test"], extra={"metadata.test": "169.254.169.254"}
    )
    trace = await run(simweb, "http://www.public.test/", resolver=resolver, allow_private_addresses=False)
    assert trace.cause is Cause.PRIVATE_ADDRESS
    assert trace.error == error
    assert [h.status_code for h in trace.hops] == [302]
    assert simweb.hits("127.0.0.1", "/secret") == simweb.hits("internal.test", "/secret") == 0
    assert simweb.stats("127.0.0.1").requests == simweb.stats("internal.test").requests == 0


# --------------------------------------------------------------------------- politeness on the wire


@pytest.mark.asyncio
async def test_politeness_holds_under_20_concurrent_fetches_to_one_host(simweb: SimWeb) -> None:
    for i in range(20):
        simweb.page("www.small-charity.test", f"/page/{i}", delay=0.1)
    config = make_config(per_host_limit=2, min_interval_s=0.04)
    hosts = HostPool(config)
    async with make_client(config, simweb.resolver()) as client:
        traces = await asyncio.gather(*(
            fetch(f"http://www.small-charity.test/page/{i}", client=client, hosts=hosts, config=config)
            for i in range(20)
        ))
    assert all(t.status_code == 200 for t in traces)
    stats = simweb.stats("www.small-charity.test")
    assert stats.requests == 20
    assert stats.max_in_flight <= 2 and stats.max_connections <= 2
    assert stats.min_gap() >= 0.04 - 0.005   # scheduling noise between client and server clocks
    assert hosts.stats.max_host_in_flight == 2 and hosts.stats.min_start_gap_s >= 0.04


# --------------------------------------------------------------------------- exception mapping (pure logic)


@pytest.mark.parametrize(
    ("error", "cause", "retried"),
    [
        (httpx.ConnectTimeout("slow"), Cause.TIMEOUT, True),
        (httpx.ReadTimeout("slow"), Cause.TIMEOUT, True),
        (httpx.PoolTimeout("busy"), Cause.TIMEOUT, True),
        (httpx.ConnectError("refused"), Cause.CONNECT, False),
        (NameResolutionError("x.test does not resolve"), Cause.DNS, False),
        (AddressRefused("x.test resolves to private address 10.0.0.1"), Cause.PRIVATE_ADDRESS, False),
        (httpx.ReadError("reset by peer"), Cause.PROTOCOL, True),
        (httpx.RemoteProtocolError("Server disconnected without sending a response."), Cause.PROTOCOL, True),
        (httpx.RemoteProtocolError("illegal status line"), Cause.PROTOCOL, False),
        (httpx.LocalProtocolError("bad header"), Cause.PROTOCOL, False),
        (httpx.UnsupportedProtocol("nope"), Cause.BAD_URL, False),
    ],
)
@pytest.mark.asyncio
async def test_transport_errors_map_to_causes(error: Exception, cause: Cause, retried: bool) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise error

    config = make_config(retries=1)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        trace = await fetch("http://www.mock.test/", client=client, hosts=HostPool(config), config=config)
    assert trace.cause is cause
    assert trace.error
    assert trace.attempts == calls == (2 if retried else 1)


@pytest.mark.asyncio
async def test_ssl_errors_inside_connect_errors_are_tls() -> None:
    import ssl

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("handshake failed") from ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER]")

    config = make_config()
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        trace = await fetch("https://www.mock.test/", client=client, hosts=HostPool(config), config=config)
    assert trace.cause is Cause.TLS


# --------------------------------------------------------------------------- simweb in another process


@pytest.mark.asyncio
async def test_default_resolver_and_ssl_cert_file_reach_a_simweb_process(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = [
        {"kind": "page", "host": "www.proc.test", "path": "/", "html": "<title>From a process</title>"},
        {"kind": "redirect", "host": "www.proc.test", "path": "/old", "location": "https://www.proc.test/"},
    ]
    with simweb_process(spec) as info:
        monkeypatch.setenv(TEST_RESOLVE_ENV, json.dumps(info["resolve"]))
        monkeypatch.setenv("SSL_CERT_FILE", info["ca_file"])
        config = make_config()
        async with make_client(config) as client:   # resolver and CA from the environment
            trace = await fetch("http://www.proc.test/old", client=client, hosts=HostPool(config), config=config)
    assert [h.status_code for h in trace.hops] == [301, 200]
    assert trace.text == "<title>From a process</title>"
