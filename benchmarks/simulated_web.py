"""A bulk simulated web for the checker benchmark.

Hundreds of virtual hosts answer on one loopback port (routed by the Host header), each with its
own latency. The server runs in its own process, so its CPU is not counted as the checker's, and
it keeps the evidence a benchmark needs: per host, the most connections busy at once, the highest
request rate over any one-second window, and the 429s it had to send to impolite clients.

Every URL has a kind, and every kind a known truth (the outcome a correct checker reports):

    ok         200 page naming the organization              -> ok
    missing    404                                           -> broken
    flaky      503 on the first request, then 200            -> ok (after a retry)
    canonical  301 to the same path with a trailing slash    -> ok
    relocated  301 to another page of the same site          -> redirected
    moved      301 to another registrable domain             -> moved
    forbidden  403 to automated clients                      -> blocked
    failing    503 on every request                          -> transient (after the retries)
    parked     200 domain-for-sale page                      -> parked
    soft404    200 "page not found" page                     -> soft_404
"""

from __future__ import annotations

import asyncio
import collections
import random
import time
from dataclasses import dataclass, field

EXPECTED = {
    "ok": "ok", "missing": "broken", "flaky": "ok", "canonical": "ok", "relocated": "redirected",
    "moved": "moved", "parked": "parked", "soft404": "soft_404", "forbidden": "blocked",
    "failing": "transient",
}
DEFAULT_MIX = {"ok": 0.75, "missing": 0.05, "flaky": 0.05, "canonical": 0.04, "relocated": 0.02,
               "moved": 0.02, "parked": 0.02, "soft404": 0.02, "forbidden": 0.02, "failing": 0.01}
RETRIES = 2   # the checker's default; a correct checker tries a failing URL 1 + RETRIES times
STRICT_MAX_CONNECTIONS = 2      # strict hosts answer 429 beyond this many connections at once...
STRICT_MAX_RATE_1S = 6          # ...or beyond this many requests in any one second


@dataclass(frozen=True)
class HostSpec:
    name: str
    latency_s: float
    strict: bool


@dataclass(frozen=True)
class UrlSpec:
    url: str
    host: str
    kind: str

    @property
    def expected(self) -> str:
        return EXPECTED[self.kind]


@dataclass
class Web:
    hosts: dict[str, HostSpec]
    urls: list[UrlSpec]

    def requests_needed(self, spec: UrlSpec) -> list[tuple[str, float]]:
        """(host, service time) of every request a correct, polite checker must send for spec."""
        host = self.hosts[spec.host]
        if spec.kind in ("flaky", "canonical", "relocated"):
            return [(host.name, host.latency_s)] * 2
        if spec.kind == "failing":
            return [(host.name, host.latency_s)] * (1 + RETRIES)
        if spec.kind == "moved":
            target = self.hosts[moved_target(spec.host)]
            return [(host.name, host.latency_s), (target.name, target.latency_s)]
        return [(host.name, host.latency_s)]


def moved_target(host: str) -> str:
    return "new-" + host


def make_web(*, hosts: int, urls: int, seed: int = 1, latency=(0.05, 0.4), strict_fraction=0.1,
             mix: dict[str, float] = DEFAULT_MIX) -> Web:
    rng = random.Random(seed)
    host_specs: dict[str, HostSpec] = {}
    names = []
    for i in range(hosts):
        name = f"charity-{i:05d}.test"
        host_specs[name] = HostSpec(name, rng.uniform(*latency), rng.random() < strict_fraction)
        names.append(name)
    kinds, weights = zip(*mix.items())
    specs = []
    for i in range(urls):
        host = names[i % hosts]
        kind = rng.choices(kinds, weights)[0]
        specs.append(UrlSpec(f"http://{host}/{kind}/{i}", host, kind))
        if kind == "moved" and moved_target(host) not in host_specs:
            host_specs[moved_target(host)] = HostSpec(moved_target(host), rng.uniform(*latency), False)
    return Web(host_specs, specs)


# --------------------------------------------------------------------------- the server

PAGE = (
    "<!doctype html><html lang=en><head><meta charset=utf-8><title>{title}</title></head><body>"
    "<header><nav><a href=/>Home</a> <a href=/about>About us</a> <a href=/help>Get help</a></nav></header>"
    "<main><h1>{title}</h1><p>{name} supports people affected by breast cancer and their families with "
    "information, a helpline and local groups. Our nurses answer questions about diagnosis, treatment and "
    "life after treatment.</p><p>Registered charity {number}. We fund research into better treatments and "
    "campaign for faster diagnosis.</p></main><footer>&copy; {name}</footer></body></html>"
)
PARKED = (
    "<!doctype html><html><head><title>{host} is for sale</title></head><body><h1>{host}</h1>"
    "<p>This domain is for sale! Buy this domain today.</p><p>The domain owner may be interested in "
    "selling it. Make an offer.</p><div class=related>Related searches: <a href=/l?q=1>Insurance</a> "
    "<a href=/l?q=2>Loans</a> <a href=/l?q=3>Casino</a></div></body></html>"
)
NOT_FOUND = (
    "<!doctype html><html><head><title>Page not found | {name}</title></head><body><h1>Page not found"
    "</h1><p>Sorry, the page you requested could not be found. It may have been moved or deleted.</p>"
    "<p><a href=/>Return to the home page</a></p></body></html>"
)


@dataclass
class HostStats:
    requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    max_rate_1s: int = 0
    sent_429: int = 0
    window: collections.deque = field(default_factory=collections.deque)


class SimulatedWebServer:
    def __init__(self, web: Web):
        self.web = web
        self.stats: dict[str, HostStats] = collections.defaultdict(HostStats)
        self.flaky_seen: set[str] = set()
        self.connections = 0

    def _start(self, host: str) -> tuple[HostStats, bool]:
        """Account a request start; returns (stats, impolite)."""
        now = time.monotonic()
        stats = self.stats[host]
        stats.requests += 1
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        stats.window.append(now)
        while stats.window[0] < now - 1.0:
            stats.window.popleft()
        stats.max_rate_1s = max(stats.max_rate_1s, len(stats.window))
        return stats, stats.in_flight > STRICT_MAX_CONNECTIONS or len(stats.window) > STRICT_MAX_RATE_1S

    async def respond(self, host: str, path: str) -> tuple[int, dict, bytes]:
        spec = self.web.hosts.get(host)
        if spec is None:
            return 421, {}, b"unknown host"
        stats, impolite = self._start(host)
        try:
            await asyncio.sleep(spec.latency_s)
            if spec.strict and impolite:
                stats.sent_429 += 1
                return 429, {"Retry-After": "1"}, b"slow down"
            return self._route(host, path)
        finally:
            stats.in_flight -= 1

    def _route(self, host: str, path: str) -> tuple[int, dict, bytes]:
        parts = path.strip("/").split("/")
        kind = parts[0] if parts else ""
        name = f"Charity {host.split('.')[0].split('-')[-1]}"
        page = PAGE.format(title=f"{name} | Breast cancer support", name=name, number=abs(hash(host)) % 10**7)
        html = {"Content-Type": "text/html; charset=utf-8"}
        if host.startswith("new-"):
            return 200, html, page.encode()
        if kind == "ok" or (kind == "canonical" and path.endswith("/")):
            return 200, html, page.encode()
        if kind == "missing":
            return 404, html, NOT_FOUND.format(name=name).encode()
        if kind == "flaky":
            if path not in self.flaky_seen:
                self.flaky_seen.add(path)
                return 503, html, b"<h1>Service temporarily unavailable</h1>"
            return 200, html, page.encode()
        if kind == "canonical":
            return 301, {"Location": path + "/"}, b""
        if kind == "relocated":
            if path.endswith("/home"):
                return 200, html, page.encode()
            return 301, {"Location": path + "/home"}, b""
        if kind == "forbidden":
            return 403, html, b"<title>403 Forbidden</title><h1>Forbidden</h1>"
        if kind == "failing":
            return 503, html, b"<title>503 Service Unavailable</title>"
        if kind == "moved":
            return 301, {"Location": f"http://{moved_target(host)}/"}, b""
        if kind == "parked":
            return 200, html, PARKED.format(host=host).encode()
        if kind == "soft404":
            return 200, html, NOT_FOUND.format(name=name).encode()
        return 404, html, b"no such page"

    def report(self) -> dict:
        busiest = max(self.stats.items(), key=lambda item: item[1].max_in_flight, default=(None, HostStats()))
        fastest = max(self.stats.items(), key=lambda item: item[1].max_rate_1s, default=(None, HostStats()))
        return {
            "requests": sum(s.requests for s in self.stats.values()),
            "sent_429": sum(s.sent_429 for s in self.stats.values()),
            "max_host_connections": busiest[1].max_in_flight, "max_host_connections_host": busiest[0],
            "max_host_rate_1s": fastest[1].max_rate_1s, "max_host_rate_host": fastest[0],
            "connections": self.connections,
        }


class _Connection(asyncio.Protocol):
    """HTTP/1.1 with keep-alive; one request at a time per connection (clients don't pipeline)."""

    def __init__(self, server: SimulatedWebServer):
        self.server = server
        self.buffer = b""
        self.busy = False
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        self.server.connections += 1

    def data_received(self, data):
        self.buffer += data
        self._next()

    def _next(self):
        if self.busy or b"\r\n\r\n" not in self.buffer:
            return
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        try:
            _method, path, _version = lines[0].split(" ", 2)
        except ValueError:
            self.transport.close()
            return
        host = ""
        for line in lines[1:]:
            key, _, value = line.partition(":")
            if key.strip().lower() == "host":
                host = value.strip().split(":")[0].lower()
        self.busy = True
        asyncio.ensure_future(self._answer(host, path))

    async def _answer(self, host, path):
        status, headers, body = await self.server.respond(host, path)
        if self.transport.is_closing():
            return
        head = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        self.transport.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        self.busy = False
        self._next()


def serve_forever(web: Web, port_pipe, command_pipe) -> None:
    """Child-process entry point: serve until asked for the report."""

    async def main():
        server = SimulatedWebServer(web)
        listener = await asyncio.get_running_loop().create_server(lambda: _Connection(server), "127.0.0.1", 0,
                                                                  backlog=4096)
        port_pipe.send(listener.sockets[0].getsockname()[1])
        await asyncio.get_running_loop().run_in_executor(None, command_pipe.recv)
        command_pipe.send(server.report())
        listener.close()

    asyncio.run(main())
