"""The checker's connection layer: name resolution, the address guard, and an httpx client on it.

Layers, bottom up:

* `Resolver`: host name -> addresses. `SystemResolver` asks the OS (cached for the run);
  `StaticResolver` is a fixed table for tests and benchmarks.
* `GuardedBackend`: an httpcore network backend written directly on asyncio (no anyio, to keep the
  per-request CPU cost low). `connect_tcp` resolves through the Resolver and refuses non-public
  addresses (checker.addresses) before connecting and again on the connected socket's peer.
* `GuardedTransport`: an httpx transport keeping one tiny httpcore pool per origin, translating
  httpcore exceptions into httpx ones.
* `make_client(config, resolver)`: the `httpx.AsyncClient` that fetch.fetch() receives.

Test hook: when `CheckerConfig.allow_private_addresses` is on and no resolver is given,
`default_resolver()` reads the environment variable SIGNPOST_TEST_RESOLVE, a JSON object mapping
"host" or "host:port" to "ip:port" (e.g. {"www.ok.test": "127.0.0.1:8080",
"www.ok.test:443": "127.0.0.1:8443"}), so the real CLI can be pointed at a simulated web. Names
missing from it fail to resolve; nothing falls back to real DNS. It is ignored otherwise.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import socket
import ssl
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

import httpcore
import httpx

from checker.addresses import parse_address, refusal_reason
from checker.config import CheckerConfig

TEST_RESOLVE_ENV = "SIGNPOST_TEST_RESOLVE"

# httpcore runs `import sniffio` each time it creates a lock or event (several per request).
# When sniffio is not installed, every such import walks sys.path and costs ~0.3 ms; recording
# the absence in sys.modules makes the import fail at once (httpcore then assumes asyncio).
if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
    sys.modules["sniffio"] = None  # type: ignore[assignment]

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

    async def wait_readable(self) -> None:
        self._read_waiter = asyncio.get_running_loop().create_future()
        try:
            await self._read_waiter
        finally:
            self._read_waiter = None

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
                async with asyncio.timeout(timeout):
                    while not protocol.buffer and not protocol.eof:
                        await protocol.wait_readable()
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
        try:
            async with asyncio.timeout(timeout):
                await self._protocol.drain()
        except TimeoutError as exc:
            raise httpcore.WriteTimeout(f"could not send for {timeout:g} s") from exc

    async def aclose(self) -> None:
        # abort(), not close(): a graceful TLS shutdown would keep decrypting an endless body.
        self._transport.abort()

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


@contextmanager
def translate_httpcore_errors() -> Iterator[None]:
    """Re-raise httpcore exceptions as the most specific httpx exception (as httpx does)."""
    try:
        yield
    except Exception as exc:
        for cls in type(exc).__mro__:
            target = _HTTPCORE_TO_HTTPX.get(cls)
            if target is not None:
                raise target(str(exc)) from exc
        raise


class _PoolEntry:
    __slots__ = ("pool", "active", "idle_since")

    def __init__(self, pool: httpcore.AsyncConnectionPool) -> None:
        self.pool = pool
        self.active = 0
        self.idle_since = 0.0


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, stream: Any, on_close: Any) -> None:
        self._stream = stream
        self._on_close = on_close
        self._closed = False

    async def __aiter__(self) -> Any:
        with translate_httpcore_errors():
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            with translate_httpcore_errors():
                await self._stream.aclose()
        finally:
            await self._on_close()


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
    """One small httpcore pool per origin, all on a GuardedBackend.

    Per-origin pools keep each pool's bookkeeping O(per-host limit) instead of O(all
    connections). Pools idle for longer than `keepalive_expiry` are closed and forgotten, so
    open sockets and memory follow the hosts in use, not the hosts seen.
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
        self._per_host_limit = per_host_limit
        self._keepalive_expiry = keepalive_expiry
        self._pools: dict[tuple[bytes, bytes, int | None], _PoolEntry] = {}
        self._last_sweep = time.monotonic()

    @property
    def pool_count(self) -> int:
        return len(self._pools)

    def _entry(self, key: tuple[bytes, bytes, int | None]) -> _PoolEntry:
        entry = self._pools.get(key)
        if entry is None:
            entry = _PoolEntry(
                httpcore.AsyncConnectionPool(
                    ssl_context=self._ssl_context,
                    max_connections=self._per_host_limit,
                    max_keepalive_connections=self._per_host_limit,
                    keepalive_expiry=self._keepalive_expiry,
                    http1=True,
                    http2=False,
                    retries=0,
                    network_backend=self._backend,
                )
            )
            self._pools[key] = entry
        return entry

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        url = request.url
        key = (url.raw_scheme, url.raw_host, url.port)
        entry = self._entry(key)
        entry.active += 1
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            with translate_httpcore_errors():
                core_response = await entry.pool.handle_async_request(core_request)
        except BaseException:
            await self._release(entry)
            raise

        async def on_close() -> None:
            await self._release(entry)

        return httpx.Response(
            status_code=core_response.status,
            headers=core_response.headers,
            stream=_ResponseStream(core_response.stream, on_close),
            extensions=core_response.extensions,
        )

    async def _release(self, entry: _PoolEntry) -> None:
        entry.active -= 1
        now = time.monotonic()
        if entry.active == 0:
            entry.idle_since = now
        if now - self._last_sweep >= self.SWEEP_EVERY_S:
            self._last_sweep = now
            await self._close_idle_pools(now)

    async def _close_idle_pools(self, now: float) -> None:
        stale = [
            key
            for key, entry in self._pools.items()
            if entry.active == 0 and now - entry.idle_since > self._keepalive_expiry
        ]
        for key in stale:
            entry = self._pools.pop(key)
            await entry.pool.aclose()

    async def aclose(self) -> None:
        pools, self._pools = self._pools, {}
        for entry in pools.values():
            await entry.pool.aclose()


# httpx parses Location even when it does not follow redirects, and raises on a malformed one
# before returning the response. This hook keeps (status, headers) on the request, so fetch()
# can still record that hop and call it a bad redirect.
SEEN_RESPONSE_EXTENSION = "signpost.seen_response"


async def _remember_response(response: httpx.Response) -> None:
    response.request.extensions[SEEN_RESPONSE_EXTENSION] = (response.status_code, response.headers)


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
    from http.cookiejar import CookieJar, DefaultCookiePolicy

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
        event_hooks={"response": [_remember_response]},
    )
