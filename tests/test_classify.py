"""classify(): one Outcome per FetchTrace, with a reason; identity checks against a baseline."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urljoin

import pytest

from checker.classify import Baseline, classify, identity_changed, suggested_url
from checker.outcome import Cause, CheckResult, FetchTrace, Hop, Outcome

PAGES = Path(__file__).parent / "fixtures" / "pages"
HOME = "https://pinkribbontrust.org.uk/"


def fixture_text(name: str) -> str:
    return (PAGES / name).read_text(encoding="utf-8")


def make_trace(url: str, redirects: list[tuple[int, str]] = (), *, status: int | None = 200,
               text: str | None = "<title>Pink Ribbon Trust</title><p>Welcome to Pink Ribbon Trust.</p>",
               headers: dict[str, str] | None = None, cause: Cause | None = None, error: str | None = None,
               attempts: int = 1, retry_after_s: float | None = None, elapsed_ms: int = 120) -> FetchTrace:
    """A trace that starts at `url`, follows (status, Location) redirects, and ends with `status`."""
    hops, current = [], url
    for redirect_status, location in redirects:
        hops.append(Hop(current, redirect_status, location))
        current = urljoin(current, location)
    if status is not None:
        hops.append(Hop(current, status))
    return FetchTrace(url=url, hops=hops, final_url=current if status is not None else None,
                      status_code=status, headers=headers or {}, text=text, content_type="text/html",
                      attempts=attempts, cause=cause, error=error, retry_after_s=retry_after_s,
                      elapsed_ms=elapsed_ms, bytes_read=len(text or ""))


def check(trace: FetchTrace, outcome: Outcome, reason_part: str, **kwargs) -> CheckResult:
    result = classify(trace, **kwargs)
    assert result.outcome is outcome, result.reason
    assert reason_part in result.reason
    return result


# ---------------------------------------------------------------------------------------------
# Captured-style pages: (fixture, status, redirects, names) -> outcome, reason
# ---------------------------------------------------------------------------------------------

NAMES = ["Pink Ribbon Trust"]

PAGE_TABLE = [
    # soft 404s, served with 200
    ("soft404-wordpress-oops.html", 200, [], NAMES, Outcome.SOFT_404, "not-found page (title: 'Page not found"),
    ("soft404-fr.html", 200, [], [], Outcome.SOFT_404, "Page introuvable"),
    ("soft404-es.html", 200, [], [], Outcome.SOFT_404, "Error 404"),
    ("soft404-de.html", 200, [], [], Outcome.SOFT_404, "h1: 'Seite nicht gefunden'"),
    ("soft404-it.html", 200, [], [], Outcome.SOFT_404, "Pagina non trovata"),
    ("soft404-pt.html", 200, [], [], Outcome.SOFT_404, "Erro 404"),
    ("soft404-nl.html", 200, [], [], Outcome.SOFT_404, "bestaat niet"),
    ("soft404-en-h2-requested.html", 200, [], [], Outcome.SOFT_404, "could not be found"),
    ("soft404-nginx-plain.html", 200, [], [], Outcome.SOFT_404, "404 Not Found"),
    # the same pages with an honest status stay broken
    ("soft404-wordpress-oops.html", 404, [], NAMES, Outcome.BROKEN, "HTTP 404 at https://pinkribbontrust.org.uk/"),
    # parking
    ("parked-sedo.html", 200, [], NAMES, Outcome.PARKED, "parking page (Sedo)"),
    ("parked-bodis.html", 200, [], NAMES, Outcome.PARKED, "parking page (Bodis)"),
    ("parked-parkingcrew-related-links.html", 200, [], [], Outcome.PARKED, "parking page (ParkingCrew)"),
    ("parked-godaddy-for-sale.html", 200, [], NAMES, Outcome.PARKED, "parking page (GoDaddy)"),
    ("parked-godaddy-lander-stub.html", 200, [], NAMES, Outcome.PARKED, "parking page (GoDaddy)"),
    ("parked-dan-buy-now.html", 200, [], NAMES, Outcome.PARKED, "parking page (Dan.com)"),
    ("parked-afternic.html", 200, [], [], Outcome.PARKED, "parking page (Afternic)"),
    ("parked-hugedomains.html", 200, [], NAMES, Outcome.PARKED, "parking page (HugeDomains)"),
    ("parked-js-redirect-hugedomains.html", 200, [], [], Outcome.PARKED, "parking page (HugeDomains)"),
    ("parked-registrar-placeholder.html", 200, [], [], Outcome.PARKED, "parking page (Namecheap)"),
    # a parking page behind a cross-domain redirect is parked, not moved
    ("parked-sedo.html", 200, [(302, "https://ww1.pinkribbon-parked.com/")], NAMES, Outcome.PARKED, "Sedo"),
    # a 404 carrying a parking template: the server says gone, so broken (parked is for pages served as live)
    ("parked-sedo.html", 404, [], NAMES, Outcome.BROKEN, "HTTP 404"),
    # unrelated content needs both: spam signals and the names absent
    ("unrelated-casino.html", 200, [], NAMES, Outcome.PARKED,
     "unrelated content: gambling; the organization's names are absent"),
    ("unrelated-pharma.html", 200, [], NAMES, Outcome.PARKED, "unrelated content: pharma"),
    ("unrelated-link-farm.html", 200, [], ["Pink Ribbon Trust Support"], Outcome.PARKED, "unrelated content: link farm"),
    ("unrelated-casino.html", 200, [], [], Outcome.OK, "HTTP 200"),             # no names: cannot judge
    ("unrelated-casino.html", 200, [(301, "https://casino-bonus.example.com/")], NAMES, Outcome.PARKED, "gambling"),
    ("ok-charity-casino-night.html", 200, [], NAMES, Outcome.OK, "HTTP 200"),   # fundraiser, names present
    # bot challenges, whatever the status
    ("challenge-cloudflare.html", 403, [], NAMES, Outcome.BLOCKED, "could not verify: HTTP 403 (bot challenge, Cloudflare)"),
    ("challenge-cloudflare.html", 200, [], NAMES, Outcome.BLOCKED, "HTTP 200 (bot challenge"),
    ("challenge-cloudflare.html", 503, [], NAMES, Outcome.BLOCKED, "HTTP 503 (bot challenge"),
    ("challenge-akamai.html", 403, [], NAMES, Outcome.BLOCKED, "Akamai"),
    ("challenge-imperva.html", 200, [], NAMES, Outcome.BLOCKED, "Imperva"),
    ("challenge-captcha.html", 200, [], NAMES, Outcome.BLOCKED, "captcha"),
    # genuine pages
    ("ok-charity-homepage.html", 200, [], NAMES, Outcome.OK, "HTTP 200"),
    ("ok-charity-news-404.html", 200, [], ["Breast Cancer Support Network"], Outcome.OK, "HTTP 200"),
    ("ok-name-only-in-title.html", 200, [], ["Pink Hope Circle"], Outcome.OK, "HTTP 200"),
    ("ok-name-only-in-title.html", 200, [], ["Somebody Else"], Outcome.OK, "HTTP 200"),  # names absent alone: ok
    ("ok-charity-fr.html", 200, [], ["Ruban Rose Ile de France"], Outcome.OK, "HTTP 200"),
    ("ok-charity-shop-sale.html", 200, [], NAMES, Outcome.OK, "HTTP 200"),
    ("ok-resources-directory.html", 200, [], ["Unrelated Name"], Outcome.OK, "HTTP 200"),
    ("ok-contact-recaptcha.html", 200, [], [], Outcome.OK, "HTTP 200"),
]


@pytest.mark.parametrize(("fixture", "status", "redirects", "names", "outcome", "reason"), PAGE_TABLE)
def test_pages(fixture: str, status: int, redirects: list, names: list[str], outcome: Outcome, reason: str) -> None:
    check(make_trace(HOME, redirects, status=status, text=fixture_text(fixture)), outcome, reason, names=names)


# ---------------------------------------------------------------------------------------------
# Redirect semantics
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "redirects"), [
    ("http://pinkribbontrust.org.uk/", [(301, "https://pinkribbontrust.org.uk/")]),
    ("https://pinkribbontrust.org.uk/", [(301, "https://www.pinkribbontrust.org.uk/")]),
    ("https://www.pinkribbontrust.org.uk/", [(308, "https://pinkribbontrust.org.uk/")]),
    ("https://pinkribbontrust.org.uk/support", [(301, "/support/")]),
    ("https://PinkRibbonTrust.org.uk/", [(302, "https://pinkribbontrust.org.uk/")]),
    ("https://pinkribbontrust.org.uk/index.html", [(301, "/")]),
    ("http://pinkribbontrust.org.uk/support", [(301, "https://pinkribbontrust.org.uk/support"),
                                               (302, "https://www.pinkribbontrust.org.uk/support/")]),
])
def test_canonical_redirects_are_ok(url: str, redirects: list) -> None:
    result = check(make_trace(url, redirects), Outcome.OK, "after canonical redirect")
    assert result.cause == Cause.CANONICAL
    assert suggested_url(result) is None


def test_no_redirect_is_plain_ok() -> None:
    result = check(make_trace(HOME), Outcome.OK, "HTTP 200")
    assert result.cause is None and result.reason == "HTTP 200"


def test_same_domain_permanent_redirect_is_redirected() -> None:
    result = check(make_trace("https://x.org/about", [(301, "https://x.org/new-home/")]),
                   Outcome.REDIRECTED, "permanent redirect to https://x.org/new-home/")
    assert result.cause == Cause.PERMANENT_REDIRECT
    assert suggested_url(result) == "https://x.org/new-home/"


def test_permanent_redirect_to_a_subdomain_is_redirected() -> None:
    check(make_trace("https://x.org/", [(308, "https://support.x.org/")]), Outcome.REDIRECTED,
          "permanent redirect to https://support.x.org/")


def test_same_domain_temporary_redirect_is_ok_with_a_note() -> None:
    result = check(make_trace("https://x.org/", [(302, "/en/welcome")]), Outcome.OK,
                   "after temporary redirect to https://x.org/en/welcome")
    assert suggested_url(result) is None


def test_suggestion_stops_at_the_first_temporary_hop() -> None:
    trace = make_trace("http://x.org/a", [(301, "https://x.org/a"), (301, "https://x.org/b"), (302, "https://x.org/c")])
    result = check(trace, Outcome.REDIRECTED, "permanent redirect to https://x.org/b")
    assert suggested_url(result) == "https://x.org/b"


def test_temporary_then_permanent_is_not_a_move() -> None:
    check(make_trace("https://x.org/a", [(302, "https://x.org/b"), (301, "https://x.org/c")]), Outcome.OK,
          "temporary redirect")


def test_cross_domain_redirect_is_moved() -> None:
    result = check(make_trace("https://breastcancercare.org.uk/", [(301, "https://breastcancernow.org/")]),
                   Outcome.MOVED, "redirects to breastcancernow.org")
    assert result.reason == "redirects to breastcancernow.org"
    assert result.cause == Cause.CROSS_DOMAIN
    assert suggested_url(result) == "https://breastcancernow.org/"


def test_cross_domain_temporary_redirect_is_moved_and_says_so() -> None:
    check(make_trace("https://x.org/", [(302, "https://y.org/")]), Outcome.MOVED, "redirects to y.org (temporary")


def test_round_trip_through_another_domain_is_not_moved() -> None:
    trace = make_trace("https://x.org/", [(302, "https://sso.y.com/check"), (302, "https://x.org/")])
    check(trace, Outcome.OK, "HTTP 200")


def test_meta_refresh_stub_to_another_domain_is_moved() -> None:
    stub = '<html><head><meta http-equiv="refresh" content="0;url=https://newname.org/"></head><body></body></html>'
    check(make_trace("https://x.org/", text=stub), Outcome.MOVED, "redirects to newname.org (client-side")


@pytest.mark.parametrize("destination", ["https://sedo.com/search/details/?domain=x.org",
                                         "https://www.hugedomains.com/domain_profile.cfm?d=x.org",
                                         "https://www.afternic.com/forsale/x.org", "https://dan.com/buy-domain/x.org"])
def test_redirect_to_a_parking_service_is_parked(destination: str) -> None:
    result = check(make_trace("https://x.org/", [(302, destination)], text="<title>Buy</title>"), Outcome.PARKED,
                   "parking page (")
    assert result.cause == Cause.PARKING


def test_parking_service_midway_in_the_chain_is_parked() -> None:
    trace = make_trace("https://x.org/", [(302, "https://trk.parklogic.com/r?d=x.org"), (302, "https://ads.example.net/")])
    check(trace, Outcome.PARKED, "parking page (ParkLogic)")


@pytest.mark.parametrize(("url", "home"), [
    ("https://x.org/services/helpline", "https://x.org/"),
    ("https://x.org/services/helpline", "https://www.x.org/index.php"),
    ("https://x.org/?page_id=12", "https://x.org/"),
    ("https://x.org/about-us", "https://x.org/en/"),
])
def test_deep_link_sent_to_home_is_soft_404(url: str, home: str) -> None:
    result = check(make_trace(url, [(301, home)]), Outcome.SOFT_404, "deep link redirected to the home page")
    assert result.cause == Cause.REDIRECTED_HOME


def test_home_to_home_is_not_soft_404() -> None:
    check(make_trace("https://x.org/index.html", [(301, "https://x.org/")]), Outcome.OK, "canonical")


def test_deep_link_sent_to_another_domains_home_is_moved() -> None:
    check(make_trace("https://x.org/helpline", [(301, "https://y.org/")]), Outcome.MOVED, "redirects to y.org")


def test_redirect_to_an_error_url_is_soft_404() -> None:
    check(make_trace("https://x.org/helpline", [(302, "/errors/404.aspx")]), Outcome.SOFT_404,
          "redirected to an error page https://x.org/errors/404.aspx")


def test_chain_ending_404_is_broken_at_the_final_url() -> None:
    result = check(make_trace("https://x.org/a", [(301, "https://x.org/b")], status=404), Outcome.BROKEN,
                   "HTTP 404 at https://x.org/b")
    assert result.cause == Cause.HTTP_STATUS
    assert len(result.hops) == 2


def test_chain_through_another_domain_ending_404_is_broken() -> None:
    check(make_trace("https://x.org/", [(301, "https://y.org/")], status=410), Outcome.BROKEN, "HTTP 410 at https://y.org/")


# ---------------------------------------------------------------------------------------------
# Transport failures and statuses
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("cause", "error", "outcome", "reason"), [
    (Cause.DNS, "Name or service not known", Outcome.BROKEN, "no such domain: x.org"),
    (Cause.CONNECT, "", Outcome.BROKEN, "cannot connect to x.org"),
    (Cause.CONNECT, "connection refused (x.org:80)", Outcome.BROKEN, "cannot connect: connection refused (x.org:80)"),
    (Cause.TLS, "certificate has expired", Outcome.BROKEN, "invalid TLS certificate: certificate has expired"),
    (Cause.PRIVATE_ADDRESS, "x.org resolves to 10.0.0.5", Outcome.BROKEN, "refused: x.org resolves to 10.0.0.5"),
    (Cause.BAD_URL, "scheme 'ftp' is not http or https", Outcome.BROKEN, "bad URL: scheme 'ftp'"),
    (Cause.TIMEOUT, "", Outcome.TRANSIENT, "timed out after 30 s"),
    (Cause.PROTOCOL, "connection reset by peer", Outcome.TRANSIENT, "protocol error: connection reset by peer"),
    (Cause.RATE_LIMITED, "", Outcome.TRANSIENT, "rate limited"),
    (Cause.CHALLENGE, "", Outcome.BLOCKED, "could not verify"),
])
def test_transport_causes(cause: Cause, error: str, outcome: Outcome, reason: str) -> None:
    trace = make_trace("https://x.org/", status=None, text=None, cause=cause, error=error, elapsed_ms=30_000)
    result = check(trace, outcome, reason)
    assert result.cause == cause
    assert result.status_code is None and result.names_found is None


def test_redirect_loop_and_too_many_redirects_are_broken() -> None:
    loop = make_trace("https://x.org/a", [(301, "/b"), (301, "/a")], status=None, cause=Cause.REDIRECT_LOOP)
    check(loop, Outcome.BROKEN, "redirect loop at https://x.org/b")
    many = make_trace("https://x.org/0", [(302, f"/{i}") for i in range(1, 12)], status=None,
                      cause=Cause.TOO_MANY_REDIRECTS)
    check(many, Outcome.BROKEN, "too many redirects (11 hops)")


def test_bad_redirect_cause_is_broken() -> None:
    error = "302 redirect to a non-http(s) Location 'ftp://x'"
    trace = make_trace("https://x.org/", [], status=302, text=None, cause=Cause.BAD_REDIRECT, error=error)
    check(trace, Outcome.BROKEN, f"bad redirect at https://x.org/: {error}")


def test_dns_failure_after_a_redirect_names_the_failing_host() -> None:
    # As fetch() leaves it: the 301 hop recorded, final_url on the target that did not resolve.
    trace = FetchTrace(url="https://x.org/", hops=[Hop("https://x.org/", 301, "https://gone.example/")],
                       final_url="https://gone.example/", cause=Cause.DNS, error="no address")
    check(trace, Outcome.BROKEN, "no such domain: gone.example")


def test_timeout_reasons() -> None:
    check(make_trace("https://x.org/", status=None, cause=Cause.TIMEOUT, elapsed_ms=30_000), Outcome.TRANSIENT,
          "timed out after 30 s")
    check(make_trace("https://x.org/", status=None, cause=Cause.TIMEOUT, elapsed_ms=95_000, attempts=3),
          Outcome.TRANSIENT, "timed out 3 times (95 s in all)")


def test_body_timeout_after_a_200_is_transient_not_ok() -> None:
    # fetch() keeps the status and sets the cause when the body stalls.
    trace = make_trace("https://x.org/", status=200, cause=Cause.TIMEOUT, error="read timeout", elapsed_ms=15_000)
    check(trace, Outcome.TRANSIENT, "timed out after 15 s")


@pytest.mark.parametrize("status", [300, 302, 304, 101])
def test_leftover_3xx_or_1xx_is_a_bad_redirect(status: int) -> None:
    result = check(make_trace("https://x.org/", status=status, text=None), Outcome.BROKEN, f"HTTP {status} without a usable Location")
    assert result.cause == Cause.BAD_REDIRECT


@pytest.mark.parametrize(("status", "outcome", "reason"), [
    (404, Outcome.BROKEN, "HTTP 404 at https://x.org/"),
    (410, Outcome.BROKEN, "HTTP 410 at https://x.org/"),
    (400, Outcome.BROKEN, "HTTP 400"),
    (405, Outcome.BROKEN, "HTTP 405"),
    (451, Outcome.BROKEN, "HTTP 451"),
    (401, Outcome.BLOCKED, "could not verify: HTTP 401"),
    (403, Outcome.BLOCKED, "could not verify: HTTP 403"),
    (407, Outcome.BLOCKED, "could not verify: HTTP 407"),
    (999, Outcome.BLOCKED, "could not verify: HTTP 999"),
    (500, Outcome.TRANSIENT, "HTTP 500"),
    (502, Outcome.TRANSIENT, "HTTP 502"),
    (503, Outcome.TRANSIENT, "HTTP 503"),
    (204, Outcome.OK, "HTTP 204"),
])
def test_statuses(status: int, outcome: Outcome, reason: str) -> None:
    check(make_trace("https://x.org/", status=status, text="<title>Error</title><p>Something.</p>"), outcome, reason)


def test_5xx_reason_counts_attempts() -> None:
    check(make_trace("https://x.org/", status=503, text=None, attempts=3), Outcome.TRANSIENT, "HTTP 503 after 3 attempts")


def test_plain_403_without_markers_is_blocked_not_broken() -> None:
    result = check(make_trace("https://x.org/", status=403, text="<h1>Forbidden</h1>" + "<p>x</p>" * 5),
                   Outcome.BLOCKED, "could not verify: HTTP 403")
    assert result.outcome.is_dead is False


def test_cf_mitigated_header_marks_a_challenge() -> None:
    trace = make_trace("https://x.org/", status=403, text=None, headers={"cf-mitigated": "challenge"})
    result = check(trace, Outcome.BLOCKED, "could not verify: HTTP 403 (bot challenge, Cloudflare)")
    assert result.cause == Cause.CHALLENGE


def test_429_with_retry_after_is_transient() -> None:
    trace = make_trace("https://x.org/", status=429, text=None, retry_after_s=300, attempts=2)
    result = check(trace, Outcome.TRANSIENT, "rate limited: HTTP 429, Retry-After 300 s (2 attempts)")
    assert result.cause == Cause.RATE_LIMITED


def test_429_once_without_retry_after_is_transient() -> None:
    check(make_trace("https://x.org/", status=429, text=None), Outcome.TRANSIENT, "rate limited: HTTP 429")


def test_429_persisting_without_retry_after_is_blocked() -> None:
    check(make_trace("https://x.org/", status=429, text=None, attempts=3), Outcome.BLOCKED,
          "could not verify: HTTP 429 without Retry-After (3 attempts)")


# ---------------------------------------------------------------------------------------------
# Result fields
# ---------------------------------------------------------------------------------------------


def test_result_carries_the_trace_facts() -> None:
    trace = make_trace("http://pinkribbontrust.org.uk/", [(301, HOME)], text=fixture_text("ok-charity-homepage.html"),
                       attempts=2, elapsed_ms=340)
    result = classify(trace, names=NAMES, checked_at="2024-05-01T10:00:00Z")
    assert result.url == "http://pinkribbontrust.org.uk/"
    assert result.final_url == HOME
    assert result.status_code == 200
    assert result.hops == tuple(trace.hops)
    assert result.elapsed_ms == 340 and result.attempts == 2 and result.bytes_read == trace.bytes_read
    assert result.title == "Pink Ribbon Trust | Support for everyone affected by breast cancer"
    assert result.fingerprint is not None and result.names_found is True
    assert result.checked_at == "2024-05-01T10:00:00Z"
    assert result.cause == "canonical_redirect"
    assert result.as_json()["outcome"] == "ok"


def test_names_found_is_none_without_names_or_page() -> None:
    assert classify(make_trace(HOME)).names_found is None
    assert classify(make_trace(HOME, status=404), names=NAMES).names_found is None


def test_challenge_page_leaves_no_fingerprint() -> None:
    result = classify(make_trace(HOME, text=fixture_text("challenge-cloudflare.html")), names=NAMES)
    assert result.fingerprint is None and result.names_found is None


def test_non_html_body_is_ok() -> None:
    trace = make_trace("https://x.org/report.pdf", text=None)
    trace.body, trace.content_type = b"%PDF-1.7 ...", "application/pdf"
    check(trace, Outcome.OK, "HTTP 200")


def test_body_without_text_is_decoded() -> None:
    trace = make_trace("https://x.org/", text=None)
    trace.body = fixture_text("parked-sedo.html").encode()
    check(trace, Outcome.PARKED, "Sedo")


# ---------------------------------------------------------------------------------------------
# Identity against the last healthy check
# ---------------------------------------------------------------------------------------------


def healthy_baseline() -> Baseline:
    result = classify(make_trace(HOME, text=fixture_text("ok-charity-homepage.html")), names=NAMES)
    assert result.outcome is Outcome.OK
    return Baseline.from_result(result)


def test_baseline_from_result() -> None:
    baseline = healthy_baseline()
    assert baseline.site == "pinkribbontrust.org.uk"
    assert baseline.names_found is True
    assert baseline.title and baseline.fingerprint


def test_small_edits_do_not_change_identity() -> None:
    result = classify(make_trace(HOME, text=fixture_text("ok-charity-homepage-updated.html")), names=NAMES,
                      baseline=healthy_baseline())
    assert result.outcome is Outcome.OK
    assert identity_changed(result, healthy_baseline(), NAMES) is None


def test_names_gone_is_an_identity_change_but_outcome_stays_ok() -> None:
    # An unrelated page without spam words: not parked, but no longer the organization's.
    text = ("<title>Online Casino Bonus</title><h1>Welcome</h1><p>"
            + "We write about travel, gardens and the best places to eat in Lisbon this summer. " * 10 + "</p>")
    baseline = healthy_baseline()
    result = classify(make_trace(HOME, text=text), names=NAMES, baseline=baseline)
    assert result.outcome is Outcome.OK
    change = identity_changed(result, baseline, NAMES)
    assert change == "the page no longer mentions the organization's name (title now 'Online Casino Bonus')"
    assert result.reason == "HTTP 200"   # the note travels separately, for the history stage


def test_names_never_on_the_page_are_not_news() -> None:
    baseline = Baseline(fingerprint=None, title="Home", site="pinkribbontrust.org.uk", names_found=False)
    result = classify(make_trace(HOME, text=fixture_text("ok-name-only-in-title.html")), names=["Other Name"])
    assert identity_changed(result, baseline, ["Other Name"]) is None


def test_baseline_without_names_flag_falls_back_to_its_title() -> None:
    baseline = Baseline(title="Pink Ribbon Trust | Home", site="pinkribbontrust.org.uk")
    text = "<title>Lisbon food</title><p>" + "The best places to eat in Lisbon this summer. " * 10 + "</p>"
    result = classify(make_trace(HOME, text=text), names=NAMES)
    assert "no longer mentions" in (identity_changed(result, baseline, NAMES) or "")


def test_radical_content_change_without_names() -> None:
    baseline = healthy_baseline()
    text = fixture_text("ok-charity-news-404.html").replace("Breast Cancer Support Network", "Helping Hands")
    result = classify(make_trace(HOME, text=text), baseline=baseline)   # no names known
    change = identity_changed(result, baseline, ())
    assert change is not None and change.startswith("content changed radically since last healthy check (fingerprint distance ")
    assert "/64; title was 'Pink Ribbon Trust | Support" in change


def test_rewritten_page_keeping_its_title_words_is_not_flagged() -> None:
    baseline = healthy_baseline()
    text = ("<title>Pink Ribbon Trust – Home</title><p>"
            + "A completely rewritten welcome text about our new services and volunteers. " * 10 + "</p>")
    result = classify(make_trace(HOME, text=text))
    assert identity_changed(result, baseline, ()) is None


def test_javascript_shell_cannot_lose_the_names() -> None:
    baseline = healthy_baseline()
    result = classify(make_trace(HOME, text="<title>Home</title><div id=root></div>"), names=NAMES)
    assert result.names_found is False and result.fingerprint is None
    assert identity_changed(result, baseline, NAMES) is None


def test_final_domain_change_since_baseline() -> None:
    baseline = Baseline(fingerprint=None, title="T", site="oldname.org", names_found=True)
    result = classify(make_trace(HOME, text=fixture_text("ok-charity-homepage.html")), names=NAMES)
    assert identity_changed(result, baseline, NAMES) == (
        "the site now ends on pinkribbontrust.org.uk (was oldname.org at the last healthy check)")


def test_identity_is_not_judged_on_failed_or_blocked_checks() -> None:
    baseline = healthy_baseline()
    blocked = classify(make_trace(HOME, text=fixture_text("challenge-cloudflare.html")), names=NAMES)
    assert identity_changed(blocked, baseline, NAMES) is None
    broken = classify(make_trace(HOME, status=404), names=NAMES)
    assert identity_changed(broken, baseline, NAMES) is None


def test_spam_still_wins_over_identity() -> None:
    result = classify(make_trace(HOME, text=fixture_text("unrelated-casino.html")), names=NAMES,
                      baseline=healthy_baseline())
    assert result.outcome is Outcome.PARKED
    assert identity_changed(result, healthy_baseline(), NAMES) is None


def test_spam_without_names_is_parked_when_the_page_changed_completely() -> None:
    trace = make_trace(HOME, text=fixture_text("unrelated-casino.html"))
    check(trace, Outcome.PARKED, "unrelated content: gambling; the page changed completely since the last healthy check",
          baseline=healthy_baseline())
    # without a baseline (or names) there is no second sign: ok
    check(trace, Outcome.OK, "HTTP 200")


def test_casino_night_with_a_baseline_is_not_parked() -> None:
    # Its title shares "Pink Ribbon Trust" with the baseline's: not a total change.
    trace = make_trace(HOME, text=fixture_text("ok-charity-casino-night.html"))
    check(trace, Outcome.OK, "HTTP 200", baseline=healthy_baseline())


# ---------------------------------------------------------------------------------------------
# Timing sanity (printed, not asserted: the machine is shared)
# ---------------------------------------------------------------------------------------------


def test_timing_sanity(capsys: pytest.CaptureFixture[str]) -> None:
    # A typical ~20 KB homepage: the fixture with its main sections repeated twice more.
    html = fixture_text("ok-charity-homepage.html")
    sections = html[html.index('<section class="services">'):html.index("</main>")]
    html = html.replace("</main>", sections * 2 + "</main>")
    trace = make_trace("http://pinkribbontrust.org.uk/", [(301, HOME)], text=html)
    rounds = 200
    classify(trace, names=NAMES)
    start = time.process_time()
    for _ in range(rounds):
        classify(trace, names=NAMES)
    mean_ms = (time.process_time() - start) / rounds * 1000
    with capsys.disabled():
        print(f"\nread_page+classify on a {len(html) / 1024:.0f} KB page: {mean_ms:.2f} ms CPU (mean of {rounds})")


def test_meta_refresh_stub_to_a_parking_service_is_parked() -> None:
    stub = ('<html><body><meta http-equiv="refresh" '
            'content="0; url=https://sedo.com/search/details/?domain=x.org"></body></html>')
    check(make_trace("https://x.org/", text=stub), Outcome.PARKED, "parking page (Sedo)")


def test_blank_names_are_ignored() -> None:
    result = classify(make_trace(HOME, text=fixture_text("unrelated-casino.html")), names=["", "  "])
    assert result.outcome is Outcome.OK and result.names_found is None
