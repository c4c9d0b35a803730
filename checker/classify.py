"""What a fetch means: one Outcome and a reason a maintainer understands.

classify() is pure: it reads a FetchTrace (and optionally the organization's names and the last
healthy baseline) and never touches the network. Rules run in this order, first match wins:

1. The fetch failed before a usable response (trace.cause): DNS, refused connection, TLS, loops,
   too many or bad redirects, refused addresses, bad URLs -> broken; timeouts and protocol errors
   -> transient; a bot challenge -> blocked.
2. A bot challenge, whatever the status (a 200 "Just a moment..." page, a 503 with Cloudflare
   markers, `cf-mitigated: challenge`) -> blocked: we could not see the real page.
3. Status: 1xx/3xx left over -> broken (bad redirect); 401/403/407/430/999 -> blocked;
   429 -> transient (blocked when it persisted without Retry-After); 404/410 and other 4xx ->
   broken; 5xx -> transient. A 404 whose body is a parking page stays broken: the server itself
   says the page is gone, and "parked" is reserved for pages served as if they were the site.
4. 2xx: parking service in the redirect chain or parking page -> parked; spam with the names
   absent -> parked; not-found page, redirect to an error URL, or a deep link sent to the home
   page -> soft_404; another registrable domain -> moved; a same-site permanent redirect to
   another page -> redirected; otherwise ok (temporary or canonical redirects noted).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
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
from directory.urls import host_without_www, normalize, site_key

PERMANENT_REDIRECTS = frozenset({301, 308})
BLOCKING_STATUSES = frozenset({401, 403, 407, 430, 999})   # 430: Shopify's bot rejection; 999: LinkedIn
GONE_STATUSES = frozenset({404, 410})
DEFAULT_INDEX_PAGES = frozenset({
    "index.html", "index.htm", "index.php", "index.shtml", "index.asp", "index.aspx", "index.cfm",
    "index.jsp", "default.asp", "default.aspx", "default.htm", "default.html",
})
# A language home page ("/en/", "/fr-ca/") is the home page for the deep-link rule.
_LANGUAGE_HOME = re.compile(r"^/[a-z]{2}(?:[-_][a-z]{2})?/?$", re.IGNORECASE)
_ERROR_PAGE_PATH = re.compile(
    r"/(?:404|not[-_]?found|page[-_]?not[-_]?found|error[-_/]?404|errors?/not[-_]?found)(?:\.\w{2,5})?/?$",
    re.IGNORECASE)
_CLIENT_REDIRECT_MAX_WORDS = 50   # a meta-refresh/JS stub, not a page that happens to refresh

_BROKEN_CAUSES = {
    Cause.DNS, Cause.CONNECT, Cause.TLS, Cause.REDIRECT_LOOP, Cause.TOO_MANY_REDIRECTS,
    Cause.BAD_REDIRECT, Cause.PRIVATE_ADDRESS, Cause.BAD_URL,
}
_TRANSIENT_CAUSES = {Cause.TIMEOUT, Cause.PROTOCOL, Cause.RATE_LIMITED}


@dataclass(frozen=True)
class Baseline:
    """What the organization's page looked like at the last healthy check."""

    fingerprint: str | None = None
    title: str | None = None
    site: str | None = None                # registrable domain (site_key) the healthy check ended on
    names_found: bool | None = None        # whether the names were on the page then; None: unknown
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
# Entry point
# ---------------------------------------------------------------------------------------------


def classify(trace: FetchTrace, *, names: Sequence[str] = (), baseline: Baseline | None = None,
             checked_at: str | None = None) -> CheckResult:
    """Decide exactly one Outcome for a fetch, with a reason for maintainers."""
    final_url = trace.final_url or (trace.hops[-1].url if trace.hops else None)
    facts = _page_facts(trace, final_url)
    verdict = (_transport_verdict(trace)
               or _judge_response(trace, final_url or trace.url, facts, names, baseline))
    served_page = facts is not None and verdict.outcome not in (Outcome.BLOCKED, Outcome.BROKEN, Outcome.TRANSIENT)
    names_found = mentions_any(facts, list(names)) if names and facts is not None and served_page else None
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
        fingerprint=facts.fingerprint if served_page and facts is not None else None,
        names_found=names_found,
        attempts=trace.attempts,
        checked_at=checked_at,
    )


def suggested_url(result: CheckResult) -> str | None:
    """The URL a maintainer may want instead, for redirected and moved results."""
    if result.outcome in (Outcome.REDIRECTED, Outcome.MOVED):
        if result.outcome is Outcome.REDIRECTED:
            return _permanent_target(result.url, list(result.hops)) or result.final_url
        return result.final_url
    return None


def _page_facts(trace: FetchTrace, final_url: str | None) -> PageFacts | None:
    """Parse the body when it may matter: 2xx pages and the statuses challenge pages come with."""
    status = trace.status_code
    if status is None or not (200 <= status < 300 or status in (401, 403, 429, 503)):
        return None
    text = trace.text
    if text is None and trace.body and _looks_textual(trace.content_type):
        text = trace.body.decode("utf-8", errors="replace")
    if not text:
        return None
    return read_page(text, final_url or trace.url)


def _looks_textual(content_type: str | None) -> bool:
    return content_type is None or any(t in content_type.lower() for t in ("html", "xml", "text"))


# ---------------------------------------------------------------------------------------------
# Rule 1: the fetch did not produce a usable response
# ---------------------------------------------------------------------------------------------


def _transport_verdict(trace: FetchTrace) -> _Verdict | None:
    cause, detail = trace.cause, (trace.error or "").strip()
    if cause in _BROKEN_CAUSES:
        return _Verdict(Outcome.BROKEN, _broken_transport_reason(trace, cause, detail), cause)
    if cause is Cause.TIMEOUT:
        return _Verdict(Outcome.TRANSIENT, _timeout_reason(trace), cause)
    if cause is Cause.PROTOCOL:
        return _Verdict(Outcome.TRANSIENT, f"protocol error: {detail or 'connection reset'}{_attempts(trace)}", cause)
    if cause is Cause.RATE_LIMITED and trace.status_code is None:
        return _Verdict(Outcome.TRANSIENT, f"rate limited{_retry_after(trace)}{_attempts(trace)}", cause)
    if cause is Cause.CHALLENGE and trace.status_code is None:
        return _Verdict(Outcome.BLOCKED, "could not verify: bot challenge", cause)
    if trace.status_code is None:
        # No response and no recorded cause: we learnt nothing, so do not call it broken.
        return _Verdict(Outcome.TRANSIENT, f"no response{': ' + detail if detail else ''}", cause or Cause.PROTOCOL)
    return None


def _timeout_reason(trace: FetchTrace) -> str:
    # elapsed_ms covers the whole fetch, retries and back-off waits included.
    if trace.elapsed_ms <= 0:
        return "timed out" + (f": {trace.error}" if trace.error else "")
    if trace.attempts > 1:
        return f"timed out {trace.attempts} times ({_seconds(trace.elapsed_ms)} s in all)"
    return f"timed out after {_seconds(trace.elapsed_ms)} s"


def _broken_transport_reason(trace: FetchTrace, cause: Cause, detail: str) -> str:
    # fetch() leaves final_url on the URL it was trying when the chain failed.
    last_url = trace.final_url or (trace.hops[-1].url if trace.hops else trace.url)
    host = urlsplit(last_url).hostname or last_url
    match cause:
        case Cause.DNS:
            return f"no such domain: {host}"
        case Cause.CONNECT:
            return f"connection refused: {host}" + (f" ({detail})" if detail else "")
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


def _judge_response(trace: FetchTrace, final_url: str, facts: PageFacts | None, names: Sequence[str],
                    baseline: Baseline | None) -> _Verdict:
    status = trace.status_code
    assert status is not None
    challenge = _challenge_vendor(trace, facts)
    if challenge is not None:
        return _Verdict(Outcome.BLOCKED, f"could not verify: HTTP {status} (bot challenge{challenge})", Cause.CHALLENGE)
    if status in BLOCKING_STATUSES:
        return _Verdict(Outcome.BLOCKED, f"could not verify: HTTP {status}", Cause.HTTP_STATUS)
    if status == 429:
        return _rate_limited(trace)
    if 200 <= status < 300:
        return _judge_page(trace, final_url, facts, names, baseline)
    if status < 200 or 300 <= status < 400:
        return _Verdict(Outcome.BROKEN, f"bad redirect: HTTP {status} without a usable Location at {final_url}",
                        Cause.BAD_REDIRECT)
    if status in GONE_STATUSES or 400 <= status < 500:
        return _Verdict(Outcome.BROKEN, f"HTTP {status} at {final_url}", Cause.HTTP_STATUS)
    if 500 <= status < 600:
        attempts = f" after {trace.attempts} attempts" if trace.attempts > 1 else ""
        return _Verdict(Outcome.TRANSIENT, f"HTTP {status}{attempts}", Cause.HTTP_STATUS)
    # Non-standard codes beyond 599 (other than 999) are not a statement that the page is gone.
    return _Verdict(Outcome.BLOCKED, f"could not verify: unexpected HTTP {status}", Cause.HTTP_STATUS)


def _challenge_vendor(trace: FetchTrace, facts: PageFacts | None) -> str | None:
    """', Cloudflare'-style suffix when the response is a bot challenge, else None."""
    if trace.headers.get("cf-mitigated", "").lower() == "challenge":
        return ", Cloudflare"
    if facts is not None and facts.challenge_signals:
        return ", " + ", ".join(facts.challenge_signals)
    if trace.cause is Cause.CHALLENGE:
        return ""
    return None


def _rate_limited(trace: FetchTrace) -> _Verdict:
    """429 with Retry-After is a real rate limit: come back later (transient). Repeated 429s with
    no Retry-After at all are how several bot walls answer: we could not verify (blocked)."""
    if trace.retry_after_s is None and trace.attempts > 1:
        return _Verdict(Outcome.BLOCKED,
                        f"could not verify: HTTP 429 without Retry-After{_attempts(trace)}", Cause.RATE_LIMITED)
    return _Verdict(Outcome.TRANSIENT, f"rate limited: HTTP 429{_retry_after(trace)}{_attempts(trace)}",
                    Cause.RATE_LIMITED)


# ---------------------------------------------------------------------------------------------
# Rule 4: a 2xx page
# ---------------------------------------------------------------------------------------------


def _judge_page(trace: FetchTrace, final_url: str, facts: PageFacts | None, names: Sequence[str],
                baseline: Baseline | None) -> _Verdict:
    status = trace.status_code
    requested_domain, final_domain = site_key(trace.url), site_key(final_url)
    client_target = _client_redirect_target(facts)
    return (
        _parked_by_chain(trace, client_target)
        or _parked_by_page(facts, names, baseline)
        or _soft_404(trace, final_url, facts)
        or _moved(requested_domain, final_domain, final_url, client_target, trace)
        or _same_site_redirect(trace, final_url)
        or _Verdict(Outcome.OK, f"HTTP {status}" + ("" if facts is None or facts.word_count else " (empty page)"))
    )


def _parked_by_chain(trace: FetchTrace, client_target: str | None) -> _Verdict | None:
    """A redirect (HTTP or meta/JS on a stub page) through a parking or aftermarket service."""
    urls = [hop.url for hop in trace.hops[1:]] + ([trace.final_url] if trace.final_url else [])
    urls += [client_target] if client_target else []
    for url in urls:
        domain = site_key(url)
        if domain in PARKING_SERVICES:
            return _Verdict(Outcome.PARKED, f"parking page ({PARKING_SERVICES[domain]}): redirects to {domain}",
                            Cause.PARKING)
    return None


def _parked_by_page(facts: PageFacts | None, names: Sequence[str], baseline: Baseline | None) -> _Verdict | None:
    if facts is None:
        return None
    if facts.parking_signals:
        if facts.parking_provider:
            return _Verdict(Outcome.PARKED, f"parking page ({facts.parking_provider})", Cause.PARKING)
        return _Verdict(Outcome.PARKED, f"parking page: {facts.parking_signals[0]}", Cause.PARKING)
    if not facts.spam_signals:
        return None
    # Spam alone could be a casino-night fundraiser, and absent names alone mean little (logos are
    # images). Spam plus a second, independent sign that the page is no longer the organization's:
    spam = ", ".join(facts.spam_signals)
    if names and not mentions_any(facts, list(names)):
        return _Verdict(Outcome.PARKED, f"unrelated content: {spam}; the organization's names are absent",
                        Cause.UNRELATED)
    if not names and baseline is not None and _radically_changed(facts.fingerprint, facts.title, baseline):
        return _Verdict(Outcome.PARKED, f"unrelated content: {spam}; the page changed completely since "
                        "the last healthy check", Cause.UNRELATED)
    return None


def _soft_404(trace: FetchTrace, final_url: str, facts: PageFacts | None) -> _Verdict | None:
    if facts is not None and facts.not_found_signals:
        return _Verdict(Outcome.SOFT_404, f"not-found page ({facts.not_found_signals[0]})", Cause.NOT_FOUND_PAGE)
    if not _was_redirected(trace, final_url):
        return None
    if _ERROR_PAGE_PATH.search(urlsplit(final_url).path):
        return _Verdict(Outcome.SOFT_404, f"redirected to an error page {final_url}", Cause.NOT_FOUND_PAGE)
    if site_key(trace.url) == site_key(final_url) and _is_deep(trace.url) and _is_home(final_url):
        return _Verdict(Outcome.SOFT_404, f"deep link redirected to the home page {final_url}", Cause.REDIRECTED_HOME)
    return None


def _moved(requested_domain: str, final_domain: str, final_url: str, client_target: str | None,
           trace: FetchTrace) -> _Verdict | None:
    if final_domain != requested_domain:
        temporary = "" if _any_permanent(trace.hops) else " (temporary redirect)"
        return _Verdict(Outcome.MOVED, f"redirects to {final_domain}{temporary}", Cause.CROSS_DOMAIN)
    if client_target and site_key(client_target) != requested_domain:
        return _Verdict(Outcome.MOVED, f"redirects to {site_key(client_target)} (client-side redirect to {client_target})",
                        Cause.CROSS_DOMAIN)
    return None


def _same_site_redirect(trace: FetchTrace, final_url: str) -> _Verdict | None:
    if not _was_redirected(trace, final_url):
        return None
    status = trace.status_code
    target = _permanent_target(trace.url, trace.hops)
    if target is not None:
        return _Verdict(Outcome.REDIRECTED, f"permanent redirect to {target}", Cause.PERMANENT_REDIRECT)
    if _canonical_form(trace.url) != _canonical_form(final_url):
        return _Verdict(Outcome.OK, f"HTTP {status} after temporary redirect to {final_url}")
    return _Verdict(Outcome.OK, f"HTTP {status} after canonical redirect to {final_url}", Cause.CANONICAL)


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
    leads, if that is a different page: the URL to suggest. A temporary hop ends the run, since
    only what is permanent should replace the directory's URL."""
    target = requested
    for source, destination, status in _redirect_steps(hops):
        if _canonical_form(source) == _canonical_form(destination) or status in PERMANENT_REDIRECTS:
            target = destination
        else:
            break
    if _canonical_form(target) == _canonical_form(requested):
        return None
    return target


def _any_permanent(hops: Sequence[Hop]) -> bool:
    return any(status in PERMANENT_REDIRECTS for _, _, status in _redirect_steps(hops))


def _canonical_form(url: str) -> tuple[str, str, str]:
    """A URL with the differences canonical redirects make removed: scheme, 'www.', host case,
    trailing slash, default index page."""
    parts = urlsplit(url)
    path = parts.path
    last = path.rsplit("/", 1)[-1]
    if last.lower() in DEFAULT_INDEX_PAGES:
        path = path[: -len(last)]
    return host_without_www(parts.hostname or ""), path.rstrip("/"), parts.query


def _was_redirected(trace: FetchTrace, final_url: str) -> bool:
    return bool(_redirect_steps(trace.hops)) or normalize(trace.url) != normalize(final_url)


def _is_deep(url: str) -> bool:
    _, path, query = _canonical_form(url)
    return bool(path) or bool(query)


def _is_home(url: str) -> bool:
    _, path, query = _canonical_form(url)
    return not query and (not path or bool(_LANGUAGE_HOME.match(path)))


# ---------------------------------------------------------------------------------------------
# Identity
# ---------------------------------------------------------------------------------------------

# SimHash distance between unrelated texts follows Binomial(64, 1/2): mean 32, sd 4. Edits, rotating
# news items and seasonal banners keep a homepage well under 20 (see tests). 26 sits 1.5 sd below
# the unrelated mean, so it catches most replacements while leaving a wide margin for churn; and
# since a full redesign can reach it too, the rule also needs a new title that shares no word with
# the old one and names that are no longer found. A false alarm costs trust; a miss is caught by
# the name rule or the next check.
RADICAL_CHANGE_DISTANCE = 26
_TITLE_WORD_MIN_LENGTH = 4


def identity_changed(result: CheckResult, baseline: Baseline, names: Sequence[str] = ()) -> str | None:
    """Why this healthy-looking result may no longer be the organization's site, or None.

    Only for results that served the page (ok / redirected): other outcomes speak for themselves,
    and a challenge page would look like a total change."""
    if result.outcome not in (Outcome.OK, Outcome.REDIRECTED):
        return None
    site = site_key(result.final_url) if result.final_url else None
    if baseline.site and site and site != baseline.site:
        return f"the site now ends on {site} (was {baseline.site} at the last healthy check)"
    if _names_disappeared(result, baseline, names):
        return f"the page no longer mentions the organization's name (title now {_quote(result.title)})"
    if result.names_found is not True and _radically_changed(result.fingerprint, result.title, baseline):
        distance = fingerprint_distance(result.fingerprint or "", baseline.fingerprint or "")
        return (f"content changed radically since last healthy check (fingerprint distance "
                f"{distance}/64; title was {_quote(baseline.title)}, now {_quote(result.title)})")
    return None


def _radically_changed(fingerprint: str | None, title: str | None, baseline: Baseline) -> bool:
    """Far fingerprints and a title sharing no word with the baseline's."""
    if not fingerprint or not baseline.fingerprint:
        return False
    return (fingerprint_distance(fingerprint, baseline.fingerprint) >= RADICAL_CHANGE_DISTANCE
            and not _titles_share_words(title, baseline.title))


def _names_disappeared(result: CheckResult, baseline: Baseline, names: Sequence[str]) -> bool:
    """Names absent now but present before. A page with too little text to fingerprint (a
    JavaScript shell) cannot tell us the names are gone."""
    if not names or result.names_found is not False or result.fingerprint is None:
        return False
    if baseline.names_found is not None:
        return baseline.names_found
    # An older baseline without the flag: trust its title.
    return bool(baseline.title) and mentions_any(PageFacts(url="", title=baseline.title or ""), list(names))


def _titles_share_words(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return False
    words_a = {w for w in fold_words(a).split() if len(w) >= _TITLE_WORD_MIN_LENGTH}
    words_b = {w for w in fold_words(b).split() if len(w) >= _TITLE_WORD_MIN_LENGTH}
    return bool(words_a & words_b)


def _quote(title: str | None) -> str:
    return f"'{title}'" if title else "(none)"
