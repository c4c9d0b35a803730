"""What a fetched HTML page says about itself: title, text, links and warning signals.

`read_page()` parses a page once and extracts the facts classify.py judges from: soft-404 wording,
parking / for-sale pages, spam and link farms, bot challenges, and a SimHash fingerprint of the
visible text for spotting a homepage whose content changed identity.

Every detector is deliberately conservative (the product promise is "never a false alarm"):
wording counts where a page states what it *is* (title, main headings, or the whole text of a thin
page), never from a passing mention in a long article.

Parsing uses lxml directly rather than BeautifulSoup: on this machine BeautifulSoup(…, "lxml")
took ~10 ms for a 14 KB page, five times the checker's CPU budget per URL, while lxml.html parses
the same page in ~0.4 ms. Facts are pulled with compiled XPath queries (C speed) rather than a
Python walk over elements, and text analysis is capped.
"""

from __future__ import annotations

import re
import struct
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from hashlib import blake2b
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree

from directory.urls import registrable_domain

MAX_HTML_CHARS = 200_000        # analyse the start of a page only: title and headings come first
MAX_TEXT_CHARS = 20_000         # visible text kept (and scanned for wording)
MAX_HEADING_CHARS = 200         # one heading's text kept
FINGERPRINT_MAX_WORDS = 600     # enough words to identify a homepage; hashing is ~0.5 µs a word
MIN_WORDS_FOR_FINGERPRINT = 20  # below this a fingerprint says nothing (JS-rendered shells)
THIN_PAGE_WORDS = 400           # parking / not-found pages are short
CHALLENGE_PAGE_WORDS = 250      # bot challenge pages are shorter still


# ---------------------------------------------------------------------------------------------
# Text normalisation
# ---------------------------------------------------------------------------------------------

# Letters NFKD does not decompose into base letter + accent, and apostrophe look-alikes.
_EXTRA_FOLDS = {
    "ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ı": "i", "æ": "ae", "œ": "oe", "þ": "th",
    "’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'",
}
_EXTRA_FOLD_CHARS = re.compile("[" + "".join(_EXTRA_FOLDS) + "]")
_COMBINING_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_TOKEN = re.compile(r"\w+")


def fold(text: str) -> str:
    """Casefold, strip accents, unify apostrophes: 'Página’' -> "pagina'"."""
    text = text.casefold()
    if not text.isascii():
        text = _COMBINING_MARKS.sub("", unicodedata.normalize("NFKD", text))
        text = _EXTRA_FOLD_CHARS.sub(lambda match: _EXTRA_FOLDS[match.group()], text)
    return text


def fold_words(text: str) -> str:
    """fold() plus '&' read as 'and' and punctuation collapsed to single spaces, padded with a
    space at each end so ' name ' matches whole words only."""
    return _joined(_tokens(fold(text)))


def _tokens(folded: str) -> list[str]:
    """Words of folded text; '&' reads 'and', apostrophes vanish ("women's" -> "womens")."""
    return _TOKEN.findall(folded.replace("&", " and ").replace("'", ""))


def _joined(tokens: list[str]) -> str:
    return " " + " ".join(tokens) + " "


def _clean(text: str | None) -> str:
    return " ".join(text.split()) if text else ""


def _compile(patterns: list[str]) -> re.Pattern[str]:
    """One regex from folded alternatives, matched on folded text."""
    return re.compile("|".join(f"(?:{fold(p)})" for p in patterns))


# ---------------------------------------------------------------------------------------------
# Signal vocabularies (all matched on folded text)
# ---------------------------------------------------------------------------------------------

# Phrases that only a not-found page uses about itself.
_NOT_FOUND_STRONG = _compile([
    # English
    r"\bpage (?:was |is )?not found\b",
    r"\bpage (?:cannot|can't|can not|could not|couldn't) be found\b",
    r"\b(?:cannot|can't|could not|couldn't|unable to) find (?:the|that|this|your) page\b",
    r"\bpage (?:you (?:requested|are looking for|were looking for|'re looking for)|requested) "
    r"(?:could not|cannot|can't|does not|doesn't|was not|wasn't|is not|isn't|no longer)\b",
    r"\b(?:page|content|file|document|article) (?:does not|doesn't) exist\b",
    r"\b(?:page|content|link|url|article)\b.{0,40}\bno longer exists?\b",
    r"\berror 404\b", r"\b404 error\b", r"\b404 (?:- |– |: )?not found\b", r"\bhttp 404\b",
    r"\bnothing (?:was )?found here\b",
    # French
    r"\bpage (?:est )?introuvable\b", r"\bpage non trouvee\b", r"\berreur 404\b",
    r"\bpage\b.{0,40}\bn'existe (?:pas|plus)\b",
    # Spanish
    r"\bpagina no (?:encontrada|existe)\b",
    r"\bno se (?:ha )?(?:pudo )?encontr(?:o|ado|ar) la pagina\b",
    r"\bla pagina\b.{0,40}\bno existe\b",
    # German
    r"\bseite (?:wurde |konnte )?nicht gefunden\b", r"\bseite existiert nicht\b", r"\bfehler 404\b",
    # Italian
    r"\bpagina non (?:e )?(?:stata )?trovata\b", r"\bla pagina\b.{0,40}\bnon esiste\b",
    r"\berrore 404\b",
    # Portuguese
    r"\bpagina nao (?:foi )?encontrada\b", r"\bpagina\b.{0,40}\bnao existe\b", r"\berro 404\b",
    # Dutch
    r"\bpagina (?:is |werd |kon )?niet (?:worden )?gevonden\b", r"\bpagina bestaat niet\b",
    # Scandinavian, Finnish, Polish, Czech/Slovak, Hungarian, Romanian, Turkish
    r"\bsidan (?:kunde inte hittas|hittades inte|finns inte)\b",
    r"\bsiden (?:blev ikke fundet|findes ikke|finnes ikke|ble ikke funnet|kunne ikke findes)\b",
    r"\bsivua ei (?:loytynyt|loydy)\b",
    r"\bnie znaleziono strony\b", r"\bstrona nie (?:zostala znaleziona|istnieje)\b",
    r"\bstranka (?:nenalezena|nebyla nalezena|nenajdena|nebola najdena|neexistuje)\b",
    r"\boldal nem talalhato\b", r"\bpagina nu (?:a fost gasita|exista)\b", r"\bsayfa bulunamadi\b",
    # Greek, Russian, Arabic, Japanese, Chinese, Korean
    r"σελιδα δεν βρεθηκε", r"страница не (?:найдена|существует)", r"الصفحة غير موجودة",
    r"ページが見つかりません", r"页面不存在", r"找不到(?:该)?页面", r"页面未找到",
    r"페이지를 찾을 수 없습니다",
])
# Weak wording ("404", "Not Found") counts only as a whole segment of the title or an h1:
# "404 | Charity" or "Not Found", not "Route 404 Cycling Challenge" or "Lost & Not Found: grief".
_NOT_FOUND_WEAK_SEGMENT = re.compile(
    r"(?:oops )?(?:error )?(?:404|(?:page )?not found|nicht gefunden|introuvable)"
    r"(?: (?:error|page|not found))?")
_WEAK_NOT_FOUND_WORDS = ("404", "found", "gefunden", "introuvable")
# Every pattern above contains one of these (the long regex runs only when one occurs).
_NOT_FOUND_WORDS = tuple(fold(word) for word in (
    *_WEAK_NOT_FOUND_WORDS, "page", "pagin", "seite", "exist", "trouv", "encontr", "gevonden",
    "bestaat", "sidan", "siden", "sivua", "stron", "strank", "oldal", "sayfa", "longer",
    "σελιδα", "страниц", "الصفحة", "ページ", "页面", "找不到", "페이지",
))
_TITLE_SEPARATORS = re.compile(r"\s[|\-–—:·•»]\s|\s?[|–—·•»]\s?")

_FOR_SALE = _compile([
    r"\bdomain(?: name)? (?:is|may be|might be|could be) for sale\b",
    r"\bdomain(?:s| names?)? for sale\b",
    r"\b[a-z0-9-]+\.[a-z]{2,}(?:\.[a-z]{2,3})? (?:is|may be) for sale\b",
    r"\bthis website is for sale\b",
    r"\bdomain\b.{0,40}\blisted (?:it )?for sale\b",
    r"\b(?:buy|get|purchase|own) (?:this|the) domain\b",
    r"\bmake (?:an|us an|your) offer\b.{0,30}\bdomain\b",
    r"\b(?:inquire|enquire|ask) about this domain\b",
    r"\binterested in (?:buying |acquiring )?this domain\b",
    r"\bthis domain (?:name )?is available\b",
    r"\bdomain (?:name )?is available for (?:purchase|sale)\b",
    r"\bthe domain owner\b", r"\bdomain parking\b", r"\bdomain (?:is|has been) parked\b",
    r"\bdiese domain\b.{0,20}\b(?:verkauf|zu verkaufen)\b",
    r"\bdomain (?:ist|steht) zu verkaufen\b",
    r"\b(?:ce )?(?:nom de )?domaine (?:est )?a vendre\b",
    r"\bdominio (?:esta |puede estar )?(?:a la venta|en venta)\b",
    r"\bdit domein is te koop\b", r"\bdomein te koop\b",
    r"\bdominio (?:e )?in vendita\b", r"\bdominio (?:esta )?a venda\b",
])
_REGISTRAR_PLACEHOLDER = _compile([
    r"\bthis domain (?:name )?has (?:recently )?been registered\b",
    r"\bthis domain (?:name )?is registered (?:at|with)\b",
    r"\bparked free\b", r"\bcourtesy of (?:godaddy|namecheap|namesilo|ionos|gandi)\b",
    r"\bfuture home of something\b", r"\bregistered (?:at|with) namecheap\b",
])
# Parking link-farm lingo. "Related links" is also an innocent sidebar heading: it needs a provider.
_SPONSORED_LISTINGS = _compile([
    r"\brelated searches\b", r"\bsponsored (?:listings|links|results)\b", r"\bads by google\b",
])
_RELATED_LINKS = _compile([r"\brelated links\b"])
# Every pattern above contains one of these words (the regexes run only when one occurs).
_FOR_SALE_WORDS = ("domain", "domein", "dominio", "domaine", "for sale")
_PLACEHOLDER_WORDS = ("registered", "parked", "courtesy", "future home")
_LISTINGS_WORDS = ("related", "sponsored", "ads by")

# Registrable domains of parking and domain-aftermarket services, with the name a maintainer knows.
PARKING_SERVICES: dict[str, str] = {
    "sedo.com": "Sedo", "sedoparking.com": "Sedo", "bodis.com": "Bodis",
    "parkingcrew.net": "ParkingCrew", "above.com": "Above.com", "afternic.com": "Afternic",
    "dan.com": "Dan.com", "hugedomains.com": "HugeDomains", "buydomains.com": "BuyDomains",
    "undeveloped.com": "Undeveloped", "domainmarket.com": "DomainMarket",
    "brandbucket.com": "BrandBucket", "squadhelp.com": "Atom", "atom.com": "Atom",
    "efty.com": "Efty", "sav.com": "Sav", "uniregistry.com": "Uniregistry",
    "parklogic.com": "ParkLogic", "skenzo.com": "Skenzo", "domainsponsor.com": "DomainSponsor",
    "voodoo.com": "Voodoo", "smartname.com": "SmartName", "godaddy.com": "GoDaddy",
    "domainnamesales.com": "DomainNameSales", "perfectdomain.com": "PerfectDomain",
}
# Fragments of parking providers' page assets, found in the raw HTML (plain substring tests: fast).
_PARKING_MARKERS: list[tuple[tuple[str, ...], str]] = [
    (("sedoparking.com", "sedo.com/search"), "Sedo"),
    (("window.park =", "window.park="), "Bodis"),
    (("parkingcrew.net",), "ParkingCrew"),
    (("parking-lander", "parkingpage.godaddy", "godaddy.com/forsale"), "GoDaddy"),
    (("parkingpage.namecheap.com",), "Namecheap"),
    (("adsense/domains/caf.js",), "Google AdSense for Domains"),
]

# Spam vocabulary per category, as folded words and phrases. Counted on tokens (one Counter per
# page) rather than with regexes over the whole text, which cost ~1 ms a page.
_SPAM_VOCABULARY: dict[str, tuple[str, ...]] = {
    "gambling": (
        "casino", "casinos", "slot gacor", "slot online", "online slot", "online slots",
        "slot game", "slot games", "slot machine", "slot machines", "slot88", "gacor", "judi",
        "togel", "poker", "betting", "sportsbook", "baccarat", "roulette", "blackjack", "jackpot",
        "jackpots", "maxwin", "sbobet", "free spins", "bandar", "situs", "gambling", "bookmaker",
        "bookmakers",
    ),
    "payday loans": (
        "payday loan", "payday loans", "cash advance", "cash advances", "bad credit loan",
        "bad credit loans", "instant loan", "instant loans", "title loans", "pinjaman", "fast cash",
        "loan approval",
    ),
    "pharma": (
        "viagra", "cialis", "levitra", "kamagra", "tramadol", "xanax", "online pharmacy",
        "without prescription", "no prescription needed", "no prescription required",
    ),
    "adult": (
        "porn", "porno", "xxx", "sex videos", "sex video", "sex cams", "sex cam", "sex chat",
        "adult videos", "adult dating", "hot singles", "escort", "escorts", "camgirls", "cam girls",
        "live sex", "bokep", "hentai",
    ),
    "crypto scam": (
        "bitcoin casino", "crypto casino", "bitcoin giveaway", "crypto giveaway", "bitcoin doubler",
        "airdrop", "airdrops", "double your bitcoin", "double your crypto", "binary options",
        "forex signals", "crypto trading bot", "guaranteed returns", "guaranteed profit",
        "guaranteed profits",
    ),
    "piracy": (
        "watch movies online free", "watch free movies", "free movies online", "full movie",
        "full movies", "123movies", "putlocker", "fmovies", "nonton", "streaming film",
    ),
}
# Each term as (its words, its padded phrase or None for a single word), built once.
_SPAM_TERMS: dict[str, list[tuple[tuple[str, ...], str | None]]] = {
    label: [(tuple(term.split()), f" {term} " if " " in term else None) for term in terms]
    for label, terms in _SPAM_VOCABULARY.items()
}
_SPAM_FIRST_WORDS = frozenset(term.partition(" ")[0]
                              for terms in _SPAM_VOCABULARY.values() for term in terms)
# A category counts when it names the page (title/headings) and recurs, or saturates the text.
_SPAM_MIN_HITS_WITH_TITLE = 3
_SPAM_MIN_HITS_IN_TEXT = 8
_SPAM_MIN_HITS_PER_1000_WORDS = 10
# Link farm: many outbound links, less than one word of prose per link.
_LINK_FARM_MIN_EXTERNAL = 30
_LINK_FARM_MIN_EXTERNAL_SHARE = 0.5

# Bot-challenge markers: (pattern on the folded title, vendor) and (pattern on the raw lowered HTML,
# vendor, most words the page may have). Only markers of the challenge itself, not the scripts the
# same vendors put on every protected page (DataDome's tags.js, PerimeterX's client, Incapsula's
# resource script, Cloudflare's /cdn-cgi/challenge-platform/ beacon).
_CHALLENGE_TITLES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^just a moment(?:\.\.\.|…)?$|^attention required\b.*cloudflare"), "Cloudflare"),
    (re.compile(r"checking (?:your|if the site connection is) (?:browser|secure)"
                r"|ddos protection by"), "Cloudflare"),
    (re.compile(r"vercel security checkpoint"), "Vercel"),
    (re.compile(r"sucuri website firewall"), "Sucuri"),
    (re.compile(r"^access denied$|^request rejected$|^forbidden$"), "access denied page"),
    (re.compile(r"captcha|are you a (?:robot|human)|verify (?:that )?you are (?:a )?human"
                r"|human verification|bot (?:verification|check)|^security check$"
                r"|pardon our interruption"), "captcha"),
]
_CHALLENGE_MARKUP: list[tuple[re.Pattern[str], str, int]] = [
    (re.compile(r"cf_chl_opt|cf-chl-|_cf_chl|cf-browser-verification|sorry, you have been blocked"
                r"|cf-error-details|enable javascript and cookies to continue"),
     "Cloudflare", CHALLENGE_PAGE_WORDS),
    (re.compile(r"errors\.edgesuite\.net|reference&#32;&#35;|reference #\d+\.[0-9a-f]+\.\d+"),
     "Akamai", CHALLENGE_PAGE_WORDS),
    (re.compile(r"incapsula incident id"), "Imperva", CHALLENGE_PAGE_WORDS),
    (re.compile(r"captcha-delivery\.com"), "DataDome", CHALLENGE_PAGE_WORDS),
    (re.compile(r"px-captcha|press &amp; hold|press & hold to confirm"),
     "PerimeterX", CHALLENGE_PAGE_WORDS),
    (re.compile(r"sucuri website firewall|cloudproxy@sucuri"), "Sucuri", CHALLENGE_PAGE_WORDS),
    (re.compile(r"awswafintegration|aws-waf-token"), "AWS WAF", CHALLENGE_PAGE_WORDS),
    (re.compile(r"ddos-guard"), "DDoS-Guard", CHALLENGE_PAGE_WORDS),
    (re.compile(r"sgcaptcha"), "SiteGround", CHALLENGE_PAGE_WORDS),
    # Captcha widgets also sit on real contact forms: only a page that is little else counts.
    (re.compile(r"g-recaptcha|h-captcha|hcaptcha\.com|cf-turnstile|challenges\.cloudflare\.com"),
     "captcha", 60),
]

_SCRIPT_REDIRECT = re.compile(
    r"""(?:window\.|document\.|top\.|self\.)?location(?:\.href)?\s*=\s*["']([^"']+)["']"""
    r"""|location\.(?:replace|assign)\(\s*["']([^"']+)["']""")
_META_REFRESH_URL = re.compile(r"""url\s*=\s*['"]?([^'";]+)""", re.IGNORECASE)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)


# ---------------------------------------------------------------------------------------------
# The facts
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageFacts:
    """What one HTML page shows. Signals are short labels for maintainers' reasons; an empty
    tuple means "no sign of it"."""

    url: str
    title: str = ""
    description: str = ""
    language: str | None = None
    canonical_url: str | None = None
    refresh_url: str | None = None          # meta refresh target, absolute
    script_redirect_url: str | None = None  # JS location change on a thin page, absolute
    headings: tuple[str, ...] = ()          # h1 then h2 texts, in document order per level
    text: str = ""                          # visible text, whitespace-normalized, <= MAX_TEXT_CHARS
    word_count: int = 0                     # words of the whole visible text
    link_count: int = 0
    external_link_count: int = 0
    prose_word_count: int = 0               # words outside links
    not_found_signals: tuple[str, ...] = ()
    parking_signals: tuple[str, ...] = ()
    parking_provider: str | None = None
    spam_signals: tuple[str, ...] = ()
    challenge_signals: tuple[str, ...] = ()
    fingerprint: str | None = None          # 16 hex digits, None when the text is too short
    # Title and text as fold_words() sees them; read_page() fills it in, else computed on demand.
    folded_words: str = field(default="", repr=False, compare=False)

    @cached_property
    def searchable_words(self) -> str:
        return self.folded_words or fold_words(f"{self.title} {self.text}")


@dataclass
class _Parsed:
    """Raw material pulled from the parsed tree, before any judgement."""

    title: str = ""
    description: str = ""
    language: str | None = None
    canonical_href: str | None = None
    refresh_content: str | None = None
    base_href: str | None = None
    h1: list[str] = field(default_factory=list)
    h2: list[str] = field(default_factory=list)
    hrefs: list[str] = field(default_factory=list)
    anchor_words: int = 0
    asset_urls: list[str] = field(default_factory=list)   # script/iframe/link/form sources
    inline_scripts: list[str] = field(default_factory=list)
    text: str = ""


def read_page(text: str, url: str) -> PageFacts:
    """Parse an HTML page (only its first MAX_HTML_CHARS) and detect what it is."""
    html = _XML_DECLARATION.sub("", text[:MAX_HTML_CHARS], count=1)
    raw_lower = html.lower()
    parsed = _parse(html)
    base = _absolute(url, parsed.base_href) or url

    word_count = len(parsed.text.split())
    kept_text = parsed.text[:MAX_TEXT_CHARS]
    hrefs = [h for h in parsed.hrefs if not h.startswith(("#", "javascript:", "mailto:", "tel:"))]
    external = _count_external(hrefs, base)
    prose_words = max(word_count - parsed.anchor_words, 0)
    thin = word_count <= THIN_PAGE_WORDS
    script_redirect = _script_redirect(parsed.inline_scripts, base) if thin else None
    refresh = _absolute(base, _refresh_target(parsed.refresh_content))

    # Fold once; every detector below reads the folded forms.
    folded_title = fold(parsed.title)
    folded_h1, folded_h2 = [fold(h) for h in parsed.h1], [fold(h) for h in parsed.h2]
    folded_text = fold(kept_text)
    title_tokens, text_tokens = _tokens(folded_title), _tokens(folded_text)
    headings = [("title", parsed.title, folded_title),
                *(("h1", h, f) for h, f in zip(parsed.h1, folded_h1)),
                *(("h2", h, f) for h, f in zip(parsed.h2, folded_h2))]
    parking_signals, provider = _parking_signals(
        folded_title, folded_h1 + folded_h2, folded_text, word_count, prose_words, raw_lower,
        parsed.asset_urls, hrefs, base, [script_redirect, refresh])
    return PageFacts(
        url=url,
        title=parsed.title,
        description=parsed.description,
        language=parsed.language,
        canonical_url=_absolute(base, parsed.canonical_href),
        refresh_url=refresh,
        script_redirect_url=script_redirect,
        headings=tuple(parsed.h1 + parsed.h2),
        text=kept_text,
        word_count=word_count,
        link_count=len(hrefs),
        external_link_count=external,
        prose_word_count=prose_words,
        not_found_signals=_not_found_signals(headings, folded_text, word_count),
        parking_signals=parking_signals,
        parking_provider=provider,
        spam_signals=_spam_signals(title_tokens, folded_h1 + folded_h2, text_tokens, word_count,
                                   len(hrefs), external, prose_words),
        challenge_signals=_challenge_signals(folded_title, raw_lower, word_count),
        fingerprint=(_simhash_of_tokens(text_tokens[:FINGERPRINT_MAX_WORDS])
                     if word_count >= MIN_WORDS_FOR_FINGERPRINT else None),
        folded_words=_joined(title_tokens + text_tokens),
    )


# ---------------------------------------------------------------------------------------------
# Parsing: compiled XPath queries (they run in C; walking elements in Python costs ~10x more)
# ---------------------------------------------------------------------------------------------

_INVISIBLE_TAGS = ("script", "style", "template", "noscript")


def _xpath(expression: str) -> etree.XPath:
    return etree.XPath(expression, smart_strings=False)


# title, base and canonical belong in <head>: looking there first is much cheaper. Metas are
# looked for everywhere: refresh stubs put them in the body.
_HEAD_TITLE_TEXT = _xpath("/html/head/title[1]//text()")
_ANY_TITLE_TEXT = _xpath("(//title)[1]//text()")
_METAS = _xpath("//meta")
_BASE_HREF = _xpath("/html/head/base/@href")
_CANONICAL_HREF = _xpath(
    "/html/head/link[contains(translate(@rel, 'CANONICAL', 'canonical'), 'canonical')]/@href")
_HEADINGS = _xpath("//h1|//h2")
_HREFS = _xpath("//a/@href")
_ANCHOR_TEXT = _xpath("//a[@href]//text()")
_ASSET_URLS = _xpath("//script/@src|//iframe/@src|//form/@action|//link/@href")
_INLINE_SCRIPTS = _xpath("//script[not(@src)]/text()")
_BODY_TEXT = _xpath("//body//text()")
_ALL_TEXT = _xpath("//text()")


def _parse(html: str) -> _Parsed:
    parsed = _Parsed()
    if not html.strip():
        return parsed
    try:
        root = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return parsed
    title = _HEAD_TITLE_TEXT(root) or _ANY_TITLE_TEXT(root)
    parsed.title = _clean(" ".join(title))[:MAX_HEADING_CHARS * 2]
    parsed.language = (root.get("lang") or root.get("xml:lang") or "").strip() or None
    for meta in _METAS(root):
        _collect_meta(meta, parsed)
    parsed.base_href = next(iter(_BASE_HREF(root)), None)
    parsed.canonical_href = next(iter(_CANONICAL_HREF(root)), None)
    for heading in _HEADINGS(root):
        text = _clean(" ".join(heading.itertext()))[:MAX_HEADING_CHARS]
        if text:
            (parsed.h1 if heading.tag == "h1" else parsed.h2).append(text)
    parsed.hrefs = [href.strip() for href in _HREFS(root) if href.strip()]
    parsed.anchor_words = len(" ".join(_ANCHOR_TEXT(root)).split())
    parsed.asset_urls = [url.strip() for url in _ASSET_URLS(root) if url.strip()]
    parsed.inline_scripts = [script[:5_000] for script in _INLINE_SCRIPTS(root)]
    etree.strip_elements(root, *_INVISIBLE_TAGS, with_tail=False)
    texts = _BODY_TEXT(root) if root.find("body") is not None else _ALL_TEXT(root)
    parsed.text = _clean(" ".join(texts))
    return parsed


def _collect_meta(element: lxml.html.HtmlElement, parsed: _Parsed) -> None:
    name = (element.get("name") or element.get("property") or "").lower()
    equiv = (element.get("http-equiv") or "").lower()
    content = element.get("content") or ""
    if name in ("description", "og:description") and not parsed.description:
        parsed.description = _clean(content)[:1_000]
    elif equiv == "refresh" and parsed.refresh_content is None:
        parsed.refresh_content = content
    elif equiv == "content-language" and not parsed.language:
        parsed.language = content.strip() or None


def _count_external(hrefs: list[str], base: str) -> int:
    """Links whose host is on another registrable domain. Relative links are internal, so only
    absolute ones are parsed (registrable_domain() is cached)."""
    own = registrable_domain(urlsplit(base).hostname or "")
    external = 0
    for href in hrefs:
        if href.startswith(("http://", "https://", "//")):
            try:
                host = urlsplit(href).hostname
            except ValueError:
                continue
            if host and registrable_domain(host) != own:
                external += 1
    return external


def _refresh_target(content: str | None) -> str | None:
    """The URL in a meta refresh's content ("0; url=/new"), if any."""
    match = _META_REFRESH_URL.search(content) if content else None
    return match.group(1).strip() if match else None


def _script_redirect(scripts: list[str], base: str) -> str | None:
    for script in scripts:
        match = _SCRIPT_REDIRECT.search(script)
        if match:
            target = (match.group(1) or match.group(2)).strip()
            if target and not target.startswith(("javascript:", "#")):
                return _absolute(base, target)
    return None


def _absolute(base: str, href: str | None) -> str | None:
    """href resolved against base; None for a missing or malformed one."""
    if not href:
        return None
    try:
        return urljoin(base, href.strip())
    except ValueError:
        return None


def _host_domain(url: str, base: str) -> str | None:
    try:
        host = urlsplit(urljoin(base, url)).hostname
    except ValueError:
        return None
    return registrable_domain(host) if host else None


# ---------------------------------------------------------------------------------------------
# Detectors
# ---------------------------------------------------------------------------------------------


def _not_found_signals(places: list[tuple[str, str, str]], folded_text: str,
                       word_count: int) -> tuple[str, ...]:
    """Where the page calls itself "not found": (place, original, folded) for the title, h1s and
    h2s, or the whole text of a thin page. Bare '404' / 'Not Found' count only in the title or an
    h1, never in body text."""
    signals: list[str] = []
    # One search over all headings first: most pages have no candidate at all.
    joined = "\n".join(folded for _, _, folded in places)   # "." in the patterns stops at newlines
    if _mentions(joined, _NOT_FOUND_WORDS):
        for place, original, folded in places:
            weak = place != "h2" and _has_weak_not_found_segment(folded)
            if weak or _NOT_FOUND_STRONG.search(folded):
                signals.append(f"{place}: '{original}'")
    if not signals and word_count <= 80 and _mentions(folded_text, _NOT_FOUND_WORDS):
        match = _NOT_FOUND_STRONG.search(folded_text)
        if match:
            signals.append(f"text: '{match.group(0)}'")
    return tuple(signals)


def _has_weak_not_found_segment(folded_heading: str) -> bool:
    for segment in _TITLE_SEPARATORS.split(folded_heading):
        words = " ".join(_TOKEN.findall(segment))
        if words and _NOT_FOUND_WEAK_SEGMENT.fullmatch(words):
            return True
    return False


def _parking_signals(folded_title: str, folded_headings: list[str], folded_text: str,
                     word_count: int, prose_words: int, raw_lower: str, asset_urls: list[str],
                     hrefs: list[str], base: str,
                     client_redirects: list[str | None]) -> tuple[tuple[str, ...], str | None]:
    """Labels of parking evidence, and the provider when one is recognisable.

    Wording counts in the title or a heading, or anywhere on a thin page. A parking provider's
    own assets (scripts, frames, ad feed) count anywhere; a mere link to a marketplace counts only
    next to for-sale wording or on a page with almost no prose."""
    signals: list[str] = []
    thin = word_count <= THIN_PAGE_WORDS
    # Joined by newlines, which the patterns' "." never crosses: one search, not one per heading.
    statements = "\n".join([folded_title, *folded_headings] + ([folded_text] if thin else []))
    if _mentions(statements, _FOR_SALE_WORDS) and _FOR_SALE.search(statements):
        signals.append("domain offered for sale")
    if _mentions(statements, _PLACEHOLDER_WORDS) and _REGISTRAR_PLACEHOLDER.search(statements):
        signals.append("registrar placeholder")

    asset_providers = [provider for markers, provider in _PARKING_MARKERS
                       if any(marker in raw_lower for marker in markers)]
    asset_providers += _marketplace_names(asset_urls, base)
    link_providers = _marketplace_names([h for h in hrefs if "//" in h], base) if thin else []
    for target in client_redirects:
        if target is None:
            continue
        domain = _host_domain(target, base)
        if domain in PARKING_SERVICES:
            asset_providers.append(PARKING_SERVICES[domain])
            signals.append("script redirect to a parking service")
        elif urlsplit(target).path.rstrip("/") == "/lander" and thin:
            asset_providers.append("GoDaddy")   # GoDaddy parking bounces "/" to "/lander" in JS
            signals.append("script redirect to a parking lander")

    providers = asset_providers + (link_providers if signals or prose_words < 30 else [])
    listings = (_mentions(statements, _LISTINGS_WORDS)
                and bool(_SPONSORED_LISTINGS.search(statements))
                and (providers or prose_words < 60))
    if listings or (providers and _RELATED_LINKS.search(statements)):
        signals.append("sponsored listings")
    if providers and (thin or signals):
        provider = _most_specific(providers)
        return tuple(dict.fromkeys([provider, *signals])), provider
    return tuple(dict.fromkeys(signals)), None


def _mentions(text: str, words: tuple[str, ...]) -> bool:
    """Cheap substring pre-check before a long regex: most pages contain none of the words."""
    return any(word in text for word in words)


def _marketplace_names(urls: list[str], base: str) -> list[str]:
    """Parking services whose host serves these absolute URLs. GoDaddy is left out: its site builder
    and hosting link to godaddy.com from live sites."""
    names = []
    for url in urls:
        domain = _host_domain(url, base) if "//" in url else None
        if domain in PARKING_SERVICES and domain != "godaddy.com":
            names.append(PARKING_SERVICES[domain])
    return names


def _most_specific(providers: list[str]) -> str:
    """A named provider rather than the ad network every provider uses."""
    named = [p for p in providers if p != "Google AdSense for Domains"]
    return named[0] if named else providers[0]


def _spam_signals(title_tokens: list[str], folded_headings: list[str], text_tokens: list[str],
                  word_count: int, link_count: int, external_links: int,
                  prose_words: int) -> tuple[str, ...]:
    signals: list[str] = []
    text_counts = Counter(text_tokens)
    if not _SPAM_FIRST_WORDS.isdisjoint(text_counts):   # most pages have no spam word at all
        heading_tokens = title_tokens + ["|"] + _tokens(" | ".join(folded_headings))
        signals += _spam_categories(Counter(heading_tokens), _joined(heading_tokens),
                                    text_counts, _joined(text_tokens), word_count)
    if (external_links >= _LINK_FARM_MIN_EXTERNAL
            and external_links >= _LINK_FARM_MIN_EXTERNAL_SHARE * link_count
            and prose_words < link_count):
        signals.append("link farm")
    return tuple(signals)


def _spam_categories(heading_counts: Counter[str], joined_headings: str, text_counts: Counter[str],
                     joined_text: str, word_count: int) -> list[str]:
    """Categories that name the page (title/headings) and recur, or saturate the text."""
    categories = []
    for label, terms in _SPAM_TERMS.items():
        in_title = _count_terms(terms, heading_counts, joined_headings) > 0
        hits = _count_terms(terms, text_counts, joined_text)
        dense = hits * 1000 >= _SPAM_MIN_HITS_PER_1000_WORDS * max(word_count, 1)
        saturated = hits >= _SPAM_MIN_HITS_IN_TEXT and dense
        if (in_title and hits >= _SPAM_MIN_HITS_WITH_TITLE) or saturated:
            categories.append(label)
    return categories


def _count_terms(terms: list[tuple[tuple[str, ...], str | None]], counts: Counter[str],
                 joined: str) -> int:
    """Occurrences of the terms; a phrase is searched only when all its words occur."""
    hits = 0
    for words, phrase in terms:
        if phrase is None:
            hits += counts[words[0]]
        elif all(counts[word] for word in words):
            hits += joined.count(phrase)
    return hits


def _challenge_signals(folded_title: str, raw_lower: str, word_count: int) -> tuple[str, ...]:
    """Vendors whose challenge or block page this is. Only short pages qualify: challenge pages
    are a sentence or two, and a real page can share a title like "Security check"."""
    if word_count > CHALLENGE_PAGE_WORDS:
        return ()
    vendors = [vendor for pattern, vendor in _CHALLENGE_TITLES if pattern.search(folded_title)]
    vendors += [vendor for pattern, vendor, max_words in _CHALLENGE_MARKUP
                if word_count <= max_words and pattern.search(raw_lower)]
    # A generic label adds nothing once a vendor is known.
    named = [v for v in vendors if v not in ("captcha", "access denied page")]
    return tuple(dict.fromkeys(named or vendors))


# ---------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------

_ACRONYM = re.compile(r"^[A-Z][A-Z0-9]{1,9}$")
_LEGAL_SUFFIX = re.compile(r"\s+(?:inc|incorporated|ltd|limited|llc|plc|cic|e ?v|ev|gmbh|ggmbh"
                           r"|asbl|vzw|aisbl|onlus|a ?s ?b ?l)\s*$")


def mentions_any(facts: PageFacts, names: list[str] | tuple[str, ...]) -> bool:
    """Whether the page's title or text mentions any of the names.

    Names are compared folded (case, accents, punctuation, '&' = 'and') as whole words; a leading
    'The' and a trailing legal form ('Ltd', 'Inc', 'e.V.'...) are optional, and a multi-word name
    also matches written as one word (as in 'breastcancernow.org'). All-capital names ('ACS') match
    only as whole words with the same case, in the original text."""
    for name in names:
        name = name.strip()
        if not name:
            continue
        if _ACRONYM.match(name):
            if _mentions_acronym(facts, name):
                return True
            continue
        if any(variant in facts.searchable_words for variant in _name_variants(name)):
            return True
    return False


def _mentions_acronym(facts: PageFacts, acronym: str) -> bool:
    pattern = re.compile(rf"(?<![A-Za-z0-9]){re.escape(acronym)}(?![A-Za-z0-9])")
    return bool(pattern.search(facts.title) or pattern.search(facts.text))


def _name_variants(name: str) -> list[str]:
    folded = fold_words(name).strip()
    if folded.startswith("the "):
        folded = folded[4:]
    folded = _LEGAL_SUFFIX.sub("", folded)
    if not folded:
        return []
    variants = [f" {folded} "]
    squashed = folded.replace(" ", "")
    if " " in folded and len(squashed) >= 8:
        variants.append(f" {squashed} ")
    return variants


# ---------------------------------------------------------------------------------------------
# SimHash
# ---------------------------------------------------------------------------------------------

SHINGLE_SIZE = 3
_MASK64 = (1 << 64) - 1
_WORD_HASH_CACHE_LIMIT = 200_000
_word_hashes: dict[str, tuple[int, int, int]] = {}
# _BIT_OF[k] maps a byte to its k-th bit (most significant first), for counting bits in C.
_BIT_OF = [bytes((value >> (7 - k)) & 1 for value in range(256)) for k in range(8)]


def simhash(words: list[str]) -> str:
    """64-bit SimHash of the word 3-shingles, as 16 hex digits.

    Words are hashed with BLAKE2b (stable across processes, unlike hash()) and cached; a shingle's
    hash combines its words' hashes rotated by position, so word order counts. Each bit of the
    result is the majority vote of that bit over all shingles: similar texts share most bits."""
    return _simhash_of_tokens(_tokens(fold(" ".join(words))))


def _simhash_of_tokens(tokens: list[str]) -> str:
    cache = _word_hashes
    hashes = [cache.get(token) or _word_hash(token) for token in tokens]
    if not hashes:
        hashes = [_word_hash("")]
    while len(hashes) < SHINGLE_SIZE:
        hashes.append(_word_hash(""))
    shingles = [a[0] ^ b[1] ^ c[2] for a, b, c in zip(hashes, hashes[1:], hashes[2:])]
    digests = struct.pack(f">{len(shingles)}Q", *shingles)
    half = len(shingles) / 2
    bits = []
    for byte_index in range(8):
        column = digests[byte_index::8]   # that byte of every shingle hash
        for bit_table in _BIT_OF:
            bits.append("1" if column.translate(bit_table).count(1) > half else "0")
    return f"{int(''.join(bits), 2):016x}"


def _word_hash(word: str) -> tuple[int, int, int]:
    """A word's 64-bit hash, and the same rotated by 21 and 42 bits (2nd and 3rd shingle slot)."""
    cached = _word_hashes.get(word)
    if cached is None:
        if len(_word_hashes) >= _WORD_HASH_CACHE_LIMIT:
            _word_hashes.clear()
        value = int.from_bytes(blake2b(word.encode(), digest_size=8).digest(), "big")
        cached = (value, _rotate(value, 21), _rotate(value, 42))
        _word_hashes[word] = cached
    return cached


def _rotate(value: int, bits: int) -> int:
    return ((value << bits) | (value >> (64 - bits))) & _MASK64


def fingerprint_distance(a: str, b: str) -> int:
    """Hamming distance between two fingerprints: 0 (same text) .. 64; unrelated texts ~32."""
    return (int(a, 16) ^ int(b, 16)).bit_count()
