"""A small HTTP/1.1 server on asyncio streams: parsing, keep-alive, per-host counters.

It knows nothing about pages or behaviours: it hands each request to `dispatch(request, conn)`
(SimWeb's router). Handlers write through `Connection`, which offers both well-formed responses
(`send`) and raw bytes (`write`, `close`, `abort`) for the pathological ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import math
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

MAX_REQUEST_HEAD = 64 * 1024


@dataclass
class Request:
    method: str
    target: str                 # path and query as sent
    path: str
    query: str
    headers: dict[str, str]     # lower-case names
    host: str                   # Host header without port, lower-case
    scheme: str                 # "http" or "https"
    arrived_at: float           # time.monotonic()

    @property
    def wants_close(self) -> bool:
        return self.headers.get("connection", "").lower() == "close"


@dataclass
class HostStats:
    """What one virtual host saw; tests assert politeness with these."""

    requests: int = 0
    connections: int = 0            # open now
    opened: int = 0                 # connections ever opened
    max_connections: int = 0
    in_flight: int = 0              # requests being handled now
    max_in_flight: int = 0
    arrivals: list[float] = field(default_factory=list)   # monotonic request arrival times

    def min_gap(self) -> float:
        """Smallest time between two request arrivals (inf with fewer than two)."""
        times = sorted(self.arrivals)
        return min((b - a for a, b in zip(times, times[1:])), default=math.inf)

    def max_requests_within(self, window_s: float) -> int:
        """The most requests that arrived within any `window_s` seconds."""
        times = sorted(self.arrivals)
        best, start = 0, 0
        for end, t in enumerate(times):
            while t - times[start] > window_s:
                start += 1
            best = max(best, end - start + 1)
        return best


class Connection:
    """The server side of one client connection, as handlers see it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, scheme: str) -> None:
        self.reader = reader
        self.writer = writer
        self.scheme = scheme
        self.request: Request | None = None
        self.keep_alive = True
        self.closed = False
        self.responded = False

    async def write(self, data: bytes) -> None:
        """Write raw bytes; raises ConnectionError once the client has gone."""
        if self.closed or self.writer.is_closing():
            raise ConnectionResetError("client connection closed")
        self.writer.write(data)
        await self.writer.drain()

    async def send_head(
        self,
        status: int,
        headers: dict[str, str] | list[tuple[str, str]] | None = None,
        *,
        reason: str | None = None,
    ) -> None:
        """Status line and headers, nothing else (the body, if any, is the caller's)."""
        if reason is None:
            try:
                reason = http.HTTPStatus(status).phrase
            except ValueError:
                reason = "Unknown"
        items = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        if not self.keep_alive or (self.request is not None and self.request.wants_close):
            self.keep_alive = False
            items.append(("Connection", "close"))
        lines = [f"HTTP/1.1 {status} {reason}"] + [f"{name}: {value}" for name, value in items]
        self.responded = True
        await self.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    async def send(
        self,
        status: int,
        body: bytes | str = b"",
        *,
        headers: dict[str, str] | list[tuple[str, str]] | None = None,
        content_type: str | None = "text/html; charset=utf-8",
        reason: str | None = None,
    ) -> None:
        """A complete response with Content-Length; no body for HEAD."""
        payload = body.encode("utf-8") if isinstance(body, str) else body
        items = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        names = {name.lower() for name, _ in items}
        if content_type and "content-type" not in names:
            items.append(("Content-Type", content_type))
        if "content-length" not in names:
            items.append(("Content-Length", str(len(payload))))
        await self.send_head(status, items, reason=reason)
        if payload and (self.request is None or self.request.method != "HEAD"):
            await self.write(payload)

    async def wait_for_client_to_leave(self) -> None:
        """Hold the connection open, sending nothing, until the client closes it."""
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            while await self.reader.read(4096):
                pass
        self.close()

    def close(self) -> None:
        """Close after flushing what was written (the client sees EOF)."""
        self.closed = True
        self.keep_alive = False
        self.writer.close()

    def abort(self) -> None:
        """Drop the connection at once."""
        self.closed = True
        self.keep_alive = False
        self.writer.transport.abort()


Dispatch = Callable[[Request, Connection], Awaitable[None]]


class HTTPServerEngine:
    """Accepts connections on one listener and runs the keep-alive loop for each."""

    def __init__(self, dispatch: Dispatch, stats_for: Callable[[str], HostStats]) -> None:
        self._dispatch = dispatch
        self._stats_for = stats_for
        self._servers: list[asyncio.Server] = []
        self._connections: set[Connection] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def listen(self, scheme: str, ssl_context: ssl.SSLContext | None = None) -> int:
        """Start a listener on 127.0.0.1 and an ephemeral port; returns the port."""

        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            self._tasks.add(task)
            try:
                await self._serve(Connection(reader, writer, scheme))
            finally:
                self._tasks.discard(task)

        server = await asyncio.start_server(
            on_connect, "127.0.0.1", 0, ssl=ssl_context, limit=MAX_REQUEST_HEAD, backlog=1024
        )
        self._servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for conn in list(self._connections):
            conn.abort()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()

    async def _serve(self, conn: Connection) -> None:
        self._connections.add(conn)
        host_stats: HostStats | None = None
        try:
            while not conn.closed:
                request = await self._read_request(conn)
                if request is None:
                    break
                if host_stats is None:   # a connection counts for the host of its first request
                    host_stats = self._stats_for(request.host)
                    host_stats.connections += 1
                    host_stats.opened += 1
                    host_stats.max_connections = max(host_stats.max_connections, host_stats.connections)
                await self._handle(conn, request, self._stats_for(request.host))
                if not conn.keep_alive or request.wants_close:
                    break
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        finally:
            self._connections.discard(conn)
            if host_stats is not None:
                host_stats.connections -= 1
            if not conn.writer.is_closing():
                conn.writer.close()

    async def _handle(self, conn: Connection, request: Request, stats: HostStats) -> None:
        stats.requests += 1
        stats.arrivals.append(request.arrived_at)
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        conn.request, conn.responded = request, False
        try:
            await self._dispatch(request, conn)
            if not conn.responded and not conn.closed:
                conn.close()   # a handler that says nothing ends the connection
        finally:
            stats.in_flight -= 1

    @staticmethod
    async def _read_request(conn: Connection) -> Request | None:
        try:
            head = await conn.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ssl.SSLError):
            return None
        arrived_at = time.monotonic()
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, _version = lines[0].split(" ", 2)
        except ValueError:
            conn.abort()
            return None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        if length:
            await conn.reader.readexactly(length)
        path, _, query = target.partition("?")
        host = headers.get("host", "").lower()
        host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        scheme = conn.scheme
        return Request(method.upper(), target, path or "/", query, headers, host, scheme, arrived_at)
