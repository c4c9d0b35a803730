"""read_page(): facts and signals from captured-style pages; names; SimHash."""

from __future__ import annotations

from pathlib import Path

import pytest

from checker.page import (
    MAX_TEXT_CHARS,
    PageFacts,
    fingerprint_distance,
    fold,
    mentions_any,
    read_page,
    simhash,
)

PAGES = Path(__file__).parent / "fixtures" / "pages"


def page(name: str, url: str = "https://pinkribbontrust.org.uk/") -> PageFacts:
    return read_page((PAGES / name).read_text(encoding="utf-8"), url)


# ---------------------------------------------------------------------------------------------
# Signals per fixture: every page is flagged for exactly the kind it is, and nothing else.
# ---------------------------------------------------------------------------------------------

SIGNAL_KINDS = ("not_found_signals", "parking_signals", "spam_signals", "challenge_signals")

EXPECTED_SIGNALS = [
    ("soft404-wordpress-oops.html", "not_found_signals", "Oops! That page can’t be found."),
    ("soft404-fr.html", "not_found_signals", "Page introuvable"),
    ("soft404-es.html", "not_found_signals", "Página no encontrada"),
    ("soft404-de.html", "not_found_signals", "Seite nicht gefunden"),
    ("soft404-it.html", "not_found_signals", "Pagina non trovata"),
    ("soft404-pt.html", "not_found_signals", "Erro 404"),
    ("soft404-nl.html", "not_found_signals", "Deze pagina bestaat niet"),
    ("soft404-en-h2-requested.html", "not_found_signals", "the page you requested could not be found"),
    ("soft404-nginx-plain.html", "not_found_signals", "404 Not Found"),
    ("parked-sedo.html", "parking_signals", "Sedo"),
    ("parked-bodis.html", "parking_signals", "Bodis"),
    ("parked-parkingcrew-related-links.html", "parking_signals", "ParkingCrew"),
    ("parked-godaddy-for-sale.html", "parking_signals", "GoDaddy"),
    ("parked-godaddy-lander-stub.html", "parking_signals", "GoDaddy"),
    ("parked-dan-buy-now.html", "parking_signals", "Dan.com"),
    ("parked-afternic.html", "parking_signals", "Afternic"),
    ("parked-hugedomains.html", "parking_signals", "HugeDomains"),
    ("parked-js-redirect-hugedomains.html", "parking_signals", "HugeDomains"),
    ("parked-registrar-placeholder.html", "parking_signals", "registrar placeholder"),
    ("unrelated-casino.html", "spam_signals", "gambling"),
    ("unrelated-pharma.html", "spam_signals", "pharma"),
    ("unrelated-link-farm.html", "spam_signals", "link farm"),
    ("challenge-cloudflare.html", "challenge_signals", "Cloudflare"),
    ("challenge-akamai.html", "challenge_signals", "Akamai"),
    ("challenge-imperva.html", "challenge_signals", "Imperva"),
    ("challenge-captcha.html", "challenge_signals", "captcha"),
]


@pytest.mark.parametrize(("fixture", "kind", "evidence"), EXPECTED_SIGNALS)
def test_fixture_shows_its_signal_and_no_other(fixture: str, kind: str, evidence: str) -> None:
    facts = page(fixture)
    assert any(evidence in signal for signal in getattr(facts, kind)), getattr(facts, kind)
    others = {k: getattr(facts, k) for k in SIGNAL_KINDS if k != kind and getattr(facts, k)}
    assert others == {}


GENUINE_PAGES = [
    "ok-charity-homepage.html",
    "ok-charity-homepage-updated.html",
    "ok-charity-news-404.html",          # "404" and "page not found" inside news items
    "ok-name-only-in-title.html",
    "ok-charity-fr.html",
    "ok-charity-shop-sale.html",         # "domain", "sale", "listed" used innocently
    "ok-resources-directory.html",       # 40 outbound links, but a sentence each
    "ok-contact-recaptcha.html",         # a captcha on a real contact form
]


@pytest.mark.parametrize("fixture", GENUINE_PAGES)
def test_genuine_pages_raise_no_signal(fixture: str) -> None:
    facts = page(fixture)
    assert {k: getattr(facts, k) for k in SIGNAL_KINDS if getattr(facts, k)} == {}
    assert facts.parking_provider is None


def test_casino_night_fundraiser_looks_like_gambling_but_names_the_charity() -> None:
    # The spam signal alone is not a verdict: classify() also needs the names to be absent.
    facts = page("ok-charity-casino-night.html")
    assert facts.spam_signals == ("gambling",)
    assert mentions_any(facts, ["Pink Ribbon Trust"])


def test_parking_provider_is_named_rather_than_the_ad_network() -> None:
    assert page("parked-sedo.html").parking_provider == "Sedo"
    assert page("parked-parkingcrew-related-links.html").parking_provider == "ParkingCrew"


# ---------------------------------------------------------------------------------------------
# Facts
# ---------------------------------------------------------------------------------------------


def test_homepage_facts() -> None:
    facts = page("ok-charity-homepage.html")
    assert facts.title == "Pink Ribbon Trust | Support for everyone affected by breast cancer"
    assert facts.description.startswith("Pink Ribbon Trust offers free support")
    assert facts.language == "en-GB"
    assert facts.canonical_url == "https://pinkribbontrust.org.uk/"
    assert facts.headings[0] == "No one should face breast cancer alone"
    assert 500 < facts.word_count < 800
    assert facts.link_count > 40 and facts.external_link_count == 5
    assert "gtag(" not in facts.text and ".hero{" not in facts.text        # scripts and styles are not text
    assert "Skip to main content No one should face" not in facts.text    # but words do not run together
    assert facts.fingerprint is not None and len(facts.fingerprint) == 16


def test_relative_urls_are_made_absolute_with_base_href() -> None:
    html = """<html><head><base href="https://x.org/en/"><link rel="canonical" href="home">
    <meta http-equiv="refresh" content="0; URL='new/'"></head><body>Moved</body></html>"""
    facts = read_page(html, "https://x.org/old")
    assert facts.canonical_url == "https://x.org/en/home"
    assert facts.refresh_url == "https://x.org/en/new/"


def test_script_redirect_only_on_thin_pages() -> None:
    stub = read_page('<script>location.href = "https://y.org/";</script>', "https://x.org/")
    assert stub.script_redirect_url == "https://y.org/"
    long_page = read_page("<p>" + "word " * 500 + '</p><script>location.href="/login"</script>', "https://x.org/")
    assert long_page.script_redirect_url is None


@pytest.mark.parametrize("html", ["", "   ", "<?xml version='1.0' encoding='utf-8'?><html><title>T</title></html>",
                                  "\x00\x01binary", "<html><frameset></frameset></html>", "just text"])
def test_odd_input_never_raises(html: str) -> None:
    facts = read_page(html, "https://x.org/")
    assert isinstance(facts, PageFacts)


def test_xml_declaration_is_tolerated() -> None:
    assert read_page("<?xml version='1.0' encoding='utf-8'?><html><title>T</title></html>", "https://x.org/").title == "T"


def test_huge_page_is_capped() -> None:
    html = "<html><title>Big</title><body>" + "<p>lorem ipsum dolor sit amet</p>" * 20_000 + "</body></html>"
    facts = read_page(html, "https://x.org/")
    assert facts.title == "Big"
    assert len(facts.text) <= MAX_TEXT_CHARS
    assert facts.word_count < 200_000 / 5   # only the first 200 KB were read


# ---------------------------------------------------------------------------------------------
# Soft-404 wording: where it appears matters
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("title", ["404 | Pink Ribbon Trust", "Not Found", "Oops! 404", "Error 404 - Trust",
                                   "Seite nicht gefunden – Verein", "ページが見つかりません"])
def test_not_found_titles(title: str) -> None:
    assert read_page(f"<title>{title}</title><p>Sorry.</p>", "https://x.org/a").not_found_signals


@pytest.mark.parametrize("title", ["Route 404 Cycling Challenge | Trust", "Lost & Not Found: a grief support circle",
                                   "A404 Helpline", "Highway 404 walk"])
def test_innocent_titles(title: str) -> None:
    assert read_page(f"<title>{title}</title><p>Sorry.</p>", "https://x.org/a").not_found_signals == ()


def test_not_found_wording_in_long_body_text_is_ignored() -> None:
    body = "<p>" + "Our volunteers answer calls every day. " * 30 + "If you see page not found, start again.</p>"
    assert read_page(f"<title>Home</title><h1>Welcome</h1>{body}", "https://x.org/").not_found_signals == ()


def test_bare_404_in_h2_is_ignored_but_a_phrase_counts() -> None:
    assert read_page("<title>T</title><h2>404 volunteers</h2><p>" + "x " * 100, "https://x.org/").not_found_signals == ()
    assert read_page("<title>T</title><h2>Page not found</h2>", "https://x.org/").not_found_signals


# ---------------------------------------------------------------------------------------------
# Parking, spam and challenge wording only counts in context
# ---------------------------------------------------------------------------------------------


def test_for_sale_mention_in_a_long_article_is_not_parking() -> None:
    body = "<p>" + "We help families every week with meals and lifts to hospital. " * 50
    body += "Beware of emails claiming this domain is for sale: they are a scam.</p>"
    facts = read_page(f"<title>News | Trust</title><h1>Scam warning</h1>{body}", "https://x.org/")
    assert facts.parking_signals == ()


def test_related_links_sidebar_is_not_a_parking_page() -> None:
    html = "<title>Our groups</title><h2>Related links</h2><ul>" + "".join(
        f'<li><a href="/g{i}">Group {i}</a></li>' for i in range(6)) + "</ul>"
    assert read_page(html, "https://x.org/").parking_signals == ()


def test_godaddy_website_builder_link_is_not_parking() -> None:
    html = ('<title>Pink Hope</title><h1>Welcome</h1><p>We support families in our town.</p>'
            '<footer><a href="https://www.godaddy.com/websites/website-builder">Powered by GoDaddy</a></footer>')
    assert read_page(html, "https://x.org/").parking_signals == ()


def test_challenge_scripts_on_a_real_page_are_not_a_challenge() -> None:
    facts = page("ok-charity-homepage.html")   # carries Cloudflare's /cdn-cgi/challenge-platform/ script
    assert facts.challenge_signals == ()


def test_long_page_titled_access_denied_is_not_a_challenge() -> None:
    html = "<title>Access Denied</title><p>" + "A story about access to treatment. " * 60 + "</p>"
    assert read_page(html, "https://x.org/").challenge_signals == ()


# ---------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------


def facts_with(text: str, title: str = "") -> PageFacts:
    return PageFacts(url="https://x.org/", title=title, text=text)


@pytest.mark.parametrize(("text", "names", "expected"), [
    ("Welcome to the Pink Ribbon Trust", ["Pink Ribbon Trust"], True),
    ("welcome to the PINK-RIBBON trust!", ["Pink Ribbon Trust"], True),
    ("Association Ruban Rose Île-de-France", ["Ruban Rose Ile de France"], True),
    ("Fundacion Lazo Rosa", ["Fundación Lazo Rosa"], True),
    ("Friends & Family of Breast Cancer", ["Friends and Family of Breast Cancer"], True),
    ("Friends and Family of Breast Cancer", ["Friends & Family of Breast Cancer"], True),
    ("Email info@breastcancernow.org", ["Breast Cancer Now"], True),
    ("Brustkrebs Hilfe Nord hilft", ["Brustkrebs Hilfe Nord e.V."], True),
    ("Pink Ribbon Foundation", ["The Pink Ribbon Foundation"], True),
    ("Pink Ribbon Trusted partners", ["Pink Ribbon Trust"], False),     # whole words only
    ("Nothing about us here", ["Pink Ribbon Trust", "PRT Ltd"], False),
    ("Support from the ACS helpline", ["ACS"], True),
    ("Support from the acs helpline", ["ACS"], False),                   # acronyms keep their case
    ("We are ACSO members", ["ACS"], False),                             # and whole words
    ("Call NBCF: 1800", ["National Breast Cancer Foundation", "NBCF"], True),
    ("", ["   ", ""], False),
])
def test_mentions_any(text: str, names: list[str], expected: bool) -> None:
    assert mentions_any(facts_with(text), names) is expected


def test_mentions_any_reads_the_title_too() -> None:
    facts = page("ok-name-only-in-title.html")
    assert mentions_any(facts, ["Pink Hope Circle"])
    assert "Pink Hope Circle" not in facts.text


def test_fold() -> None:
    assert fold("Página NO Encontrada – Ł’é") == "pagina no encontrada – l'e"


# ---------------------------------------------------------------------------------------------
# SimHash
# ---------------------------------------------------------------------------------------------


def test_simhash_is_stable_across_processes() -> None:
    # BLAKE2b, not hash(): the value must not depend on PYTHONHASHSEED.
    assert simhash("the quick brown fox jumps over the lazy dog".split()) == simhash(
        "The Quick Brown Fox jumps over the lazy dog".split())
    assert simhash(["a", "b", "c"]) == "0021424c485b5f43"


def test_near_identical_pages_are_close() -> None:
    before, after = page("ok-charity-homepage.html"), page("ok-charity-homepage-updated.html")
    assert before.fingerprint and after.fingerprint
    assert fingerprint_distance(before.fingerprint, after.fingerprint) <= 10


@pytest.mark.parametrize("other", ["unrelated-casino.html", "parked-sedo.html", "ok-charity-fr.html",
                                   "unrelated-link-farm.html", "ok-charity-news-404.html"])
def test_unrelated_pages_are_far(other: str) -> None:
    home = page("ok-charity-homepage.html").fingerprint
    fingerprint = page(other).fingerprint
    assert home and fingerprint
    assert fingerprint_distance(home, fingerprint) >= 20


def test_fingerprint_distance_bounds() -> None:
    assert fingerprint_distance("0" * 16, "0" * 16) == 0
    assert fingerprint_distance("0" * 16, "f" * 16) == 64


def test_too_little_text_has_no_fingerprint() -> None:
    assert read_page("<title>Loading</title><div id=app>Loading…</div>", "https://x.org/").fingerprint is None
