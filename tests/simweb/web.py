"""SimWeb: many virtual hosts on two local ports, declared by tests, counted per route and host.

    web = SimWeb()
    web.page("www.ok.test", "/", html="<title>OK</title>")
    web.redirect("www.old.test", "/", "https://www.new.test/")
    web.rate_limited("www.busy.test", "/", retry_after="1")
    with web.running():
        client = make_client(config, web.resolver(), ssl_context=web.client_ssl_context())
        ...
    assert web.hits("www.ok.test", "/") == 1

The server runs on its own thread and event loop, so it serves async tests, sync tests and CLI
subprocesses alike. Custom handlers run on that loop: they must not touch the test's loop.
Plain HTTP and HTTPS each have one ephemeral port; `resolver()` maps "host:80" and "host:443" of
every virtual host to them, so test URLs look like real ones (https://www.example.test/).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import gzip
import json
import random
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from checker.network import StaticResolver
from tests.simweb.certs import TestCertificates, TLSScenario, test_certificates
from tests.simweb.server import Connection, HostStats, HTTPServerEngine, Request

Handler = Callable[[Request, Connection], Awaitable[None]]

CHUNK = b"x" * 65536


@dataclass
class Route:
    """One (host, path) and its handler; `hits` counts every request, HEAD included."""

    host: str
    path: str
    handler: Handler
    scheme: str | None = None          # None: both http and https
    delay: float | tuple[float, float] = 0.0
    hits: int = 0
    methods: list[str] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)   # time.monotonic() per request

    def gaps(self) -> list[float]:
        return [b - a for a, b in zip(self.arrivals, self.arrivals[1:])]


@cache
def gzip_bomb(decoded_size: int = 64 * 1024 * 1024) -> bytes:
    """`decoded_size` zero bytes, gzipped (about 1000:1), built once per process."""
    compressor = gzip.zlib.compressobj(9, gzip.zlib.DEFLATED, 16 + gzip.zlib.MAX_WBITS)  # type: ignore[attr-defined]
    zeros = bytes(1024 * 1024)
    parts = [compressor.compress(zeros) for _ in range(decoded_size // len(zeros))]
    parts.append(compressor.flush())
    return b"".join(parts)


def _http_date(when: float) -> str:
    return email.utils.formatdate(when, usegmt=True)


class SimWeb:
    """Registry of virtual hosts and routes, plus the server that answers for them."""

    # Methods usable from a declarative spec (see from_spec); all take host and path first.
    DECLARATIVE = frozenset({
        "page", "redirect", "status", "head_status", "rate_limited", "flaky", "slow", "trickle",
        "stall_after_headers", "huge_body", "endless_body", "gzip_bomb", "endless_headers",
        "windows_1252_page", "redirect_loop", "redirect_chain", "http_to_https",
        "challenge_403", "linkedin_999", "close_without_response", "reset_mid_body", "tls",
    })

    def __init__(
        self,
        *,
        certificates: TestCertificates | None = None,
        latency: float | tuple[float, float] = 0.0,
    ) -> None:
        self.certificates = certificates or test_certificates()
        self.latency = latency                  # added before every response (benchmarks)
        self.routes: dict[tuple[str | None, str, str], Route] = {}
        self.host_stats: dict[str, HostStats] = {}
        self.tls_scenarios: dict[str, TLSScenario] = {}
        self.extra_hosts: set[str] = set()
        self.http_port: int | None = None
        self.https_port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._engine: HTTPServerEngine | None = None
        self.errors: list[BaseException] = []   # unexpected handler errors, for debugging

    # ------------------------------------------------------------------ registry

    def custom(
        self,
        host: str,
        path: str,
        handler: Handler,
        *,
        scheme: str | None = None,
        delay: float | tuple[float, float] = 0.0,
    ) -> Route:
        """Serve `path` on `host` with an async handler(request, conn)."""
        host = host.lower()
        route = Route(host, path, handler, scheme, delay)
        self.routes[(scheme, host, path)] = route
        return route

    def route(self, host: str, path: str = "/", *, scheme: str | None = None) -> Route:
        key = (scheme, host.lower(), path)
        if key not in self.routes:
            key = (None, host.lower(), path)
        return self.routes[key]

    def hits(self, host: str, path: str = "/", *, scheme: str | None = None) -> int:
        """Requests a route received (0 if the route was never declared)."""
        try:
            return self.route(host, path, scheme=scheme).hits
        except KeyError:
            return 0

    def stats(self, host: str) -> HostStats:
        """Per-host counters (created empty for hosts that saw nothing)."""
        return self.host_stats.setdefault(host.lower(), HostStats())

    def add_host(self, host: str) -> None:
        """Make `host` resolvable without declaring a route (it answers 404)."""
        self.extra_hosts.add(host.lower())

    @property
    def hostnames(self) -> set[str]:
        return {host for _scheme, host, _path in self.routes} | set(self.tls_scenarios) | self.extra_hosts

    # ------------------------------------------------------------------ ordinary responses

    def page(
        self,
        host: str,
        path: str = "/",
        html: str | bytes = "<!doctype html><title>OK</title><p>Hello",
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        content_type: str = "text/html; charset=utf-8",
        scheme: str | None = None,
        delay: float | tuple[float, float] = 0.0,
    ) -> Route:
        body = html.encode("utf-8") if isinstance(html, str) else html

        async def handler(request: Request, conn: Connection) -> None:
            await conn.send(status, body, headers=dict(headers or {}), content_type=content_type)

        return self.custom(host, path, handler, scheme=scheme, delay=delay)

    def status(
        self,
        host: str,
        path: str = "/",
        status: int = 404,
        *,
        body: str = "",
        headers: Mapping[str, str] | None = None,
        reason: str | None = None,
        scheme: str | None = None,
    ) -> Route:
        text = body or f"<!doctype html><title>{status}</title><h1>{status}</h1>"

        async def handler(request: Request, conn: Connection) -> None:
            await conn.send(status, text, headers=dict(headers or {}), reason=reason)

        return self.custom(host, path, handler, scheme=scheme)

    def redirect(
        self,
        host: str,
        path: str,
        location: str | None,
        *,
        status: int = 301,
        scheme: str | None = None,
    ) -> Route:
        """A redirect to `location` (relative or absolute; None sends no Location at all)."""

        async def handler(request: Request, conn: Connection) -> None:
            headers = {} if location is None else {"Location": location}
            await conn.send(status, f"<a href='{location}'>moved</a>", headers=headers)

        return self.custom(host, path, handler, scheme=scheme)

    def tls(self, host: str, scenario: str = "valid") -> None:
        """Serve `host` over HTTPS with a broken certificate: expired, wrong_host, self_signed."""
        self.tls_scenarios[host.lower()] = TLSScenario(scenario)

    # ------------------------------------------------------------------ pathological behaviours

    def head_status(self, host: str, path: str = "/", head_status: int = 405, html: str = "<title>OK</title>") -> Route:
        """HEAD answers `head_status` (405 or 404); GET serves the page."""

        async def handler(request: Request, conn: Connection) -> None:
            if request.method == "HEAD":
                await conn.send(head_status, "")
            else:
                await conn.send(200, html)

        return self.custom(host, path, handler)

    def _first_then(self, host: str, path: str, failures: int, failing: Handler, html: str) -> Route:
        route: Route

        async def handler(request: Request, conn: Connection) -> None:
            if route.hits <= failures:
                await failing(request, conn)
            else:
                await conn.send(200, html)

        route = self.custom(host, path, handler)
        return route

    def rate_limited(
        self,
        host: str,
        path: str = "/",
        *,
        retry_after: float | str | None = 1,
        as_date: bool = False,
        failures: int = 1,
        status: int = 429,
        html: str = "<title>OK</title>",
    ) -> Route:
        """`failures` times 429 (or 503) with Retry-After, then the page.

        `retry_after` in seconds is sent as delta-seconds, or as an HTTP-date `retry_after`
        seconds ahead when `as_date`; a string is sent verbatim; None sends no header.
        """

        async def failing(request: Request, conn: Connection) -> None:
            headers = {}
            if isinstance(retry_after, str):
                headers["Retry-After"] = retry_after
            elif retry_after is not None:
                headers["Retry-After"] = (
                    _http_date(time.time() + retry_after) if as_date else str(int(retry_after))
                )
            await conn.send(status, "slow down", headers=headers)

        return self._first_then(host, path, failures, failing, html)

    def flaky(self, host: str, path: str = "/", *, failures: int = 1, status: int = 503, html: str = "<title>OK</title>") -> Route:
        """`failures` times `status` (503 by default, no Retry-After), then the page."""

        async def failing(request: Request, conn: Connection) -> None:
            await conn.send(status, "try again later")

        return self._first_then(host, path, failures, failing, html)

    def slow(self, host: str, path: str = "/", delay: float = 0.2, html: str = "<title>Slow</title>") -> Route:
        """Answers after `delay` seconds."""
        return self.page(host, path, html, delay=delay)

    def trickle(self, host: str, path: str = "/", *, interval: float = 1.0, size: int = 10_000) -> Route:
        """Sends the head, then one body byte every `interval` seconds."""

        async def handler(request: Request, conn: Connection) -> None:
            await conn.send_head(200, {"Content-Type": "text/html", "Content-Length": str(size)})
            for _ in range(size):
                await conn.write(b"x")
                await asyncio.sleep(interval)

        return self.custom(host, path, handler)

    def stall_after_headers(self, host: str, path: str = "/") -> Route:
        """Sends the head announcing a body, then nothing, until the client leaves."""

        async def handler(request: Request, conn: Connection) -> None:
            await conn.send_head(200, {"Content-Type": "text/html", "Content-Length": "1000"})
            await conn.wait_for_client_to_leave()

        return self.custom(host, path, handler)

    def huge_body(self, host: str, path: str = "/", size: int = 50 * 1024 * 1024) -> Route:
        """A `size`-byte body with Content-Length, generated as it is sent."""

        async def handler(request: Request, conn: Connection) -> None:
            await conn.send_head(200, {"Content-Type": "text/html", "Content-Length": str(size)})
            sent = 0
            while sent < size:
                piece = CHUNK[: size - sent]
                await conn.write(piece)
                sent += len(piece)

        return self.custom(host, path, handler)

    def endless_body(self, host: str, path: str = "/") -> Route:
        """A chunked body that never ends."""

        async def handler(request: Request, conn: Connection) -> None:
            await conn.send_head(200, {"Content-Type": "text/html", "Transfer-Encoding": "chunked"})
            frame = b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK)
            while True:
                await conn.write(frame)

        return self.custom(host, path, handler)

    def gzip_bomb(self, host: str, path: str = "/", decoded_size: int = 64 * 1024 * 1024) -> Route:
        """A small gzip body that decodes to `decoded_size` bytes."""

        async def handler(request: Request, conn: Connection) -> None:
            await conn.send(200, gzip_bomb(decoded_size), headers={"Content-Encoding": "gzip"})

        return self.custom(host, path, handler)

    def endless_headers(self, host: str, path: str = "/") -> Route:
        """A status line followed by header lines forever."""

        async def handler(request: Request, conn: Connection) -> None:
            await conn.write(b"HTTP/1.1 200 OK\r\n")
            line = b"X-Filler: " + b"a" * 1000 + b"\r\n"
            while True:
                await conn.write(line * 16)

        return self.custom(host, path, handler)

    def windows_1252_page(
        self, host: str, path: str = "/", text: str = "Café – naïve “quotes”", *, declare: str = "header"
    ) -> Route:
        """A windows-1252 page whose charset is in the header, in <meta>, or nowhere ("none")."""
        meta = '<meta charset="windows-1252">' if declare == "meta" else ""
        html = f"<!doctype html><html><head>{meta}<title>{text}</title></head><body><p>{text}</p></body></html>"
        content_type = "text/html; charset=windows-1252" if declare == "header" else "text/html"
        return self.page(host, path, html.encode("windows-1252"), content_type=content_type)

    def redirect_loop(self, host: str, path: str = "/loop/a", other: str = "/loop/b") -> Route:
        """`path` -> `other` -> `path` ..."""
        self.redirect(host, other, path, status=302)
        return self.redirect(host, path, other, status=302)

    def redirect_chain(self, host: str, path: str = "/chain/0", length: int = 12, html: str = "<title>End</title>") -> Route:
        """`length` redirects path -> path/1 -> ... -> a page."""
        hops = [path] + [f"{path}/{i}" for i in range(1, length + 1)]
        for here, there in zip(hops, hops[1:]):
            self.redirect(host, here, there, status=302)
        self.page(host, hops[-1], html)
        return self.route(host, path)

    def http_to_https(self, host: str, path: str = "/", html: str = "<title>Secure</title>") -> Route:
        """Plain HTTP redirects to the same URL over HTTPS, which serves the page."""
        self.redirect(host, path, f"https://{host}{path}", scheme="http")
        return self.page(host, path, html, scheme="https")

    def challenge_403(self, host: str, path: str = "/") -> Route:
        """A bot-protection challenge: 403 with Cloudflare-like headers and body."""
        return self.status(
            host, path, 403,
            body="<!doctype html><title>Just a moment...</title><p>Checking your browser",
            headers={"cf-mitigated": "challenge", "Server": "cloudflare"},
        )

    def linkedin_999(self, host: str, path: str = "/") -> Route:
        return self.status(host, path, 999, reason="Request denied")

    def close_without_response(self, host: str, path: str = "/") -> Route:
        """Reads the request, then closes the connection without a byte."""

        async def handler(request: Request, conn: Connection) -> None:
            conn.close()

        return self.custom(host, path, handler)

    def reset_mid_body(self, host: str, path: str = "/") -> Route:
        """Announces 100 kB, sends 1 kB, then drops the connection."""

        async def handler(request: Request, conn: Connection) -> None:
            await conn.send_head(200, {"Content-Type": "text/html", "Content-Length": "100000"})
            await conn.write(b"x" * 1000)
            conn.abort()

        return self.custom(host, path, handler)

    # ------------------------------------------------------------------ spec

    def apply_spec(self, spec: Sequence[Mapping[str, Any]]) -> SimWeb:
        """Declare routes from data: [{"kind": "page", "host": "www.ok.test", "path": "/", ...}]."""
        for entry in spec:
            options = dict(entry)
            kind = options.pop("kind")
            if kind not in self.DECLARATIVE:
                raise ValueError(f"unknown simweb kind {kind!r}")
            getattr(self, kind)(**options)
        return self

    # ------------------------------------------------------------------ addresses

    def url(self, host: str, path: str = "/", scheme: str = "http") -> str:
        """A URL with the default port, reachable through resolver()."""
        return f"{scheme}://{host}{path}"

    def local_url(self, host: str, path: str = "/", scheme: str = "http") -> str:
        """The same resource addressed as 127.0.0.1:port (for literal-address tests)."""
        port = self.http_port if scheme == "http" else self.https_port
        return f"{scheme}://127.0.0.1:{port}{path}"

    def resolve_map(self) -> dict[str, str]:
        """{"host:80": "127.0.0.1:HTTP_PORT", "host:443": "127.0.0.1:HTTPS_PORT"} for every host."""
        if self.http_port is None:
            raise RuntimeError("start the simweb first")
        mapping = {}
        for host in sorted(self.hostnames):
            mapping[f"{host}:80"] = f"127.0.0.1:{self.http_port}"
            mapping[f"{host}:443"] = f"127.0.0.1:{self.https_port}"
        return mapping

    def resolver(self, *, pretend_public: Sequence[str] = (), extra: Mapping[str, str] | None = None) -> StaticResolver:
        """A StaticResolver for every virtual host. Hosts in `pretend_public` pass the address
        rules even though they lead to 127.0.0.1 (both ports); `extra` adds entries."""
        mapping = self.resolve_map() | dict(extra or {})
        trusted = [f"{host.lower()}:{port}" for host in pretend_public for port in (80, 443)]
        return StaticResolver(mapping, pretend_public=trusted)

    def resolve_env(self) -> str:
        """The value for SIGNPOST_TEST_RESOLVE."""
        return json.dumps(self.resolve_map())

    def client_ssl_context(self) -> Any:
        return self.certificates.client_context()

    @property
    def ca_file(self) -> str:
        return str(self.certificates.ca_file)

    # ------------------------------------------------------------------ serving

    async def _dispatch(self, request: Request, conn: Connection) -> None:
        route = self.routes.get((request.scheme, request.host, request.path)) or self.routes.get(
            (None, request.host, request.path)
        )
        delay = route.delay if route is not None else 0.0
        if route is not None:
            route.hits += 1
            route.methods.append(request.method)
            route.arrivals.append(request.arrived_at)
        for pause in (self.latency, delay):
            seconds = random.uniform(*pause) if isinstance(pause, tuple) else pause
            if seconds > 0:
                await asyncio.sleep(seconds)
        if route is None:
            await conn.send(404, "<!doctype html><title>Not Found</title><h1>Not Found</h1>")
            return
        try:
            await route.handler(request, conn)
        except (ConnectionError, asyncio.CancelledError, OSError):
            raise
        except Exception as exc:   # a broken test handler: record it, answer 500
            self.errors.append(exc)
            if not conn.responded:
                await conn.send(500, f"handler error: {exc!r}")
            else:
                conn.abort()

    def _server_tls_context(self) -> Any:
        import ssl

        def choose_certificate(sslobj: ssl.SSLObject, server_name: str | None, _ctx: ssl.SSLContext) -> None:
            name = (server_name or "localhost").lower()
            scenario = self.tls_scenarios.get(name, TLSScenario.VALID)
            sslobj.context = self.certificates.server_context(name, scenario)

        # A context of our own: the SNI callback must not leak onto the shared cached one.
        listener = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        listener.sni_callback = choose_certificate
        with self.certificates.ca.issue_cert("localhost").private_key_and_cert_chain_pem.tempfile() as pem:
            listener.load_cert_chain(pem)
        return listener

    async def start_async(self) -> None:
        """Start listening on the running loop (for a caller that owns the loop)."""
        self._engine = HTTPServerEngine(self._dispatch, self.stats)
        self.http_port = await self._engine.listen("http")
        self.https_port = await self._engine.listen("https", self._server_tls_context())

    async def stop_async(self) -> None:
        if self._engine is not None:
            await self._engine.close()
            self._engine = None

    def start(self) -> SimWeb:
        """Serve from a background thread with its own event loop."""
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            loop.set_exception_handler(lambda _loop, context: None)   # client hang-ups are normal
            try:
                loop.run_until_complete(self.start_async())
            except BaseException as exc:   # report to the starting thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self.stop_async())
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name="simweb", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._thread = None
        self._loop = None

    @contextlib.contextmanager
    def running(self) -> Iterator[SimWeb]:
        self.start()
        try:
            yield self
        finally:
            self.stop()


def serve_spec(spec: Sequence[Mapping[str, Any]], *, latency: float | tuple[float, float] = 0.0) -> SimWeb:
    """Start a SimWeb declared by `spec` on a background thread; call .stop() when done."""
    return SimWeb(latency=latency).apply_spec(spec).start()
