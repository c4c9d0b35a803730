"""The values handed between the checker's stages.

fetch.fetch() -> FetchTrace (what happened on the wire) -> classify.classify() -> CheckResult
(what it means) -> store / report. Outcomes are values, never fake status codes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Outcome(StrEnum):
    """The outcome of one check. These names are public: reports and other tools rely on them."""

    OK = "ok"                   # 2xx, possibly after same-site canonical redirects
    REDIRECTED = "redirected"   # permanent redirect to another page on the same registrable domain
    MOVED = "moved"             # redirect ending on a different registrable domain
    BROKEN = "broken"           # 404/410, no such domain, refused, bad TLS, loop, too many hops
    SOFT_404 = "soft_404"       # 2xx "not found" page, or a deep link sent to the home page
    PARKED = "parked"           # parking / for-sale page, or unrelated spam content
    BLOCKED = "blocked"         # 401, 403 challenges, 999...: could not verify
    TRANSIENT = "transient"     # 5xx, timeouts, rate limits not resolved within the run

    @property
    def is_dead(self) -> bool:
        """Dead for the exit code of one run (the directory's red state needs history too)."""
        return self is Outcome.BROKEN


class Cause(StrEnum):
    """Finer cause beside the outcome, for maintainers and for retry decisions."""

    HTTP_STATUS = "http_status"
    DNS = "dns_error"
    CONNECT = "connect_error"
    TLS = "tls_error"
    TIMEOUT = "timeout"
    PROTOCOL = "protocol_error"
    REDIRECT_LOOP = "redirect_loop"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    BAD_REDIRECT = "bad_redirect"          # missing, malformed or non-http(s) Location
    PRIVATE_ADDRESS = "private_address"    # refused by the address rules
    BAD_URL = "bad_url"
    RATE_LIMITED = "rate_limited"
    CHALLENGE = "bot_challenge"
    NOT_FOUND_PAGE = "not_found_page"
    REDIRECTED_HOME = "redirected_home"
    PARKING = "parking_page"
    UNRELATED = "unrelated_content"
    CANONICAL = "canonical_redirect"
    PERMANENT_REDIRECT = "permanent_redirect"
    CROSS_DOMAIN = "cross_domain_redirect"


@dataclass(frozen=True)
class Hop:
    """One request on the way to the final response."""

    url: str
    status_code: int | None
    location: str | None = None
    elapsed_ms: int = 0


@dataclass
class FetchTrace:
    """Everything fetch() observed for one URL; no judgement yet.

    `hops` lists every request that produced a response, in order (redirects included; the last
    hop is the final response). `error`/`cause` are set when the chain ended without a usable
    response (DNS failure, refused connection, TLS error, timeout, loop, refused address...).
    """

    url: str
    hops: list[Hop] = field(default_factory=list)
    final_url: str | None = None
    status_code: int | None = None
    headers: dict[str, str] = field(default_factory=dict)   # final response, lower-case names
    body: bytes = b""                                       # decoded (gzip/deflate), capped
    text: str | None = None                                 # body decoded to str when HTML/text
    content_type: str | None = None
    truncated: bool = False                                 # stopped reading at the cap
    bytes_read: int = 0                                     # bytes received on the wire
    elapsed_ms: int = 0
    attempts: int = 1                                       # requests sent, retries included
    cause: Cause | None = None
    error: str | None = None                                # human detail of the failure
    retry_after_s: float | None = None                      # last Retry-After seen, if any
    tls_expires_at: str | None = None                       # final hop's certificate notAfter (ISO)


@dataclass(frozen=True)
class CheckResult:
    """What one check of one URL means. `reason` is written for a maintainer."""

    url: str
    outcome: Outcome
    reason: str
    status_code: int | None = None
    final_url: str | None = None
    cause: str | None = None
    elapsed_ms: int = 0
    hops: tuple[Hop, ...] = ()
    bytes_read: int = 0
    title: str | None = None
    fingerprint: str | None = None
    names_found: bool | None = None   # None when no names were given to look for
    attempts: int = 1
    checked_at: str | None = None
    tls_expires_at: str | None = None  # the certificate's expiry, for an early warning

    def as_json(self) -> dict:
        """The line format of `signpost check-urls`."""
        return {
            "url": self.url,
            "outcome": str(self.outcome),
            "status_code": self.status_code,
            "final_url": self.final_url,
            "reason": self.reason,
            "elapsed_ms": self.elapsed_ms,
        }
