"""URL rules shared by validation, import and the checker: what a website URL may be, and
which URLs belong to the same site."""

from __future__ import annotations

from functools import cache
from urllib.parse import urlsplit, urlunsplit

import tldextract

# The public-suffix snapshot bundled with tldextract; never fetched at run time.
_extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


class BadURL(ValueError):
    """A URL a website field or the checker cannot accept; the message says why."""


def check_website_url(url: str) -> str:
    """Return the URL unchanged if it is an absolute http(s) URL with a real host name, else raise BadURL."""
    if not isinstance(url, str) or not url.strip():
        raise BadURL("empty URL")
    if url != url.strip() or any(ch.isspace() for ch in url):
        raise BadURL("URL contains spaces")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise BadURL(f"malformed URL ({e})") from None
    if parts.scheme not in ("http", "https"):
        raise BadURL(f"scheme {parts.scheme or '(none)'!r} is not http or https")
    host = parts.hostname
    if not host:
        raise BadURL("URL has no host name")
    if parts.username or parts.password:
        raise BadURL("URL carries a user name or password")
    if port is not None and not 0 < port < 65536:
        raise BadURL(f"port {port} is out of range")
    return url


def normalize(url: str) -> str:
    """Canonical form for comparing and storing: lower-case scheme and host, no default port,
    no fragment, '/' for an empty path. Query strings are kept (they can matter)."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().rstrip(".")
    try:
        host = host.encode("idna").decode("ascii") if host and not host.isascii() else host
    except UnicodeError:
        pass
    port = parts.port
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    netloc = host if port in (None, default) else f"{host}:{port}"
    if ":" in host and not host.startswith("["):  # IPv6 literal
        netloc = f"[{host}]" if port in (None, default) else f"[{host}]:{port}"
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))


@cache
def registrable_domain(host: str) -> str:
    """The domain a registrant controls: 'www.nhs.uk' -> 'nhs.uk', 'a.b.example.co.uk' -> 'example.co.uk'.
    IP addresses and unknown suffixes come back as the host itself."""
    host = host.lower().rstrip(".")
    ext = _extract(host)
    if ext.domain and ext.suffix:
        return f"{ext.domain}.{ext.suffix}"
    return host


def site_key(url: str) -> str:
    """Registrable domain of a URL's host; two URLs with the same key are 'the same site'."""
    return registrable_domain(urlsplit(url).hostname or "")


def host_without_www(host: str) -> str:
    host = host.lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host
