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
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from hashlib import blake2b
from operator import itemgetter
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
    if text.isascii():
        return text.lower()   # what casefold() does to ASCII, faster
    folded = _per_char(text, _fold_char, lower_ascii=True)
    if folded is not None:
        return folded
    # A character that depends on its neighbours (a combining mark NFKD may reorder): fold each
    # run of non-ASCII characters whole (NFKD never reorders across an ASCII character).
    return _NON_ASCII_RUN.sub(lambda run: _fold_non_ascii(run.group()), text.casefold())


_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")


@lru_cache(maxsize=4096)
def _fold_non_ascii(run: str) -> str:
    run = _COMBINING_MARKS.sub("", unicodedata.normalize("NFKD", run))
    return _EXTRA_FOLD_CHARS.sub(lambda match: _EXTRA_FOLDS[match.group()], run)


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str | None:
    """fold() of one non-ASCII character, when it folds the same whatever surrounds it: its
    decomposition starts with a base character (so NFKD reorders nothing across its edges) and
    yields no character that would fold further. None otherwise."""
    folded = _fold_non_ascii(char.casefold())
    decomposed = unicodedata.normalize("NFKD", char.casefold())
    if decomposed and unicodedata.combining(decomposed[0]):
        return None
    if any(not c.isascii() and _fold_non_ascii(c.casefold()) != c for c in folded):
        return None
    return folded


def _per_char(text: str, mapping: Callable[[str], str | None], *,
              lower_ascii: bool) -> str | None:
    """text with every non-ASCII character c replaced by mapping(c) (and ASCII letters lowered if
    asked), or None when mapping() returns None for one of them.

    Pages are mostly ASCII with a few distinct other characters ('’', '–', 'é'): finding those
    through the UTF-8 bytes (all >= 0x80) and str.replace() for each costs a few C passes, where
    str.casefold() or a regex over the non-ASCII text costs ~10-40 ns a character."""
    encoded = text.encode("utf-8", "surrogatepass")
    chars = set(encoded.translate(None, _ASCII_BYTES).decode("utf-8", "surrogatepass"))
    replacements = [(char, mapping(char)) for char in chars]
    if any(replacement is None for _, replacement in replacements):
        return None
    if lower_ascii:   # bytes.lower() changes ASCII letters only, never a multi-byte character
        text = encoded.lower().decode("utf-8", "surrogatepass")
    for char, replacement in replacements:
        if replacement != char:
            text = text.replace(char, replacement)
    return text


_ASCII_BYTES = bytes(range(128))


def fold_words(text: str) -> str:
    """fold() plus '&' read as 'and' and punctuation collapsed to single spaces, padded with a
    space at each end so ' name ' matches whole words only."""
    return _joined(_tokens(fold(text)))


# ASCII characters that are not \w (letters, digits, '_'), mapped to a space.
_ASCII_NON_WORD = str.maketrans({chr(c): " " for c in range(128)
                                 if not (chr(c).isalnum() or chr(c) == "_")})
_NON_WORD_NON_SPACE = re.compile(r"[^\w\s]+")


def _tokens(folded: str) -> list[str]:
    r"""Words of folded text (runs of \w); '&' reads 'and', apostrophes vanish ("women's" ->
    "womens")."""
    folded = folded.replace("&", " and ").replace("'", "")
    # Same words as re.findall(r"\w+"), which costs ~0.3 µs a word: blank out what is neither a
    # word character nor a space, then split (str.split() and \s agree on what a space is).
    if not folded.isascii():
        # Non-ASCII punctuation ('–', '·', '©') becomes a space; what is left is usually ASCII.
        blanked = _per_char(folded, _word_char_or_space, lower_ascii=False)
        assert blanked is not None   # _word_char_or_space() maps every character
        if not blanked.isascii():   # letters of other scripts
            return _NON_WORD_NON_SPACE.sub(" ", blanked).split()
        folded = blanked
    return folded.translate(_ASCII_NON_WORD).split()


@lru_cache(maxsize=4096)
def _word_char_or_space(char: str) -> str:
    return char if char.isalnum() or char == "_" else " "   # \w is exactly this


def _joined(tokens: list[str]) -> str:
    return " " + " ".join(tokens) + " "


def _clean(text: str | None) -> str:
    return " ".join(text.split()) if text else ""


def _compile(patterns: list[str]) -> re.Pattern[str]:
    r"""One regex from folded alternatives, matched on folded text.

    Written so that the regex engine does little at each position of the text, with the same
    matches in the same order of preference: consecutive alternatives starting with a word
    boundary share one r"\b", tested once per position rather than once per alternative (inside
    a word it fails at once), and a leading group of plain words is spread into alternatives that
    each start with a literal, which the engine checks before trying them. Searching a thin page's
    text for the not-found phrases went from ~0.3 ms to ~0.03 ms."""
    parts: list[str] = []
    bounded: list[str] = []   # consecutive alternatives after their leading r"\b"
    for alternative in [alt for p in patterns for alt in _spread_leading_group(fold(p))]:
        if alternative.startswith(r"\b") and _top_level_bar(alternative) < 0:
            bounded.append(alternative[2:])
            continue
        if bounded:
            parts.append(_bounded_group(bounded))
            bounded = []
        parts.append(f"(?:{alternative})")
    if bounded:
        parts.append(_bounded_group(bounded))
    return re.compile("|".join(parts))


def _bounded_group(alternatives: list[str]) -> str:
    return r"\b(?:" + "|".join(alternatives) + ")"


# A leading word boundary and a group of plain alternatives: r"\b(?:cannot|can't) find".
_LEADING_WORD_GROUP = re.compile(r"\\b\(\?:([\w' ]+(?:\|[\w' ]+)*)\)(?![?*+{])")


def _spread_leading_group(pattern: str) -> list[str]:
    r"""r"\b(?:cannot|unable to) find" as r"\bcannot find", r"\bunable to find": the same
    matches, tried in the same order."""
    group = _LEADING_WORD_GROUP.match(pattern)
    if group is None or _top_level_bar(pattern) >= 0:
        return [pattern]
    rest = pattern[group.end():]
    return [alt for word in group.group(1).split("|")
            for alt in _spread_leading_group(rf"\b{word}{rest}")]


def _top_level_bar(pattern: str) -> int:
    """Index of a '|' outside any group or class, or -1: such an alternative needs brackets."""
    depth, index, in_class = 0, 0, False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 1
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            return index
        index += 1
    return -1


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

# Spam vocabulary per category, as folded words and phrases. Counted on tokens (a term only when
# all its words occur) rather than with regexes over the whole text, which cost ~1 ms a page.
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
_SPAM_WORDS = frozenset(word for terms in _SPAM_VOCABULARY.values() for term in terms
                        for word in term.split())
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
# Whether any of the patterns above matches: one search instead of one per pattern, since a
# real page matches none of them.
_ANY_CHALLENGE_TITLE = re.compile("|".join(f"(?:{p.pattern})" for p, _ in _CHALLENGE_TITLES))
_ANY_CHALLENGE_MARKUP = re.compile("|".join(f"(?:{p.pattern})" for p, _, _ in _CHALLENGE_MARKUP))
# Every markup pattern above contains one of these substrings, so a page with none of them cannot
# match: a few `in` tests spare the alternation search on almost every real page.
_CHALLENGE_MARKUP_TOKENS = ("cf", "sorry, you have been blocked", "enable javascript and cookies",
                            "edgesuite", "reference", "incapsula", "captcha", "press &", "sucuri",
                            "aws", "ddos", "cloudflare")

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
    word_count: int = 0


def read_page(text: str, url: str) -> PageFacts:
    """Parse an HTML page (only its first MAX_HTML_CHARS) and detect what it is."""
    html = _XML_DECLARATION.sub("", text[:MAX_HTML_CHARS], count=1)
    lowered: list[str] = []

    def raw_lower() -> str:   # lowered on first use: most long pages never need it
        if not lowered:
            lowered.append(_lower(html))
        return lowered[0]

    parsed = _parse(html)
    base = _absolute(url, parsed.base_href) or url

    word_count = parsed.word_count
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
# "/descendant::a" selects what "//a" does, but libxml2 walks the tree once for it, where "//a[...]"
# tests the step at every node: 30-45% faster on the queries with a predicate or an attribute.
_HEADINGS = _xpath("/descendant::h1|/descendant::h2")
_HREFS = _xpath("/descendant::a/@href")
_ANCHOR_TEXT = _xpath("/descendant::a[@href]/descendant::text()")
_ASSET_URLS = _xpath("//script/@src|//iframe/@src|//form/@action|//link/@href")
_INLINE_SCRIPTS = _xpath("/descendant::script[not(@src)]/text()")
_BODY_TEXT = _xpath("/descendant::body/descendant::text()")
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
        # Most headings are one text node: .text is all itertext() would yield, at a third of
        # the cost.
        text = heading.text if not len(heading) else " ".join(heading.itertext())
        text = _clean(text)[:MAX_HEADING_CHARS]
        if text:
            (parsed.h1 if heading.tag == "h1" else parsed.h2).append(text)
    parsed.hrefs = [href for href in map(str.strip, _HREFS(root)) if href]
    parsed.anchor_words = len(" ".join(_ANCHOR_TEXT(root)).split())
    parsed.asset_urls = [url.strip() for url in _ASSET_URLS(root) if url.strip()]
    parsed.inline_scripts = [script[:5_000] for script in _INLINE_SCRIPTS(root)]
    etree.strip_elements(root, *_INVISIBLE_TAGS, with_tail=False)
    texts = _BODY_TEXT(root) if root.find("body") is not None else _ALL_TEXT(root)
    words = " ".join(texts).split()
    parsed.text, parsed.word_count = " ".join(words), len(words)
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
                     word_count: int, prose_words: int, raw_lower: Callable[[], str],
                     asset_urls: list[str],
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
    redirect_providers = []
    for target in client_redirects:
        if target is None:
            continue
        domain = _host_domain(target, base)
        if domain in PARKING_SERVICES:
            redirect_providers.append(PARKING_SERVICES[domain])
            signals.append("script redirect to a parking service")
        elif urlsplit(target).path.rstrip("/") == "/lander" and thin:
            redirect_providers.append("GoDaddy")   # GoDaddy parking bounces "/" to "/lander" in JS
            signals.append("script redirect to a parking lander")
    if not (thin or signals or _mentions(statements, _LISTINGS_WORDS)):
        # Providers count only on a thin page, next to the signals above, or for listings wording
        # ("related ...", "sponsored ...", "ads by"), so most long pages can skip looking for them
        # in the raw HTML and every asset URL.
        return tuple(dict.fromkeys(signals)), None

    lowered = raw_lower()
    asset_providers = [provider for markers, provider in _PARKING_MARKERS
                       if any(map(lowered.__contains__, markers))]
    asset_providers += _marketplace_names(asset_urls, base) + redirect_providers
    link_providers = _marketplace_names([h for h in hrefs if "//" in h], base) if thin else []
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


def _lower(html: str) -> str:
    """html.lower(), which costs ~4 ns a character once a page has any non-ASCII character."""
    if html.isascii():
        return html.lower()
    lowered = _per_char(html, _lower_char, lower_ascii=True)
    return lowered if lowered is not None else html.lower()


@lru_cache(maxsize=4096)
def _lower_char(char: str) -> str | None:
    """char.lower() when it does not depend on the neighbours (capital sigma does) and yields no
    character that lower() would change again; None otherwise."""
    lowered = char.lower()
    if char == "\u03a3" or any(not c.isascii() and c.lower() != c for c in lowered):
        return None
    return lowered


def _mentions(text: str, words: tuple[str, ...]) -> bool:
    """Cheap substring pre-check before a long regex: most pages contain none of the words."""
    return any(map(text.__contains__, words))


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
    present = _SPAM_WORDS.intersection(text_tokens)
    if present:   # most pages hold no spam term at all: one set operation in C decides
        signals += _spam_categories(title_tokens, folded_headings, text_tokens, present,
                                    word_count)
    if (external_links >= _LINK_FARM_MIN_EXTERNAL
            and external_links >= _LINK_FARM_MIN_EXTERNAL_SHARE * link_count
            and prose_words < link_count):
        signals.append("link farm")
    return tuple(signals)


def _spam_categories(title_tokens: list[str], folded_headings: list[str], text_tokens: list[str],
                     present: set[str], word_count: int) -> list[str]:
    """Categories that name the page (title/headings) and recur, or saturate the text."""
    categories = []
    text = _Words(text_tokens, present)
    headings = None
    for label, terms in _SPAM_TERMS.items():
        hits = _count_terms(terms, text)
        if hits < _SPAM_MIN_HITS_WITH_TITLE:   # below both thresholds: the headings cannot help
            continue
        dense = hits * 1000 >= _SPAM_MIN_HITS_PER_1000_WORDS * max(word_count, 1)
        saturated = hits >= _SPAM_MIN_HITS_IN_TEXT and dense
        if not saturated and headings is None:
            # "|" keeps a phrase from running from the title into the headings.
            heading_tokens = title_tokens + ["|"] + _tokens(" | ".join(folded_headings))
            headings = _Words(heading_tokens, _SPAM_WORDS.intersection(heading_tokens))
        if saturated or _count_terms(terms, headings) > 0:
            categories.append(label)
    return categories


class _Words:
    """Tokens to count terms in: which vocabulary words occur, and the joined text for phrases
    (joined only when a phrase may occur)."""

    def __init__(self, tokens: list[str], present: set[str]) -> None:
        self.tokens, self.present = tokens, present
        self._joined: str | None = None

    def count_phrase(self, phrase: str) -> int:
        if self._joined is None:
            self._joined = _joined(self.tokens)
        return self._joined.count(phrase)


def _count_terms(terms: list[tuple[tuple[str, ...], str | None]], words: _Words) -> int:
    """Occurrences of the terms; a term is looked for only when all its words occur."""
    hits = 0
    for term_words, phrase in terms:
        if words.present.issuperset(term_words):
            hits += (words.tokens.count(term_words[0]) if phrase is None
                     else words.count_phrase(phrase))
    return hits


def _challenge_signals(folded_title: str, raw_lower: Callable[[], str],
                       word_count: int) -> tuple[str, ...]:
    """Vendors whose challenge or block page this is. Only short pages qualify: challenge pages
    are a sentence or two, and a real page can share a title like "Security check"."""
    if word_count > CHALLENGE_PAGE_WORDS:
        return ()
    vendors = []
    if _ANY_CHALLENGE_TITLE.search(folded_title):
        vendors += [vendor for pattern, vendor in _CHALLENGE_TITLES if pattern.search(folded_title)]
    lowered = raw_lower()
    if any(token in lowered for token in _CHALLENGE_MARKUP_TOKENS) and _ANY_CHALLENGE_MARKUP.search(lowered):
        vendors += [vendor for pattern, vendor, max_words in _CHALLENGE_MARKUP
                    if word_count <= max_words and pattern.search(lowered)]
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


@lru_cache(maxsize=4096)
def _name_variants(name: str) -> tuple[str, ...]:
    folded = fold_words(name).strip()
    if folded.startswith("the "):
        folded = folded[4:]
    folded = _LEGAL_SUFFIX.sub("", folded)
    if not folded:
        return ()
    squashed = folded.replace(" ", "")
    if " " in folded and len(squashed) >= 8:
        return f" {folded} ", f" {squashed} "
    return (f" {folded} ",)


# ---------------------------------------------------------------------------------------------
# SimHash
# ---------------------------------------------------------------------------------------------

SHINGLE_SIZE = 3
_MASK64 = (1 << 64) - 1
_WORD_HASH_CACHE_LIMIT = 200_000
_word_digests: dict[str, bytes] = {}   # word -> its 8-byte BLAKE2b digest


def simhash(words: list[str]) -> str:
    """64-bit SimHash of the word 3-shingles, as 16 hex digits.

    Words are hashed with BLAKE2b (stable across processes, unlike hash()) and cached; a shingle's
    hash combines its words' hashes rotated by position, so word order counts. Each bit of the
    result is the majority vote of that bit over all shingles: similar texts share most bits."""
    return _simhash_of_tokens(_tokens(fold(" ".join(words))))


def _simhash_of_tokens(tokens: list[str]) -> str:
    """simhash() of tokens. Shingle i is hash(word i) ^ rot21(hash(word i+1)) ^ rot42(hash(word
    i+2)); rather than one Python operation per shingle (~0.5 ms a page), all shingles are held
    in one big integer, 64 bits each, and combined and counted with a few dozen big-integer
    operations (C loops)."""
    if len(tokens) < SHINGLE_SIZE:
        tokens = (tokens or [""]) + [""] * (SHINGLE_SIZE - max(len(tokens), 1))
    count = len(tokens) - SHINGLE_SIZE + 1
    words = int.from_bytes(_word_hash_bytes(tokens), "big")   # first word most significant
    masks = _shingle_masks(count)
    shingles = ((words >> 128)
                ^ _rotate_words((words >> 64) & masks.all, 21, masks)
                ^ _rotate_words(words & masks.all, 42, masks))
    return f"{_majority_bits(shingles, count):016x}"


def _word_hash_bytes(tokens: list[str]) -> bytes:
    """The tokens' 64-bit hashes, big-endian, end to end."""
    getter = itemgetter(*tokens)   # looks all tokens up in C; len(tokens) >= 2 gives a tuple
    try:
        return b"".join(getter(_word_digests))
    except KeyError:   # words not seen before: hash them, then look up again
        if len(_word_digests) + len(tokens) > _WORD_HASH_CACHE_LIMIT:
            _word_digests.clear()
        for token in set(tokens).difference(_word_digests):
            _word_digests[token] = blake2b(token.encode(), digest_size=8).digest()
        return b"".join(getter(_word_digests))


@dataclass(frozen=True)
class _ShingleMasks:
    all: int        # every bit of `count` 64-bit words
    ones: int       # the lowest bit of each word: multiplying a 64-bit value by it repeats it


@lru_cache(maxsize=1024)
def _shingle_masks(count: int) -> _ShingleMasks:
    every = (1 << (64 * count)) - 1
    return _ShingleMasks(all=every, ones=every // _MASK64)


def _rotate_words(words: int, bits: int, masks: _ShingleMasks) -> int:
    """Each 64-bit word of `words` rotated left by `bits`."""
    high = masks.ones * ((_MASK64 << bits) & _MASK64)   # where each word's shifted bits land
    low = masks.ones * ((1 << bits) - 1)                 # where its wrapped-around bits land
    return ((words << bits) & high) | ((words >> (64 - bits)) & low)


def _majority_bits(words: int, count: int) -> int:
    """The 64-bit value whose bit k is set when bit k is set in more than half of the `count`
    64-bit words packed in `words`.

    Counts all 64 bit positions of all words at once, bit-sliced: the words are summed as binary
    counters kept in planes (plane j holds bit j of every counter), adding the upper half of the
    words onto the lower half until one word is left, each step a full adder over all planes."""
    size = 1 << (count - 1).bit_length()   # zero words pad the count to a power of two
    planes = [words]
    while size > 1:
        size //= 2
        shift = 64 * size
        lower = (1 << shift) - 1
        summed, carry = [], 0
        for plane in planes:
            a, b = plane & lower, plane >> shift
            either = a ^ b
            summed.append(either ^ carry)
            carry = (a & b) | (carry & either)
        summed.append(carry)
        planes = summed
    # Compare every count with count // 2 + 1 (">= that" is "> half"), most significant plane
    # first: `above` marks counts already known greater, `equal` those equal so far.
    threshold = count // 2 + 1
    above, equal = 0, _MASK64
    for j in reversed(range(len(planes))):
        if threshold >> j & 1:
            equal &= planes[j]
        else:
            above |= equal & planes[j]
            equal &= ~planes[j]
    return (above | equal) & _MASK64


def fingerprint_distance(a: str, b: str) -> int:
    """Hamming distance between two fingerprints: 0 (same text) .. 64; unrelated texts ~32."""
    return (int(a, 16) ^ int(b, 16)).bit_count()
