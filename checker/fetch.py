"""The fetch stage: one URL in, one FetchTrace out, whatever the server or the network does.

fetch() sends GET requests (never HEAD, which too many servers answer differently), follows
redirects one hop at a time so every hop is recorded and goes through the address guard and the
host's politeness slot, retries transient failures with backoff and Retry-After, and reads at
most a capped, self-decoded part of the final body.

This module and checker.network are the only ones that import httpx/httpcore exception classes;
everything past here sees `Cause` values and human `error` strings.
"""

from __future__ import annotations

import asyncio
import codecs
import re
import ssl
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone

import httpx

from checker.config import CheckerConfig
from checker.network import AddressRefused, CertificateError, NameResolutionError
from checker.outcome import Cause, FetchTrace, Hop
from checker.politeness import HostPool, backoff_delay, parse_retry_after

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
REDIRECT_DRAIN_BYTES = 16 * 1024   # read a small redirect body so the connection can be reused
FALLBACK_ENCODING = "windows-1252"  # what browsers assume for legacy pages that are not UTF-8

_TEXTUAL_TYPES = frozenset({
    "application/xhtml+xml", "application/xml", "application/json", "application/javascript",
    "application/ld+json", "application/rss+xml", "application/atom+xml",
})
# WHATWG Encoding Standard: these labels mean windows-1252 in HTML.
_WINDOWS_1252_ALIASES = frozenset(
    {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "ascii", "us-ascii"}
)
_META_CHARSET = re.compile(
    rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.IGNORECASE
)
META_SNIFF_BYTES = 4096


def _is_transient_status(status: int) -> bool:
    return status == 429 or status == 408 or 500 <= status <= 599


@dataclass
class _Attempt:
    """One request's result: a response (possibly cut short) and/or a failure."""

    url: httpx.URL
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    location: str | None = None
    body: bytes = b""
    truncated: bool = False
    elapsed_ms: int = 0
    cause: Cause | None = None
    error: str | None = None
    transient: bool = False
    retry_after_s: float | None = None
    tls_expires_at: str | None = None

    @property
    def is_redirect(self) -> bool:
        return self.cause is None and self.status in REDIRECT_STATUSES


# --------------------------------------------------------------------------- entry point


async def fetch(
    url: str, *, client: httpx.AsyncClient, hosts: HostPool, config: CheckerConfig
) -> FetchTrace:
    """Fetch `url` and describe what happened. Never raises for server or network behaviour."""
    started = time.monotonic()
    trace = FetchTrace(url=url, attempts=0)
    try:
        # Each request has its own timeouts; this bounds the whole chain, retries, back-off and
        # Retry-After waits included, so no server can hold one URL for long.
        async with asyncio.timeout(config.url_deadline_s):
            await _follow(url, trace, client, hosts, config)
    except TimeoutError:
        _fail(trace, Cause.TIMEOUT, f"gave up after {config.url_deadline_s:g} s "
                                    "(redirects, retries and waits included)")
    finally:
        trace.elapsed_ms = _ms_since(started)
    return trace


def _certificate_expiry(response: httpx.Response) -> str | None:
    """notAfter of the (verified) certificate the server presented, as an ISO date-time."""
    stream = response.extensions.get("network_stream")
    ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
    certificate = ssl_object.getpeercert() if ssl_object is not None else None
    not_after = certificate.get("notAfter") if certificate else None
    if not not_after:
        return None
    seconds = ssl.cert_time_to_seconds(not_after)
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat()


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _fail(trace: FetchTrace, cause: Cause, error: str) -> None:
    trace.cause, trace.error = cause, error


def _parse_start_url(url: str) -> httpx.URL | str:
    """The URL to request, or a sentence saying why it cannot be checked."""
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        return f"invalid URL: {exc}"
    if parsed.scheme not in ("http", "https"):
        if not parsed.scheme:
            return "URL has no scheme"
        return f"unsupported scheme {parsed.scheme!r}: only http and https are checked"
    if not _valid_host(parsed):
        return f"URL has no valid host: {parsed.host!r}" if parsed.host else "URL has no host"
    return parsed


_LABEL = r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?"
_HOSTNAME = re.compile(rf"^{_LABEL}(\.{_LABEL})*\.?$")


def _valid_host(url: httpx.URL) -> bool:
    """A DNS name (IDNA-encoded) or an IP literal; httpx lets through hosts like '%5bbad'."""
    host = url.raw_host.decode("ascii", errors="replace").lower()
    if not host:
        return False
    if ":" in host:   # IPv6 literal (httpx has already validated it)
        return True
    return _HOSTNAME.match(host) is not None


class _Chain:
    """What the requests of one fetch() share: the client (whose transport they go to directly),
    its headers and timeouts, and the chain's cookie jar (created once a response sets a cookie)."""

    __slots__ = ("add_host", "client", "extensions", "headers", "jar")

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.headers = client.headers.raw
        self.add_host = "host" not in client.headers
        self.extensions = {"timeout": client.timeout.as_dict()}
        self.jar: httpx.Cookies | None = None

    def request(self, url: httpx.URL) -> httpx.Request:
        """A GET with the client's headers, as AsyncClient.build_request would make it, without
        re-merging the URL or encoding and reading an empty body."""
        headers = [(b"Host", url.netloc), *self.headers] if self.add_host else self.headers
        return httpx.Request(
            "GET", url, headers=headers, stream=_NO_BODY, extensions=self.extensions
        )


_NO_BODY = httpx.ByteStream(b"")


async def _follow(
    url: str,
    trace: FetchTrace,
    client: httpx.AsyncClient,
    hosts: HostPool,
    config: CheckerConfig,
) -> None:
    start = _parse_start_url(url)
    if isinstance(start, str):
        _fail(trace, Cause.BAD_URL, start)
        return
    current = start
    # Cookies live for one chain only: some sites set one and redirect to themselves.
    chain = _Chain(client)
    seen: set[tuple[str, frozenset[tuple[str, str]]]] = set()
    redirects = 0
    while True:
        page = current.copy_with(fragment=None) if current.fragment else current
        jar = chain.jar
        visit = (str(page), frozenset(jar.items()) if jar else frozenset())
        if visit in seen:
            _fail(trace, Cause.REDIRECT_LOOP, f"redirect loop: {current} was already visited")
            return
        seen.add(visit)
        trace.final_url = str(current)

        attempt = await _with_retries(current, chain, trace, hosts, config)
        if attempt.status is not None:
            hop = Hop(str(current), attempt.status, attempt.location, attempt.elapsed_ms)
            trace.hops.append(hop)
        if not attempt.is_redirect:
            _record_final(trace, attempt)
            return

        target = _redirect_target(current, attempt)
        if isinstance(target, str):
            _fail(trace, Cause.BAD_REDIRECT, target)
            _record_response(trace, attempt)
            return
        redirects += 1
        if redirects > config.max_redirects:
            _fail(trace, Cause.TOO_MANY_REDIRECTS, f"more than {config.max_redirects} redirects")
            _record_response(trace, attempt)
            return
        current = target


def _redirect_target(current: httpx.URL, attempt: _Attempt) -> httpx.URL | str:
    """Where a redirect points, or a sentence saying why it cannot be followed."""
    location = attempt.headers.get("location", "").strip()
    if not location:
        return f"{attempt.status} redirect without a Location header"
    try:
        target = current.join(location)
    except (httpx.InvalidURL, ValueError) as exc:
        return f"{attempt.status} redirect to an invalid Location {location!r}: {exc}"
    if target.scheme not in ("http", "https"):
        return f"{attempt.status} redirect to a non-http(s) Location {location!r}"
    if not _valid_host(target):
        return f"{attempt.status} redirect to an invalid Location {location!r}: bad host"
    return target


def _record_response(trace: FetchTrace, attempt: _Attempt) -> None:
    if attempt.status is None:
        return
    trace.status_code = attempt.status
    trace.headers = attempt.headers
    mime, _params = _parse_content_type(attempt.headers.get("content-type"))
    trace.content_type = mime


def _record_final(trace: FetchTrace, attempt: _Attempt) -> None:
    _record_response(trace, attempt)
    trace.body = attempt.body
    trace.truncated = attempt.truncated
    trace.tls_expires_at = attempt.tls_expires_at
    if attempt.status is not None:
        content_type = attempt.headers.get("content-type")
        trace.text = decode_text(attempt.body, content_type, attempt.truncated)
    if attempt.cause is not None:
        _fail(trace, attempt.cause, attempt.error or str(attempt.cause))


# --------------------------------------------------------------------------- retries


async def _with_retries(
    url: httpx.URL,
    chain: _Chain,
    trace: FetchTrace,
    hosts: HostPool,
    config: CheckerConfig,
) -> _Attempt:
    """One hop: the request, repeated while the failure is transient and retries remain.

    Only the last attempt's response becomes a hop. A Retry-After defers the whole host (so
    other URLs on it wait too); without one, this hop sleeps a jittered backoff. Slots are not
    held while waiting.
    """
    host = url.host
    for retry in range(config.retries + 1):
        attempt = await _send_once(url, chain, trace, hosts, config)
        if attempt.retry_after_s is not None:
            trace.retry_after_s = attempt.retry_after_s
        if not attempt.transient or retry == config.retries:
            return attempt
        if attempt.retry_after_s is not None:
            if attempt.retry_after_s > config.retry_after_cap_s:
                hosts.defer(host, config.retry_after_cap_s)
                return attempt   # too long for this run: report, the next run will retry
            hosts.defer(host, attempt.retry_after_s)
        else:
            await asyncio.sleep(
                backoff_delay(retry, base_s=config.backoff_base_s, cap_s=config.backoff_max_s)
            )
    raise AssertionError("unreachable")  # pragma: no cover


async def _send_once(
    url: httpx.URL,
    chain: _Chain,
    trace: FetchTrace,
    hosts: HostPool,
    config: CheckerConfig,
) -> _Attempt:
    attempt = _Attempt(url)
    async with hosts.slot(url.host):
        started = time.monotonic()
        trace.attempts += 1
        try:
            async with asyncio.timeout(config.total_timeout_s):
                await _exchange(attempt, chain, trace, config)
        except TimeoutError:
            error = f"no complete response within {config.total_timeout_s:g} s"
            _describe_failure(attempt, Cause.TIMEOUT, error, True)
        except httpx.HTTPError as exc:
            _classify_exception(attempt, exc)
        except httpx.InvalidURL as exc:
            _describe_failure(attempt, Cause.BAD_URL, f"invalid URL: {exc}", False)
        except zlib.error as exc:
            _describe_failure(attempt, Cause.PROTOCOL, f"body could not be decoded: {exc}", False)
        attempt.elapsed_ms = _ms_since(started)
    return attempt


async def _exchange(
    attempt: _Attempt,
    chain: _Chain,
    trace: FetchTrace,
    config: CheckerConfig,
) -> None:
    """Send one GET and read its (capped) body into `attempt`.

    The request goes straight to the client's transport: AsyncClient.send's auth, redirect,
    cookie and event-hook layers do nothing for the checker (redirects and cookies are handled
    here, per chain) but cost more CPU than the request itself.
    """
    url = attempt.url
    request = chain.request(url)
    jar = chain.jar
    if jar:   # building the cookie header is not free; most chains never set a cookie
        jar.set_cookie_header(request)
    transport = chain.client._transport_for_url(url)   # httpx's own lookup (mounts, else default)
    response = await transport.handle_async_request(request)
    try:
        response.request = request
        attempt.status = status = response.status_code
        if url.scheme == "https":
            attempt.tls_expires_at = _certificate_expiry(response)
        attempt.headers = headers = {
            name.lower(): value for name, value in response.headers.items()
        }
        if "set-cookie" in headers:
            if jar is None:
                jar = chain.jar = httpx.Cookies()
            jar.extract_cookies(response)
        if status in REDIRECT_STATUSES:
            attempt.location = _absolute_location(url, headers.get("location"))
            await _drain(response, trace)
        else:
            attempt.body, attempt.truncated = await _read_body(response, headers, trace, config)
        if _is_transient_status(status):
            attempt.transient = True
            retry_after = headers.get("retry-after")
            attempt.retry_after_s = parse_retry_after(retry_after, time.time())
    finally:
        await response.aclose()


def _absolute_location(url: httpx.URL, location: str | None) -> str | None:
    if location is None:
        return None
    try:
        return str(url.join(location.strip()))
    except (httpx.InvalidURL, ValueError):
        return location


async def _drain(response: httpx.Response, trace: FetchTrace) -> None:
    received = 0
    async for chunk in response.stream:   # raw bytes: a redirect body is never decoded
        received += len(chunk)
        trace.bytes_read += len(chunk)
        if received >= REDIRECT_DRAIN_BYTES:
            return


# --------------------------------------------------------------------------- failures


def _describe_failure(attempt: _Attempt, cause: Cause, error: str, transient: bool) -> None:
    attempt.cause, attempt.error, attempt.transient = cause, error, transient


def _ssl_error_in_chain(exc: BaseException) -> ssl.SSLError | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _classify_exception(attempt: _Attempt, exc: httpx.HTTPError) -> None:
    """Map an httpx exception to a Cause, a human sentence, and whether a retry may help."""
    text = str(exc) or type(exc).__name__
    host = attempt.url.host
    if isinstance(exc, AddressRefused):
        _describe_failure(attempt, Cause.PRIVATE_ADDRESS, exc.detail, False)
    elif isinstance(exc, NameResolutionError):
        _describe_failure(attempt, Cause.DNS, text, False)
    elif isinstance(exc, CertificateError):
        _describe_failure(attempt, Cause.TLS, f"{exc.reason} ({host})", False)
    elif isinstance(exc, httpx.ConnectTimeout):
        _describe_failure(attempt, Cause.TIMEOUT, f"connect timeout: {text}", True)
    elif isinstance(exc, httpx.ReadTimeout):
        _describe_failure(attempt, Cause.TIMEOUT, f"read timeout: {text}", True)
    elif isinstance(exc, httpx.TimeoutException):
        _describe_failure(attempt, Cause.TIMEOUT, f"timeout: {text}", True)
    elif isinstance(exc, httpx.ConnectError):
        ssl_error = _ssl_error_in_chain(exc)
        if ssl_error is not None:
            _describe_failure(attempt, Cause.TLS, f"{text} ({host})", False)
        else:
            _describe_failure(attempt, Cause.CONNECT, text, False)
    elif isinstance(exc, httpx.RemoteProtocolError):
        # A server that hangs up without answering is often overloaded: worth one more try.
        hung_up = "without sending a response" in text or "disconnected" in text.lower()
        error = f"malformed or missing response: {text}"
        _describe_failure(attempt, Cause.PROTOCOL, error, hung_up)
    elif isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        _describe_failure(attempt, Cause.BAD_URL, text, False)
    elif isinstance(exc, httpx.ProtocolError):
        _describe_failure(attempt, Cause.PROTOCOL, text, False)
    elif isinstance(exc, httpx.NetworkError):   # read/write errors: connection reset mid-way
        _describe_failure(attempt, Cause.PROTOCOL, f"connection lost: {text}", True)
    else:
        _describe_failure(attempt, Cause.CONNECT, text, False)


# --------------------------------------------------------------------------- body


class _Decompressor:
    """Incremental gzip/deflate decoding that never produces more than asked for."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._first = True
        self._obj = self._new()

    def _new(self, raw_deflate: bool = False) -> zlib._Decompress:
        if self.encoding in ("gzip", "x-gzip"):
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        return zlib.decompressobj(-zlib.MAX_WBITS if raw_deflate else zlib.MAX_WBITS)

    def feed(self, data: bytes, max_length: int) -> bytes:
        """Decode `data`; returns at most `max_length` bytes (the rest is abandoned)."""
        try:
            out = self._obj.decompress(data, max_length)
        except zlib.error:
            if not (self._first and self.encoding == "deflate"):
                raise
            # Some servers send raw deflate without the zlib header.
            self._obj = self._new(raw_deflate=True)
            out = self._obj.decompress(data, max_length)
        self._first = False
        return out


async def _read_body(
    response: httpx.Response, headers: dict[str, str], trace: FetchTrace, config: CheckerConfig
) -> tuple[bytes, bool]:
    """Read at most max_body_bytes from the wire and max_decoded_bytes after decoding.

    Returns (decoded body, truncated). Bytes are read raw and decoded here: httpx would
    decode without bounds, which a decompression bomb turns into gigabytes.
    """
    encoding = headers.get("content-encoding", "").strip().lower()
    decompressor = _Decompressor(encoding) if encoding in ("gzip", "x-gzip", "deflate") else None
    raw_cap = config.max_body_bytes
    decoded_cap = config.max_decoded_bytes
    if decompressor is None:   # identity: the decoded body is the raw body
        decoded_cap = min(raw_cap, decoded_cap)
    parts: list[bytes] = []
    raw_size = decoded_size = 0
    async for chunk in response.stream:   # raw bytes, decoded below within the caps
        trace.bytes_read += len(chunk)
        if raw_size >= raw_cap:
            return b"".join(parts), True
        chunk = chunk[: raw_cap - raw_size]
        raw_size += len(chunk)
        piece = decompressor.feed(chunk, decoded_cap - decoded_size + 1) if decompressor else chunk
        if decoded_size + len(piece) > decoded_cap:
            parts.append(piece[: decoded_cap - decoded_size])
            return b"".join(parts), True
        parts.append(piece)
        decoded_size += len(piece)
    return b"".join(parts), False


# --------------------------------------------------------------------------- text


def _parse_content_type(value: str | None) -> tuple[str | None, dict[str, str]]:
    if not value:
        return None, {}
    mime, *params = value.split(";")
    parsed = {}
    for param in params:
        name, _, param_value = param.partition("=")
        parsed[name.strip().lower()] = param_value.strip().strip("\"'")
    return mime.strip().lower() or None, parsed


def _is_textual(mime: str | None) -> bool:
    return (
        mime is None
        or mime.startswith("text/")
        or mime in _TEXTUAL_TYPES
        or mime.endswith(("+xml", "+json"))
    )


def _codec_name(label: str | None) -> str | None:
    """A Python codec for a charset label, or None if unknown."""
    if not label:
        return None
    label = label.strip().lower()
    if label in _WINDOWS_1252_ALIASES:
        return FALLBACK_ENCODING
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _sniff_bom(body: bytes) -> str | None:
    if body.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return None


def _sniff_meta(body: bytes) -> str | None:
    match = _META_CHARSET.search(body[:META_SNIFF_BYTES])
    return _codec_name(match.group(1).decode("ascii")) if match else None


def decode_text(body: bytes, content_type: str | None, truncated: bool = False) -> str | None:
    """The body as text for textual types: header charset, else BOM, else <meta>, else UTF-8
    if valid, else windows-1252. None for non-textual types (images, PDFs...)."""
    mime, params = _parse_content_type(content_type)
    if not _is_textual(mime):
        return None
    encoding = _sniff_bom(body) or _codec_name(params.get("charset")) or _sniff_meta(body)
    if encoding is not None:
        return body.decode(encoding, errors="replace")
    try:
        # final=False when truncated: a character cut at the cap is not a sign of a legacy page
        return codecs.getincrementaldecoder("utf-8")("strict").decode(body, final=not truncated)
    except UnicodeDecodeError:
        return body.decode(FALLBACK_ENCODING, errors="replace")
