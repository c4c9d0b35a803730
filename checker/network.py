"""The checker's connection layer: name resolution, the address guard, and an httpx client on it.

Layers, bottom up:

* `Resolver`: host name -> addresses. `SystemResolver` asks the OS (cached for the run);
  `StaticResolver` is a fixed table for tests and benchmarks.
* `GuardedBackend`: an httpcore network backend written directly on asyncio (no anyio, to keep the
  per-request CPU cost low). `connect_tcp` resolves through the Resolver and refuses non-public
  addresses (checker.addresses) before connecting and again on the connected socket's peer.
* `GuardedTransport`: an httpx transport speaking HTTP/1.1 (h11) on those streams, with a tiny
  connection pool per origin, raising httpx exceptions. It replaces httpcore's pool and
  connection classes, whose anyio locks, cancel scopes and tracing (and an `import sniffio` per
  lock) cost more CPU per request than everything else on the fetch path.
* `make_client(config, resolver)`: the `httpx.AsyncClient` that fetch.fetch() receives; fetch()
  sends through its transport directly (`transport.handle_async_request(httpx.Request(...))`).

Test hook: when `CheckerConfig.allow_private_addresses` is on and no resolver is given,
`default_resolver()` reads the environment variable SIGNPOST_TEST_RESOLVE, a JSON object mapping
"host" or "host:port" to "ip:port" (e.g. {"www.ok.test": "127.0.0.1:8080",
"www.ok.test:443": "127.0.0.1:8443"}), so the real CLI can be pointed at a simulated web. Names
missing from it fail to resolve; nothing falls back to real DNS. It is ignored otherwise.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import socket
import ssl
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, Protocol

import h11
import httpcore
import httpx

from checker.addresses import parse_address, refusal_reason
from checker.config import CheckerConfig

TEST_RESOLVE_ENV = "SIGNPOST_TEST_RESOLVE"

Address = tuple[str, int]


# --------------------------------------------------------------------------- errors


class NameResolutionError(httpx.ConnectError):
    """The host name has no address (NXDOMAIN, no records, resolver failure)."""


class AddressRefused(httpx.ConnectError):
    """The address rules refused every address of the host.

    `reason` is a sentence for humans ("refused: www.x.test resolves to loopback address
    127.0.0.1"); `detail` is the same without the leading "refused: ".
    """

    def __init__(self, detail: str) -> None:
        self.detail = detail
        self.reason = f"refused: {detail}"
        super().__init__(self.reason)


class CertificateError(httpx.ConnectError):
    """The server's TLS certificate failed verification; `reason` says why, as OpenSSL put it."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"TLS certificate rejected: {reason}")
        self.reason = reason


# --------------------------------------------------------------------------- resolvers


class Resolver(Protocol):
    async def resolve(self, host: str, port: int) -> list[Address]:
        """Addresses to try for host:port, best first; raise NameResolutionError if none."""
        ...


def _normalize_host(host: str) -> str:
    return host.strip().lower().rstrip(".").removeprefix("[").removesuffix("]")


def _literal_address(host: str) -> str | None:
    try:
        return str(parse_address(host))
    except ValueError:
        return None


class SystemResolver:
    """Resolves with the OS resolver (loop.getaddrinfo), caching answers and failures for the run.

    Concurrent look-ups of one name share a single query. The cache holds at most `max_entries`
    names (oldest dropped first) so a 100,000-URL run stays small.
    """

    def __init__(self, *, max_entries: int = 20_000) -> None:
        # A finished entry holds the addresses, or the failure message (a fresh exception is
        # raised per caller: re-raising one instance would grow its traceback each time).
        self._answers: dict[Address, asyncio.Future[list[Address] | str]] = {}
        self._max_entries = max_entries

    async def resolve(self, host: str, port: int) -> list[Address]:
        host = _normalize_host(host)
        literal = _literal_address(host)
        if literal is not None:
            return [(literal, port)]
        key = (host, port)
        answer = self._answers.get(key)
        if answer is None:
            if len(self._answers) >= self._max_entries:
                del self._answers[next(iter(self._answers))]
            answer = asyncio.ensure_future(self._lookup(host, port))
            self._answers[key] = answer
        # shield: one caller's timeout must not cancel the query other callers wait on
        result = await asyncio.shield(answer)
        if isinstance(result, str):
            raise NameResolutionError(result)
        return list(result)

    @staticmethod
    async def _lookup(host: str, port: int) -> list[Address] | str:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            return f"{host} does not resolve: {exc}"
        addresses: list[Address] = []
        for _family, _type, _proto, _name, sockaddr in infos:
            address = (str(sockaddr[0]), int(sockaddr[1]))
            if address not in addresses:
                addresses.append(address)
        return addresses or f"{host} has no address"


class StaticResolver:
    """A fixed name table, for tests and the benchmark; it never sends a DNS query.

    `mapping` keys are "host" or "host:port" (the more specific wins); values are "ip",
    "ip:port" or (ip, port). A value without a port keeps the URL's port. IP literals resolve to
    themselves. Unknown names raise NameResolutionError unless a `fallback` resolver is given.

    `pretend_public` lists mapping keys whose addresses the address rules treat as public. It
    exists only so tests can let a first hop reach 127.0.0.1 while still proving that every
    other route to a loopback address (literal IP, other names, redirects) is refused.
    """

    def __init__(
        self,
        mapping: Mapping[str, str | Address],
        *,
        pretend_public: Iterable[str] = (),
        fallback: Resolver | None = None,
    ) -> None:
        self._table: dict[str, tuple[str, int | None]] = {
            _normalize_host(key): _parse_target(value) for key, value in mapping.items()
        }
        self._pretend_public = {_normalize_host(key) for key in pretend_public}
        self._fallback = fallback

    @classmethod
    def from_json(cls, text: str) -> StaticResolver:
        mapping = json.loads(text)
        if not isinstance(mapping, dict):
            raise ValueError(f"{TEST_RESOLVE_ENV} must be a JSON object")
        return cls({str(key): str(value) for key, value in mapping.items()})

    def _entry_key(self, host: str, port: int) -> str | None:
        host = _normalize_host(host)
        for key in (f"{host}:{port}", host):
            if key in self._table:
                return key
        return None

    async def resolve(self, host: str, port: int) -> list[Address]:
        literal = _literal_address(_normalize_host(host))
        if literal is not None:
            return [(literal, port)]
        key = self._entry_key(host, port)
        if key is None:
            if self._fallback is not None:
                return await self._fallback.resolve(host, port)
            raise NameResolutionError(f"{_normalize_host(host)} does not resolve (no such name)")
        ip, mapped_port = self._table[key]
        return [(ip, port if mapped_port is None else mapped_port)]

    def pretends_public(self, host: str, port: int) -> bool:
        key = self._entry_key(host, port)
        return key is not None and key in self._pretend_public


def _parse_target(value: str | Address) -> tuple[str, int | None]:
    if isinstance(value, tuple):
        return str(parse_address(value[0])), int(value[1])
    literal = _literal_address(value)
    if literal is not None:
        return literal, None
    ip, _, port = value.rpartition(":")
    return str(parse_address(ip)), int(port)


def default_resolver(config: CheckerConfig) -> Resolver:
    """The OS resolver, or the SIGNPOST_TEST_RESOLVE table when private addresses are allowed."""
    table = os.environ.get(TEST_RESOLVE_ENV)
    if config.allow_private_addresses and table:
        return StaticResolver.from_json(table)
    return SystemResolver()


# --------------------------------------------------------------------------- backend


def _describe_os_error(exc: OSError) -> str:
    if exc.errno:
        return os.strerror(exc.errno).lower()
    return str(exc) or type(exc).__name__


class _StreamProtocol(asyncio.Protocol):
    """Buffers received bytes for AsyncioStream.read(); the flow control a stream needs, no more."""

    # Stop reading from the socket beyond this much unread data: memory stays bounded even
    # when a server floods us faster than the caller consumes.
    HIGH_WATER = 256 * 1024

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.error: BaseException | None = None
        self._reading_paused = False
        self._read_waiter: asyncio.Future[None] | None = None
        self._drain_waiter: asyncio.Future[None] | None = None
        self._writing_paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._wake_reader()
        if not self._reading_paused and len(self.buffer) > self.HIGH_WATER and self.transport:
            self.transport.pause_reading()
            self._reading_paused = True

    def eof_received(self) -> bool:
        self.eof = True
        self._wake_reader()
        return False  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        if exc is not None and self.error is None:
            self.error = exc
        self._wake_reader()
        if self._drain_waiter is not None and not self._drain_waiter.done():
            self._drain_waiter.set_result(None)

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        if self._drain_waiter is not None and not self._drain_waiter.done():
            self._drain_waiter.set_result(None)

    def _wake_reader(self) -> None:
        if self._read_waiter is not None and not self._read_waiter.done():
            self._read_waiter.set_result(None)

    async def wait_readable(self, timeout: float | None) -> None:
        """Wait for data, EOF or an error; TimeoutError after `timeout` seconds without any.

        A bare timer on the waiter costs less than an asyncio.timeout() block per read.
        """
        loop = asyncio.get_running_loop()
        waiter = self._read_waiter = loop.create_future()
        timer = None if timeout is None else loop.call_later(timeout, _expire, waiter)
        try:
            await waiter
        finally:
            self._read_waiter = None
            if timer is not None:
                timer.cancel()

    def take(self, max_bytes: int) -> bytes:
        if len(self.buffer) <= max_bytes:
            data = bytes(self.buffer)
            self.buffer.clear()
        else:
            data = bytes(self.buffer[:max_bytes])
            del self.buffer[:max_bytes]
        if self._reading_paused and len(self.buffer) <= self.HIGH_WATER // 2 and self.transport:
            self.transport.resume_reading()
            self._reading_paused = False
        return data

    async def drain(self) -> None:
        if self._writing_paused and not self.eof:
            self._drain_waiter = asyncio.get_running_loop().create_future()
            try:
                await self._drain_waiter
            finally:
                self._drain_waiter = None


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One TCP (or TLS) connection, as httpcore wants it."""

    def __init__(
        self, transport: asyncio.Transport, protocol: _StreamProtocol, max_header_bytes: int
    ) -> None:
        self._transport = transport
        self._protocol = protocol
        self._max_header_bytes = max_header_bytes
        # Bytes of the current response head seen so far, or None once its end was seen.
        self._head_bytes: int | None = None
        self._head_tail = b""

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self._protocol
        if not protocol.buffer and not protocol.eof:
            try:
                # Only data_received/eof/connection_lost wake the waiter: one wait is enough.
                await protocol.wait_readable(timeout)
            except TimeoutError as exc:
                raise httpcore.ReadTimeout(f"no data for {timeout:g} s") from exc
        if protocol.buffer:
            data = protocol.take(max_bytes)
            if self._head_bytes is not None:
                self._check_head_size(data)
            return data
        if protocol.error is not None:
            raise httpcore.ReadError(_describe_error(protocol.error)) from protocol.error
        return b""

    def _check_head_size(self, data: bytes) -> None:
        """Refuse response heads over max_header_bytes (h11 alone would allow 100 KiB)."""
        assert self._head_bytes is not None
        window = self._head_tail + data
        end = _head_end(window)
        if end >= 0:
            size = self._head_bytes + end - len(self._head_tail)
            self._head_bytes = None  # head complete: the rest is body
        else:
            size = self._head_bytes = self._head_bytes + len(data)
            self._head_tail = window[-3:]
        if size > self._max_header_bytes:
            raise httpcore.RemoteProtocolError(
                f"response headers exceed {self._max_header_bytes} bytes"
            )

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        if self._protocol.eof or self._transport.is_closing():
            error = self._protocol.error
            raise httpcore.WriteError(_describe_error(error) if error else "connection closed")
        # A request is going out: the next bytes read start a new response head.
        self._head_bytes, self._head_tail = 0, b""
        self._transport.write(buffer)
        if self._protocol._writing_paused:   # rare: only when the socket buffer is full
            try:
                async with asyncio.timeout(timeout):
                    await self._protocol.drain()
            except TimeoutError as exc:
                raise httpcore.WriteTimeout(f"could not send for {timeout:g} s") from exc

    def abort(self) -> None:
        """Close at once (synchronous, so it is safe in cancellation and cleanup paths)."""
        # abort(), not close(): a graceful TLS shutdown would keep decrypting an endless body.
        self._transport.abort()

    def is_readable(self) -> bool:
        """Data or EOF waiting on an idle connection: the server closed it or sent junk."""
        return bool(self._protocol.buffer) or self._protocol.eof

    async def aclose(self) -> None:
        self.abort()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> AsyncioStream:
        loop = asyncio.get_running_loop()
        try:
            tls_transport = await loop.start_tls(
                self._transport,
                self._protocol,
                ssl_context,
                server_hostname=server_hostname,
                ssl_handshake_timeout=timeout if timeout and timeout > 0 else None,
            )
        except ssl.SSLCertVerificationError as exc:
            self._transport.abort()
            raise CertificateError(_certificate_reason(exc, server_hostname)) from exc
        except TimeoutError as exc:
            self._transport.abort()
            raise httpcore.ConnectTimeout(f"TLS handshake took over {timeout:g} s") from exc
        except ssl.SSLError as exc:
            self._transport.abort()
            raise httpcore.ConnectError(f"TLS handshake failed: {exc.reason or exc}") from exc
        except OSError as exc:
            self._transport.abort()
            raise httpcore.ConnectError(f"TLS handshake failed: {_describe_error(exc)}") from exc
        if tls_transport is None:  # the peer closed during the handshake
            raise httpcore.ConnectError("connection closed during the TLS handshake")
        assert isinstance(tls_transport, asyncio.Transport)
        self._protocol.transport = tls_transport
        return AsyncioStream(tls_transport, self._protocol, self._max_header_bytes)

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "socket":
            return self._transport.get_extra_info("socket")
        if info == "is_readable":
            # httpcore asks this of idle keep-alive connections: readable means closed or junk.
            return bool(self._protocol.buffer) or self._protocol.eof
        return None


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


def _head_end(data: bytes) -> int:
    """Index just past the blank line ending an HTTP head in `data`, or -1."""
    ends = [i + n for marker, n in ((b"\n\r\n", 3), (b"\n\n", 2)) if (i := data.find(marker)) >= 0]
    return min(ends) if ends else -1


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return _describe_os_error(exc)
    return str(exc) or type(exc).__name__


def _certificate_reason(exc: ssl.SSLCertVerificationError, hostname: str | None) -> str:
    message = exc.verify_message or exc.reason or str(exc)
    # 62 is X509_V_ERR_HOSTNAME_MISMATCH
    if exc.verify_code == 62 or message.lower().startswith("hostname mismatch"):
        return f"certificate is not valid for {hostname}"
    return message


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore backend on plain asyncio that only connects to addresses the rules allow."""

    def __init__(
        self,
        resolver: Resolver,
        *,
        allow_private_addresses: bool = False,
        max_header_bytes: int = 64 * 1024,
    ) -> None:
        self._resolver = resolver
        self._allow_private = allow_private_addresses
        self._max_header_bytes = max_header_bytes

    def _refusal(self, host: str, port: int, ip: str) -> str | None:
        if self._allow_private:
            return None
        resolver = self._resolver
        if isinstance(resolver, StaticResolver) and resolver.pretends_public(host, port):
            return None
        reason = refusal_reason(ip)
        if reason is None:
            return None
        if _literal_address(_normalize_host(host)) is not None:
            return reason
        return f"{host} resolves to {reason}"

    def _allowed(self, host: str, port: int, addresses: list[Address]) -> list[Address]:
        allowed, refusals = [], []
        for ip, ip_port in addresses:
            reason = self._refusal(host, port, ip)
            if reason is None:
                allowed.append((ip, ip_port))
            else:
                refusals.append(reason)
        if not allowed:
            raise AddressRefused(refusals[0] if refusals else f"{host} has no address")
        return allowed

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> AsyncioStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                addresses = self._allowed(host, port, await self._resolver.resolve(host, port))
                last_error: OSError | None = None
                for ip, ip_port in addresses:
                    try:
                        transport, protocol = await loop.create_connection(
                            _StreamProtocol,
                            ip,
                            ip_port,
                            local_addr=(local_address, 0) if local_address else None,
                        )
                        break
                    except OSError as exc:
                        last_error = exc
                else:
                    assert last_error is not None
                    raise httpcore.ConnectError(
                        f"{_describe_os_error(last_error)} ({host}:{port})"
                    ) from last_error
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(
                f"no connection to {host}:{port} within {timeout:g} s"
            ) from exc
        assert isinstance(transport, asyncio.Transport)
        # Check the socket we actually got, not only what DNS said (defence against rebinding
        # and any path that bypasses the resolver).
        peer = transport.get_extra_info("peername")
        reason = self._refusal(host, port, str(peer[0]) if peer else "")
        if reason is not None:
            transport.abort()
            raise AddressRefused(reason)
        for option in socket_options or ():
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(*option)
        return AsyncioStream(transport, protocol, self._max_header_bytes)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not used by the checker")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


# --------------------------------------------------------------------------- transport

_HTTPCORE_TO_HTTPX: dict[type[Exception], type[httpx.TransportError]] = {
    httpcore.TimeoutException: httpx.TimeoutException,
    httpcore.ConnectTimeout: httpx.ConnectTimeout,
    httpcore.ReadTimeout: httpx.ReadTimeout,
    httpcore.WriteTimeout: httpx.WriteTimeout,
    httpcore.PoolTimeout: httpx.PoolTimeout,
    httpcore.NetworkError: httpx.NetworkError,
    httpcore.ConnectError: httpx.ConnectError,
    httpcore.ReadError: httpx.ReadError,
    httpcore.WriteError: httpx.WriteError,
    httpcore.ProxyError: httpx.ProxyError,
    httpcore.UnsupportedProtocol: httpx.UnsupportedProtocol,
    httpcore.ProtocolError: httpx.ProtocolError,
    httpcore.LocalProtocolError: httpx.LocalProtocolError,
    httpcore.RemoteProtocolError: httpx.RemoteProtocolError,
}


def _as_httpx_error(exc: BaseException) -> httpx.TransportError | None:
    """The most specific httpx exception for an httpcore one (None for anything else)."""
    for cls in type(exc).__mro__:
        target = _HTTPCORE_TO_HTTPX.get(cls)
        if target is not None:
            return target(str(exc))
    return None


@contextmanager
def translate_httpcore_errors() -> Iterator[None]:
    """Re-raise httpcore exceptions as the most specific httpx exception (as httpx does)."""
    try:
        yield
    except Exception as exc:
        translated = _as_httpx_error(exc)
        if translated is not None:
            raise translated from exc
        raise


_DEFAULT_PORTS = {b"http": 80, b"https": 443}
READ_NUM_BYTES = 64 * 1024
# h11's own bound on an unfinished event (a head, a chunk-size line), as httpcore sets it. The
# stream's max_header_bytes check is the tighter bound on response heads.
MAX_INCOMPLETE_EVENT_SIZE = 100 * 1024
_NO_TIMEOUTS: dict[str, float | None] = {}
_SERVER_HUNG_UP = "Server disconnected without sending a response."


def _abort_stream(stream: httpcore.AsyncNetworkStream) -> None:
    if isinstance(stream, AsyncioStream):
        stream.abort()
    else:  # pragma: no cover - the checker's backend always gives AsyncioStreams
        asyncio.ensure_future(stream.aclose())


def _stream_is_readable(stream: httpcore.AsyncNetworkStream) -> bool:
    if isinstance(stream, AsyncioStream):
        return stream.is_readable()
    return bool(stream.get_extra_info("is_readable"))  # pragma: no cover


class _Connection:
    """One HTTP/1.1 connection: a network stream and the h11 state machine speaking on it."""

    __slots__ = ("expires_at", "h11", "stream")

    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self.stream = stream
        self.h11 = h11.Connection(
            our_role=h11.CLIENT, max_incomplete_event_size=MAX_INCOMPLETE_EVENT_SIZE
        )
        self.expires_at = math.inf

    def reusable(self, now: float) -> bool:
        """An idle connection may carry another request: not expired, not closed by the server."""
        return now <= self.expires_at and not _stream_is_readable(self.stream)

    async def next_event(self, timeout: float | None) -> Any:
        state = self.h11
        while True:
            try:
                event = state.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc)) from exc
            if event is not h11.NEED_DATA:
                return event
            data = await self.stream.read(READ_NUM_BYTES, timeout)
            if not data and state.their_state is h11.SEND_RESPONSE:
                raise httpx.RemoteProtocolError(_SERVER_HUNG_UP)
            state.receive_data(data)


class _OriginPool:
    """The connections to one origin (scheme, host, port), at most the per-host limit of them."""

    __slots__ = ("active", "idle", "idle_since", "open", "slots", "waiters")

    def __init__(self) -> None:
        self.idle: list[_Connection] = []      # kept alive, most recently used last
        self.open: set[_Connection] = set()    # idle and busy
        self.slots = 0                         # connections open or being opened
        self.waiters: deque[asyncio.Future[_Connection | None]] = deque()
        self.active = 0                        # requests between start and release
        self.idle_since = time.monotonic()


class _ResponseStream(httpx.AsyncByteStream):
    """A response body read straight from the connection; closing it releases the connection
    (kept alive only when the whole response was read)."""

    __slots__ = ("_complete", "_conn", "_pool", "_timeout", "_transport")

    def __init__(
        self, transport: GuardedTransport, pool: _OriginPool, conn: _Connection,
        timeout: float | None,
    ) -> None:
        self._transport = transport
        self._pool = pool
        self._conn: _Connection | None = conn
        self._timeout = timeout
        self._complete = False

    def __aiter__(self) -> _ResponseStream:
        return self

    async def __anext__(self) -> bytes:
        conn = self._conn
        if conn is None or self._complete:
            raise StopAsyncIteration
        try:
            while True:
                event = await conn.next_event(self._timeout)
                kind = type(event)
                if kind is h11.Data:
                    return bytes(event.data)
                if kind is h11.EndOfMessage or event is h11.PAUSED:
                    break
        except BaseException as exc:
            self._release()
            translated = _as_httpx_error(exc)
            if translated is not None:
                raise translated from exc
            raise
        self._complete = True
        raise StopAsyncIteration

    def _release(self) -> None:
        conn = self._conn
        if conn is None:
            return
        self._conn = None
        state = conn.h11
        reusable = state.our_state is h11.DONE and state.their_state is h11.DONE
        if reusable:
            state.start_next_cycle()
        self._transport._release(self._pool, conn, reusable)

    async def aclose(self) -> None:
        self._release()


def make_ssl_context(cafile: str | None = None) -> ssl.SSLContext:
    """A verifying client context: `cafile`, else $SSL_CERT_FILE / $SSL_CERT_DIR, else certifi."""
    if cafile is None:
        cafile = os.environ.get("SSL_CERT_FILE") or None
    capath = None if cafile else os.environ.get("SSL_CERT_DIR") or None
    if cafile is None and capath is None:
        import certifi

        cafile = certifi.where()
    context = ssl.create_default_context(cafile=cafile, capath=capath)
    context.set_alpn_protocols(["http/1.1"])
    return context


class GuardedTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over h11 on a GuardedBackend, with a tiny connection pool per origin.

    Each origin keeps at most `per_host_limit` connections (further requests wait for one, up to
    the pool timeout); a connection is reused only after a complete response and while it is
    neither expired (`keepalive_expiry`) nor closed by the server; any error or unfinished body
    closes it. Origins idle for longer than `keepalive_expiry` are closed and forgotten, so open
    sockets and memory follow the hosts in use, not the hosts seen.

    This replaces httpcore's pool and connection classes, whose locks, cancel scopes and tracing
    cost more CPU per request than the rest of the fetch path together; the network backend, the
    stream and the exceptions stay httpcore's, and the HTTP parsing stays h11's.
    """

    SWEEP_EVERY_S = 1.0

    def __init__(
        self,
        backend: GuardedBackend,
        *,
        ssl_context: ssl.SSLContext,
        per_host_limit: int,
        keepalive_expiry: float = 5.0,
    ) -> None:
        self._backend = backend
        self._ssl_context = ssl_context
        self._per_host_limit = max(1, per_host_limit)
        self._keepalive_expiry = keepalive_expiry
        self._pools: dict[tuple[bytes, bytes, int | None], _OriginPool] = {}
        self._last_sweep = time.monotonic()

    @property
    def pool_count(self) -> int:
        return len(self._pools)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.raw_scheme
        if scheme not in _DEFAULT_PORTS:
            if not scheme:
                raise httpx.UnsupportedProtocol(
                    "Request URL is missing an 'http://' or 'https://' protocol."
                )
            raise httpx.UnsupportedProtocol(
                f"Request URL has an unsupported protocol '{scheme.decode('ascii', 'replace')}://'."
            )
        key = (scheme, url.raw_host, url.port)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = _OriginPool()
        timeouts = request.extensions.get("timeout") or _NO_TIMEOUTS
        pool.active += 1
        conn: _Connection | None = None
        try:
            conn = await self._acquire(pool, request, timeouts)
            head = await self._send(conn, request, timeouts)
        except BaseException as exc:
            if conn is not None:
                self._release(pool, conn, False)
            else:
                self._request_done(pool)
            translated = _as_httpx_error(exc)
            if translated is not None:
                raise translated from exc
            raise
        return httpx.Response(
            head.status_code,
            headers=head.headers.raw_items(),
            stream=_ResponseStream(self, pool, conn, timeouts.get("read")),
            request=request,
            extensions={
                "http_version": b"HTTP/" + head.http_version,
                "reason_phrase": head.reason,
                "network_stream": conn.stream,
            },
        )

    # ---- sending

    async def _send(
        self, conn: _Connection, request: httpx.Request, timeouts: Mapping[str, float | None]
    ) -> h11.Response:
        """Send the request and read the response head (1xx responses are skipped)."""
        state = conn.h11
        body = request.stream
        try:
            parts = [state.send(h11.Request(
                method=request.method, target=request.url.raw_path, headers=request.headers.raw
            ))]
            if isinstance(body, httpx.ByteStream):
                content = b"".join(body)
                if content:
                    parts.append(state.send(h11.Data(data=content)))
            else:
                assert isinstance(body, httpx.AsyncByteStream)
                async for chunk in body:
                    if chunk:
                        parts.append(state.send(h11.Data(data=chunk)))
            parts.append(state.send(h11.EndOfMessage()))
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc)) from exc
        try:
            await conn.stream.write(b"".join(p for p in parts if p), timeouts.get("write"))
        except httpcore.WriteError:
            # The server may have answered early and closed: read what it sent, as httpcore does.
            pass
        read_timeout = timeouts.get("read")
        while True:
            event = await conn.next_event(read_timeout)
            if type(event) is h11.Response:
                return event
            if not isinstance(event, h11.InformationalResponse):  # pragma: no cover
                raise httpx.RemoteProtocolError(f"unexpected {type(event).__name__} before a response")

    # ---- connections

    async def _acquire(
        self, pool: _OriginPool, request: httpx.Request, timeouts: Mapping[str, float | None]
    ) -> _Connection:
        idle = pool.idle
        if idle:
            now = time.monotonic()
            while idle:
                conn = idle.pop()
                if conn.reusable(now):
                    return conn
                self._discard(pool, conn)
                pool.slots -= 1
        if pool.slots < self._per_host_limit:
            pool.slots += 1
        else:
            handed = await self._wait_for_connection(pool, timeouts.get("pool"))
            if handed is not None:
                return handed
            # else a slot was handed over to us: open a connection in it
        try:
            stream = await self._open_stream(request, timeouts.get("connect"))
        except BaseException:
            self._hand_over(pool, None)
            raise
        conn = _Connection(stream)
        pool.open.add(conn)
        return conn

    async def _wait_for_connection(
        self, pool: _OriginPool, timeout: float | None
    ) -> _Connection | None:
        """Wait until a request releases its connection (given to us) or its slot (None)."""
        waiter: asyncio.Future[_Connection | None] = asyncio.get_running_loop().create_future()
        pool.waiters.append(waiter)
        try:
            if timeout is None:
                return await waiter
            async with asyncio.timeout(timeout):
                return await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                self._hand_over(pool, waiter.result())   # we got one but are leaving: pass it on
            else:
                waiter.cancel()
                try:
                    pool.waiters.remove(waiter)
                except ValueError:
                    pass
            if isinstance(exc, TimeoutError):
                raise httpcore.PoolTimeout(f"no free connection within {timeout:g} s") from exc
            raise

    async def _open_stream(
        self, request: httpx.Request, timeout: float | None
    ) -> httpcore.AsyncNetworkStream:
        url = request.url
        host = url.raw_host.decode("ascii")
        port = url.port or _DEFAULT_PORTS[url.raw_scheme]
        stream = await self._backend.connect_tcp(host, port, timeout=timeout)
        if url.raw_scheme == b"https":
            server_hostname = request.extensions.get("sni_hostname") or host
            try:
                stream = await stream.start_tls(
                    self._ssl_context, server_hostname=server_hostname, timeout=timeout
                )
            except BaseException:
                _abort_stream(stream)
                raise
        return stream

    def _hand_over(self, pool: _OriginPool, conn: _Connection | None) -> None:
        """Give a free connection (or, with None, a free slot) to the first waiter, if any."""
        waiters = pool.waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        if conn is None:
            pool.slots -= 1
        else:
            conn.expires_at = time.monotonic() + self._keepalive_expiry
            pool.idle.append(conn)

    def _discard(self, pool: _OriginPool, conn: _Connection) -> None:
        _abort_stream(conn.stream)
        pool.open.discard(conn)

    def _release(self, pool: _OriginPool, conn: _Connection, reusable: bool) -> None:
        """A request is over: keep its connection for the next one, or close it."""
        if reusable:
            self._hand_over(pool, conn)
        else:
            self._discard(pool, conn)
            self._hand_over(pool, None)
        self._request_done(pool)

    def _request_done(self, pool: _OriginPool) -> None:
        pool.active -= 1
        now = time.monotonic()
        if pool.active == 0:
            pool.idle_since = now
        if now - self._last_sweep >= self.SWEEP_EVERY_S:
            self._last_sweep = now
            self._sweep(now)

    def _sweep(self, now: float) -> None:
        """Forget origins idle for longer than keepalive_expiry; close expired idle connections."""
        expiry = self._keepalive_expiry
        for key, pool in list(self._pools.items()):
            if pool.active == 0 and now - pool.idle_since > expiry:
                del self._pools[key]
                for conn in pool.open:
                    _abort_stream(conn.stream)
                pool.open.clear()
                pool.idle.clear()
            elif pool.idle:
                keep = []
                for conn in pool.idle:
                    if conn.expires_at < now:
                        self._discard(pool, conn)
                        pool.slots -= 1
                    else:
                        keep.append(conn)
                pool.idle[:] = keep

    async def aclose(self) -> None:
        pools, self._pools = self._pools, {}
        for pool in pools.values():
            for conn in pool.open:
                _abort_stream(conn.stream)
            pool.open.clear()
            pool.idle.clear()


def _client_timeout(config: CheckerConfig) -> httpx.Timeout:
    return httpx.Timeout(
        connect=config.connect_timeout_s,
        read=config.read_timeout_s,
        write=config.read_timeout_s,
        pool=config.total_timeout_s,
    )


def make_client(
    config: CheckerConfig,
    resolver: Resolver | None = None,
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> httpx.AsyncClient:
    """The checker's HTTP client: guarded connections, no automatic redirects, no shared cookies.

    Cookies are never kept by the client (its jar refuses them all); fetch() keeps a jar per
    URL so that cookies set during one redirect chain are replayed within that chain only.
    `trust_env=False` so that proxy variables cannot route requests around the address guard.
    """
    backend = GuardedBackend(
        resolver if resolver is not None else default_resolver(config),
        allow_private_addresses=config.allow_private_addresses,
        max_header_bytes=config.max_header_bytes,
    )
    transport = GuardedTransport(
        backend,
        ssl_context=ssl_context if ssl_context is not None else make_ssl_context(),
        per_host_limit=config.per_host_limit,
    )
    return httpx.AsyncClient(
        transport=transport,
        follow_redirects=False,
        timeout=_client_timeout(config),
        headers={
            "User-Agent": config.user_agent,
            "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            "Accept-Encoding": "gzip, deflate",
        },
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),  # a jar that refuses all
        trust_env=False,
    )
