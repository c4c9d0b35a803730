"""What a fetch means: one Outcome and a reason a maintainer understands.

classify() is pure: it reads a FetchTrace (and optionally the organization's names and the last
healthy baseline) and never touches the network. Rules run in this order; the first match wins:

1. The fetch failed before a usable response (trace.cause): no such domain, refused connection,
   bad TLS, redirect loop, too many or bad redirects, refused address, bad URL -> broken;
   timeouts and protocol errors -> transient.
2. A bot challenge, whatever the status (a 200 "Just a moment..." page, a 403 or 503 with
   Cloudflare markers, `cf-mitigated: challenge`) -> blocked: we never saw the real page.
3. Status: 401/403/407/430/999 -> blocked; 429 -> transient (blocked when it persisted without
   any Retry-After); 1xx/3xx left over -> broken (bad redirect); 404/410 and other 4xx -> broken;
   5xx -> transient. A 404 whose body is a parking template stays broken: the server itself says
   the page is gone, and "parked" is kept for pages served as if they were the live site.
4. 2xx: through a parking service, or a parking page -> parked; spam with the names absent (or,
   without names, with the page changed beyond recognition since the baseline) -> parked; a
   not-found page, a redirect to an error URL, or a deep link sent to the home page -> soft_404;
   another registrable domain -> moved; a same-site permanent redirect to another page ->
   redirected; otherwise ok (temporary or canonical redirects noted in the reason).

identity_changed() is the separate question the history stage asks of ok results: is this still
the organization's page?
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urljoin, urlsplit

from checker.outcome import Cause, CheckResult, FetchTrace, Hop, Outcome
from checker.page import (
    PARKING_SERVICES,
    PageFacts,
    fingerprint_distance,
    fold_words,
    mentions_any,
    read_page,
)
from directory.urls import host_without_www, normalize
from directory.urls import site_key as _uncached_site_key

PERMANENT_REDIRECTS = frozenset({301, 308})
BLOCKING_STATUSES = frozenset({401, 403, 407, 430, 999})  # 430: Shopify's bot wall; 999: LinkedIn's
DEFAULT_INDEX_PAGES = frozenset({
    "index.html", "index.htm", "index.php", "index.shtml", "index.asp", "index.aspx", "index.cfm",
    "index.jsp", "default.asp", "default.aspx", "default.htm", "default.html",
})
# Statuses whose body may be a challenge page worth parsing.
_CHALLENGE_STATUSES = frozenset({401, 403, 429, 503})
# A language home page ("/en/", "/fr-ca/") counts as the home page for the deep-link rule.
_LANGUAGE_HOME = re.compile(r"^/[a-z]{2}(?:[-_][a-z]{2})?/?$", re.IGNORECASE)
_ERROR_PAGE_PATH = re.compile(
    r"/(?:404|not[-_]?found|page[-_]?not[-_]?found|error[-_/]?404|errors?/not[-_]?found)"
    r"(?:\.\w{2,5})?/?$", re.IGNORECASE)
_CLIENT_REDIRECT_MAX_WORDS = 50   # a meta-refresh/JS stub, not a page that happens to refresh

# A URL's site, cached: classify() asks for the same URLs' sites several times (urlsplit() each).
site_key = lru_cache(maxsize=4096)(_uncached_site_key)

_BROKEN_CAUSES = frozenset({
    Cause.DNS, Cause.CONNECT, Cause.TLS, Cause.REDIRECT_LOOP, Cause.TOO_MANY_REDIRECTS,
    Cause.BAD_REDIRECT, Cause.PRIVATE_ADDRESS, Cause.BAD_URL,
})


@dataclass(frozen=True)
class Baseline:
    """What the organization's page looked like at the last healthy check."""

    fingerprint: str | None = None
    title: str | None = None
    site: str | None = None              # registrable domain (site_key) the healthy check ended on
    names_found: bool | None = None      # whether the names were on the page then; None: unknown
    checked_at: str | None = None

    @classmethod
    def from_result(cls, result: CheckResult) -> Baseline:
        """The baseline a healthy (ok / redirected) result sets."""
        return cls(
            fingerprint=result.fingerprint,
            title=result.title,
            site=site_key(result.final_url) if result.final_url else None,
            names_found=result.names_found,
            checked_at=result.checked_at,
        )


@dataclass(frozen=True)
class _Verdict:
    outcome: Outcome
    reason: str
    cause: Cause | None = None


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------


def classify(trace: FetchTrace, *, names: Sequence[str] = (), baseline: Baseline | None = None,
             checked_at: str | None = None) -> CheckResult:
    """Decide exactly one Outcome for a fetch, with a reason for maintainers."""
    names = [name for name in names if name and name.strip()]
    final_url = trace.final_url or (trace.hops[-1].url if trace.hops else None)
    facts = _page_facts(trace, final_url)
    verdict = (_transport_verdict(trace)
               or _judge_response(trace, final_url or trace.url, facts, names, baseline))
    # Only a page the site really served says anything about identity.
    served = facts if verdict.outcome not in _UNSEEN_OUTCOMES else None
    return CheckResult(
        url=trace.url,
        outcome=verdict.outcome,
        reason=verdict.reason,
        status_code=trace.status_code,
        final_url=final_url,
        cause=str(verdict.cause) if verdict.cause else None,
        elapsed_ms=trace.elapsed_ms,
        hops=tuple(trace.hops),
        bytes_read=trace.bytes_read,
        title=(facts.title or None) if facts is not None else None,
        fingerprint=served.fingerprint if served is not None else None,
        names_found=mentions_any(served, names) if served is not None and names else None,
        attempts=trace.attempts,
        checked_at=checked_at,
        tls_expires_at=trace.tls_expires_at,
    )


_UNSEEN_OUTCOMES = frozenset({Outcome.BLOCKED, Outcome.BROKEN, Outcome.TRANSIENT})


def suggested_url(result: CheckResult) -> str | None:
    """The URL a maintainer may want instead: the permanent target of a redirected result, the
    destination of a moved one."""
    if result.outcome is Outcome.REDIRECTED:
        return _permanent_target(result.url, result.hops) or result.final_url
    if result.outcome is Outcome.MOVED:
        return result.final_url
    return None


def _page_facts(trace: FetchTrace, final_url: str | None) -> PageFacts | None:
    """Parse the body when it may matter: 2xx pages and the statuses challenges come with."""
    status = trace.status_code
    if status is None or not (200 <= status < 300 or status in _CHALLENGE_STATUSES):
        return None
    text = trace.text
    if text is None and trace.body and _looks_textual(trace.content_type):
        text = trace.body.decode("utf-8", errors="replace")
    return read_page(text, final_url or trace.url) if text else None


def _looks_textual(content_type: str | None) -> bool:
    return content_type is None or any(t in content_type.lower() for t in ("html", "xml", "text"))


# ---------------------------------------------------------------------------------------------
# Rule 1: the fetch produced no usable response
# ---------------------------------------------------------------------------------------------


def _transport_verdict(trace: FetchTrace) -> _Verdict | None:
    cause, detail = trace.cause, (trace.error or "").strip()
    if cause in _BROKEN_CAUSES:
        return _Verdict(Outcome.BROKEN, _broken_transport_reason(trace, cause, detail), cause)
    if cause is Cause.TIMEOUT:
        return _Verdict(Outcome.TRANSIENT, _timeout_reason(trace), cause)
    if cause is Cause.PROTOCOL:
        reason = f"protocol error: {detail or 'connection reset'}{_attempts(trace)}"
        return _Verdict(Outcome.TRANSIENT, reason, cause)
    if trace.status_code is not None:
        return None   # a response to judge (other causes are only hints)
    if cause is Cause.RATE_LIMITED:
        reason = f"rate limited{_retry_after(trace)}{_attempts(trace)}"
        return _Verdict(Outcome.TRANSIENT, reason, cause)
    if cause is Cause.CHALLENGE:
        return _Verdict(Outcome.BLOCKED, "could not verify: bot challenge", cause)
    # No response and no known cause: we learnt nothing, so this must not read as broken.
    return _Verdict(Outcome.TRANSIENT, "no response" + (f": {detail}" if detail else ""),
                    cause or Cause.PROTOCOL)


def _broken_transport_reason(trace: FetchTrace, cause: Cause, detail: str) -> str:
    # fetch() leaves final_url on the URL it was trying when the chain failed.
    last_url = trace.final_url or (trace.hops[-1].url if trace.hops else trace.url)
    host = urlsplit(last_url).hostname or last_url
    match cause:
        case Cause.DNS:
            return f"no such domain: {host}"
        case Cause.CONNECT:
            if detail and host in detail:
                return f"cannot connect: {detail}"   # fetch's detail already names host and port
            return f"cannot connect to {host}" + (f": {detail}" if detail else "")
        case Cause.TLS:
            return f"invalid TLS certificate: {detail or host}"
        case Cause.REDIRECT_LOOP:
            return f"redirect loop at {last_url}"
        case Cause.TOO_MANY_REDIRECTS:
            return f"too many redirects ({len(trace.hops)} hops) from {trace.url}"
        case Cause.BAD_REDIRECT:
            if detail:
                return f"bad redirect at {last_url}: {detail}"
            return f"bad redirect: HTTP {trace.status_code} at {last_url}"
        case Cause.PRIVATE_ADDRESS:
            return f"refused: {detail or f'{host} resolves to a private address'}"
        case _:
            return f"bad URL: {detail or trace.url}"


def _timeout_reason(trace: FetchTrace) -> str:
    # elapsed_ms covers the whole fetch, retries and back-off waits included.
    if trace.elapsed_ms <= 0:
        return "timed out" + (f": {trace.error}" if trace.error else "")
    if trace.attempts > 1:
        return f"timed out {trace.attempts} times ({_seconds(trace.elapsed_ms)} s in all)"
    return f"timed out after {_seconds(trace.elapsed_ms)} s"


def _seconds(elapsed_ms: int) -> str:
    seconds = elapsed_ms / 1000
    return f"{seconds:.0f}" if seconds >= 10 else f"{seconds:.1f}".rstrip("0").rstrip(".")


def _attempts(trace: FetchTrace) -> str:
    return f" ({trace.attempts} attempts)" if trace.attempts > 1 else ""


def _retry_after(trace: FetchTrace) -> str:
    return f", Retry-After {trace.retry_after_s:.0f} s" if trace.retry_after_s is not None else ""


# ---------------------------------------------------------------------------------------------
# Rules 2 and 3: what the status says
# ---------------------------------------------------------------------------------------------


def _judge_response(trace: FetchTrace, final_url: str, facts: PageFacts | None,
                    names: Sequence[str], baseline: Baseline | None) -> _Verdict:
    status = trace.status_code
    assert status is not None
    challenge = _challenge_vendors(trace, facts)
    if challenge is not None:
        return _Verdict(Outcome.BLOCKED,
                        f"could not verify: HTTP {status} (bot challenge{challenge})",
                        Cause.CHALLENGE)
    if status in BLOCKING_STATUSES:
        return _Verdict(Outcome.BLOCKED, f"could not verify: HTTP {status}", Cause.HTTP_STATUS)
    if status == 429:
        return _rate_limited(trace)
    if 200 <= status < 300:
        return _judge_page(trace, final_url, facts, names, baseline)
    if status < 200 or 300 <= status < 400:
        return _Verdict(Outcome.BROKEN,
                        f"bad redirect: HTTP {status} without a usable Location at {final_url}",
                        Cause.BAD_REDIRECT)
    if 400 <= status < 500:
        return _Verdict(Outcome.BROKEN, f"HTTP {status} at {final_url}", Cause.HTTP_STATUS)
    if 500 <= status < 600:
        attempts = f" after {trace.attempts} attempts" if trace.attempts > 1 else ""
        return _Verdict(Outcome.TRANSIENT, f"HTTP {status}{attempts}", Cause.HTTP_STATUS)
    # Non-standard codes (other than 999) do not say the page is gone: we could not tell.
    return _Verdict(Outcome.BLOCKED, f"could not verify: unexpected HTTP {status}",
                    Cause.HTTP_STATUS)


def _challenge_vendors(trace: FetchTrace, facts: PageFacts | None) -> str | None:
    """', Cloudflare'-style suffix when the response is a bot challenge, else None."""
    if trace.headers.get("cf-mitigated", "").lower() == "challenge":
        return ", Cloudflare"
    if facts is not None and facts.challenge_signals:
        return ", " + ", ".join(facts.challenge_signals)
    if trace.cause is Cause.CHALLENGE:
        return ""
    return None


def _rate_limited(trace: FetchTrace) -> _Verdict:
    """A 429 with Retry-After is a real rate limit: come back later (transient). 429s repeated
    with no Retry-After at all are how several bot walls answer: we could not verify (blocked)."""
    if trace.retry_after_s is None and trace.attempts > 1:
        return _Verdict(Outcome.BLOCKED,
                        f"could not verify: HTTP 429 without Retry-After{_attempts(trace)}",
                        Cause.RATE_LIMITED)
    return _Verdict(Outcome.TRANSIENT,
                    f"rate limited: HTTP 429{_retry_after(trace)}{_attempts(trace)}",
                    Cause.RATE_LIMITED)


# ---------------------------------------------------------------------------------------------
# Rule 4: a 2xx page
# ---------------------------------------------------------------------------------------------


def _judge_page(trace: FetchTrace, final_url: str, facts: PageFacts | None,
                names: Sequence[str], baseline: Baseline | None) -> _Verdict:
    client_target = _client_redirect_target(facts)
    empty = facts is not None and not facts.word_count
    return (
        _parked_by_chain(trace, client_target)
        or _parked_by_page(facts, names, baseline)
        or _soft_404(trace, final_url, facts)
        or _moved(trace, final_url, client_target)
        or _same_site_redirect(trace, final_url)
        or _Verdict(Outcome.OK, f"HTTP {trace.status_code}" + (" (empty page)" if empty else ""))
    )


def _parked_by_chain(trace: FetchTrace, client_target: str | None) -> _Verdict | None:
    """A redirect (HTTP, or meta/JS on a stub page) through a parking or aftermarket service."""
    urls = [hop.url for hop in trace.hops[1:]] + [trace.final_url or "", client_target or ""]
    for url in filter(None, urls):
        domain = site_key(url)
        if domain in PARKING_SERVICES:
            return _Verdict(Outcome.PARKED,
                            f"parking page ({PARKING_SERVICES[domain]}): redirects to {domain}",
                            Cause.PARKING)
    return None


def _parked_by_page(facts: PageFacts | None, names: Sequence[str],
                    baseline: Baseline | None) -> _Verdict | None:
    if facts is None:
        return None
    if facts.parking_signals:
        if facts.parking_provider:
            return _Verdict(Outcome.PARKED, f"parking page ({facts.parking_provider})",
                            Cause.PARKING)
        return _Verdict(Outcome.PARKED, f"parking page: {facts.parking_signals[0]}", Cause.PARKING)
    if not facts.spam_signals:
        return None
    # Spam alone could be a casino-night fundraiser, and absent names alone mean little (logos are
    # images). Spam plus a second, independent sign that the page is no longer the organization's:
    spam = ", ".join(facts.spam_signals)
    if names and not mentions_any(facts, names):
        return _Verdict(Outcome.PARKED,
                        f"unrelated content: {spam}; the organization's names are absent",
                        Cause.UNRELATED)
    if not names and baseline and _radically_changed(facts.fingerprint, facts.title, baseline):
        return _Verdict(Outcome.PARKED,
                        f"unrelated content: {spam}; the page changed completely since the last "
                        "healthy check", Cause.UNRELATED)
    return None


def _soft_404(trace: FetchTrace, final_url: str, facts: PageFacts | None) -> _Verdict | None:
    if facts is not None and facts.not_found_signals:
        return _Verdict(Outcome.SOFT_404, f"not-found page ({facts.not_found_signals[0]})",
                        Cause.NOT_FOUND_PAGE)
    if not _was_redirected(trace, final_url):
        return None
    if _ERROR_PAGE_PATH.search(urlsplit(final_url).path):
        return _Verdict(Outcome.SOFT_404, f"redirected to an error page {final_url}",
                        Cause.NOT_FOUND_PAGE)
    if site_key(trace.url) == site_key(final_url) and _is_deep(trace.url) and _is_home(final_url):
        return _Verdict(Outcome.SOFT_404, f"deep link redirected to the home page {final_url}",
                        Cause.REDIRECTED_HOME)
    return None


def _moved(trace: FetchTrace, final_url: str, client_target: str | None) -> _Verdict | None:
    requested, final = site_key(trace.url), site_key(final_url)
    if final != requested:
        temporary = "" if _any_permanent(trace.hops) else " (temporary redirect)"
        return _Verdict(Outcome.MOVED, f"redirects to {final}{temporary}", Cause.CROSS_DOMAIN)
    if client_target and site_key(client_target) != requested:
        return _Verdict(Outcome.MOVED, f"redirects to {site_key(client_target)} "
                        f"(client-side redirect to {client_target})", Cause.CROSS_DOMAIN)
    return None


def _same_site_redirect(trace: FetchTrace, final_url: str) -> _Verdict | None:
    if not _was_redirected(trace, final_url):
        return None
    status = trace.status_code
    target = _permanent_target(trace.url, trace.hops)
    if target is not None:
        return _Verdict(Outcome.REDIRECTED, f"permanent redirect to {target}",
                        Cause.PERMANENT_REDIRECT)
    if _canonical_form(trace.url) != _canonical_form(final_url):
        return _Verdict(Outcome.OK, f"HTTP {status} after temporary redirect to {final_url}")
    return _Verdict(Outcome.OK, f"HTTP {status} after canonical redirect to {final_url}",
                    Cause.CANONICAL)


def _client_redirect_target(facts: PageFacts | None) -> str | None:
    """Where a meta-refresh or JS stub page sends visitors; None for real pages."""
    if facts is None or facts.word_count > _CLIENT_REDIRECT_MAX_WORDS:
        return None
    return facts.refresh_url or facts.script_redirect_url


# ---------------------------------------------------------------------------------------------
# Redirect chain semantics
# ---------------------------------------------------------------------------------------------


def _redirect_steps(hops: Sequence[Hop]) -> list[tuple[str, str, int]]:
    """(from, to, status) for each redirect in the chain."""
    steps = []
    for hop, following in zip(hops, hops[1:]):
        if hop.status_code is not None and 300 <= hop.status_code < 400:
            target = urljoin(hop.url, hop.location) if hop.location else following.url
            steps.append((hop.url, target, hop.status_code))
    return steps


def _permanent_target(requested: str, hops: Sequence[Hop]) -> str | None:
    """Where the unbroken run of permanent (or merely canonical) redirects from the requested URL
    leads, if that is another page: the URL to suggest. A temporary hop ends the run, since only
    what is permanent should replace the directory's URL."""
    target = requested
    for source, destination, status in _redirect_steps(hops):
        if status in PERMANENT_REDIRECTS or _canonical_form(source) == _canonical_form(destination):
            target = destination
        else:
            break
    return None if _canonical_form(target) == _canonical_form(requested) else target


def _any_permanent(hops: Sequence[Hop]) -> bool:
    return any(status in PERMANENT_REDIRECTS for _, _, status in _redirect_steps(hops))


def _canonical_form(url: str) -> tuple[str, str, str]:
    """A URL without the differences canonical redirects make: scheme, 'www.', host case, trailing
    slash, default index page."""
    parts = urlsplit(url)
    path = parts.path
    last = path.rsplit("/", 1)[-1]
    if last.lower() in DEFAULT_INDEX_PAGES:
        path = path[: -len(last)]
    return host_without_www(parts.hostname or ""), path.rstrip("/"), parts.query


def _was_redirected(trace: FetchTrace, final_url: str) -> bool:
    if _redirect_steps(trace.hops):
        return True
    # The same string normalizes the same: skip parsing both (most pages were not redirected).
    return final_url != trace.url and normalize(trace.url) != normalize(final_url)


def _is_deep(url: str) -> bool:
    _, path, query = _canonical_form(url)
    return bool(path) or bool(query)


def _is_home(url: str) -> bool:
    _, path, query = _canonical_form(url)
    return not query and (not path or bool(_LANGUAGE_HOME.match(path)))


# ---------------------------------------------------------------------------------------------
# Identity
# ---------------------------------------------------------------------------------------------

# SimHash distances between unrelated texts follow Binomial(64, 1/2): mean 32, sd 4 (our fixtures:
# mean 31.7, lowest 21). Edits move a homepage less: replacing 2% of its words gives ~6, 20% ~20,
# 40% ~27 (tests/test_page.py and the report). 26 keeps most total replacements while leaving room
# for churn; and because a full redesign can reach it too, the rule also needs a title sharing no
# word with the old one and names no longer found. A false alarm costs trust; a miss is usually
# caught by the name rule or by the spam and parking rules.
RADICAL_CHANGE_DISTANCE = 26
_TITLE_WORD_MIN_LENGTH = 4


def identity_changed(result: CheckResult, baseline: Baseline,
                     names: Sequence[str] = ()) -> str | None:
    """Why this healthy-looking result may no longer be the organization's site, or None.

    Judged for ok / redirected results only: other outcomes speak for themselves, and a challenge
    page would look like a total change."""
    if result.outcome not in (Outcome.OK, Outcome.REDIRECTED):
        return None
    site = site_key(result.final_url) if result.final_url else None
    if baseline.site and site and site != baseline.site:
        return f"the site now ends on {site} (was {baseline.site} at the last healthy check)"
    if _names_disappeared(result, baseline, names):
        return ("the page no longer mentions the organization's name "
                f"(title now {_quote(result.title)})")
    if (result.names_found is not True
            and _radically_changed(result.fingerprint, result.title, baseline)):
        distance = fingerprint_distance(result.fingerprint or "0", baseline.fingerprint or "0")
        return (f"content changed radically since last healthy check (fingerprint distance "
                f"{distance}/64; title was {_quote(baseline.title)}, now {_quote(result.title)})")
    return None


def _names_disappeared(result: CheckResult, baseline: Baseline, names: Sequence[str]) -> bool:
    """Names absent now but present before. A page with too little text to fingerprint (a
    JavaScript shell) cannot tell us the names are gone."""
    if not names or result.names_found is not False or result.fingerprint is None:
        return False
    if baseline.names_found is not None:
        return baseline.names_found
    # A baseline recorded without the flag: trust its title.
    return bool(baseline.title) and mentions_any(PageFacts(url="", title=baseline.title or ""),
                                                 list(names))


def _radically_changed(fingerprint: str | None, title: str | None, baseline: Baseline) -> bool:
    """Far fingerprints and a title sharing no word with the baseline's."""
    if not fingerprint or not baseline.fingerprint:
        return False
    return (fingerprint_distance(fingerprint, baseline.fingerprint) >= RADICAL_CHANGE_DISTANCE
            and not _titles_share_words(title, baseline.title))


def _titles_share_words(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return False
    words_a = {w for w in fold_words(a).split() if len(w) >= _TITLE_WORD_MIN_LENGTH}
    words_b = {w for w in fold_words(b).split() if len(w) >= _TITLE_WORD_MIN_LENGTH}
    return bool(words_a & words_b)


def _quote(title: str | None) -> str:
    return f"'{title}'" if title else "(none)"
