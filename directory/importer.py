"""`signpost import-html`: propose draft entries from an old-style "resources" page.

The pipeline has a pure core and thin I/O around it:

    read_page (file or URL -> bytes)          I/O
    scan_page (bytes -> PageScan: candidates and skipped links)   pure
    known_entries (data/ -> KnownEntry list)  I/O, read-only
    match (candidates x entries -> listed, new)                   pure
    plan_drafts / render_draft (new -> file names and YAML text)  pure apart from looking at names taken
    write_drafts (atomic, never overwrites)   I/O

Nothing is written until the page has been read and parsed and every draft has been rendered.
"""

from __future__ import annotations

import codecs
import email.message
import json
import os
import re
import tempfile
import unicodedata
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import click
import httpx
import yaml
from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, XMLParsedAsHTMLWarning
from bs4.dammit import EncodingDetector

from directory import datafiles, urls

MAX_PAGE_BYTES = 5 * 1024 * 1024
FETCH_TIMEOUT = 20.0
USER_AGENT = "signpost-import-html (curating a directory of breast cancer organizations)"
HTML_CONTENT_TYPES = {"text/html", "application/xhtml+xml"}
MAX_SLUG_LENGTH = 72  # leaves room for a "-NN" suffix under the schema's 80


class ImportError_(Exception):
    """The page cannot be imported (unreadable, not HTML, too large, ...); the message names it."""


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Listing:
    """One way the page lists an organization: the link text and the absolute link."""

    name: str
    url: str


@dataclass
class Candidate:
    """An organization the page links to; `listings[0]` gives its proposed name."""

    website: str
    listings: list[Listing]

    @property
    def name(self) -> str:
        return self.listings[0].name

    @property
    def url(self) -> str:
        return self.listings[0].url

    @property
    def other_names(self) -> list[str]:
        seen = {name_key(self.name)}
        names = []
        for listing in self.listings[1:]:
            if name_key(listing.name) not in seen:
                seen.add(name_key(listing.name))
                names.append(listing.name)
        return names

    @property
    def names(self) -> list[str]:
        return [self.name, *self.other_names]

    @property
    def urls(self) -> list[str]:
        return [self.website] + [listing.url for listing in self.listings]


@dataclass(frozen=True)
class Skipped:
    href: str
    text: str
    reason: str


# Skip reasons, in the order the report shows them.
NOT_WEB = "not a web link (mailto:, javascript:, tel:, ...)"
SAME_PAGE = "link within the page (#...)"
SAME_SITE = "same site or navigation"
BADGE = "validator badge"
SOCIAL = "social media or share/bookmark link"
AD = "advertisement"
MALFORMED = "malformed URL"
NO_NAME = "no link text, title or image alt to name it"
DUPLICATE = "duplicate of an earlier link"
OTHER_NAME = "another name for an earlier link's site (kept as other name)"
SKIP_REASONS = (SAME_SITE, NOT_WEB, SAME_PAGE, BADGE, SOCIAL, AD, MALFORMED, NO_NAME, DUPLICATE, OTHER_NAME)


@dataclass
class PageScan:
    title: str | None
    links_found: int
    candidates: list[Candidate]
    skipped: list[Skipped]


@dataclass(frozen=True)
class KnownEntry:
    """An organization already in data/, curated or drafted, reduced to what matching needs."""

    id: str
    names: tuple[str, ...]
    urls: tuple[str, ...]
    file: str  # relative to the data folder, e.g. organizations/x.yaml
    is_draft: bool = False


@dataclass(frozen=True)
class Match:
    candidate: Candidate
    entries: tuple[KnownEntry, ...]
    by: str  # "site" or "name"


@dataclass(frozen=True)
class Draft:
    candidate: Candidate
    path: Path
    text: str


@dataclass
class ImportReport:
    page: str
    source_id: str
    source_known: bool
    source_title: str
    scan: PageScan
    listed: list[Match]
    drafts: list[Draft]
    written: list[Path] = field(default_factory=list)
    data_dir: Path = Path(".")


# --------------------------------------------------------------------------- names and sites


def name_key(name: str) -> str:
    """Compare names ignoring case, accents, punctuation, a leading "The" and "&" vs "and"."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = text.replace("&", " and ")
    text = re.sub(r"['\u2018\u2019`\u00b4]", "", text)  # "Women's" == "Womens"
    words = re.sub(r"[\W_]+", " ", text).split()
    if words[:1] == ["the"] and len(words) > 1:
        words = words[1:]
    return " ".join(words)


def slugify(text: str) -> str:
    ascii_words = name_key(text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_words).strip("-")
    if len(slug) > MAX_SLUG_LENGTH:
        slug = slug[:MAX_SLUG_LENGTH].rsplit("-", 1)[0]
    return slug or "organization"


def _host(url: str) -> str:
    try:
        return urls.host_without_www(urlsplit(url).hostname or "")
    except ValueError:
        return ""


def same_site(url_a: str, url_b: str) -> bool:
    """Same host (ignoring www), or one is the bare registrable domain of the other.

    Plain registrable-domain equality would make every *.nih.gov or *.upenn.edu site one
    organization; this keeps nlm.nih.gov and nci.nih.gov apart but joins ww5.komen.org to komen.org.
    """
    host_a, host_b = _host(url_a), _host(url_b)
    if not host_a or not host_b:
        return False
    if host_a == host_b:
        return True
    domain = urls.registrable_domain(host_a)
    return domain == urls.registrable_domain(host_b) and domain in (host_a, host_b)


# --------------------------------------------------------------------------- decoding


def _codec(label: str | None) -> str | None:
    """Python codec for a charset label; Latin-1 and ASCII labels mean windows-1252, as in browsers."""
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
    except LookupError:
        return None
    return "cp1252" if name in ("iso8859-1", "ascii", "latin-1") else name


def charset_from_content_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    message = email.message.Message()
    message["content-type"] = content_type
    return message.get_param("charset")


def media_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    message = email.message.Message()
    message["content-type"] = content_type
    return message.get_content_type()


def decode_html(data: bytes, content_type: str | None = None) -> str:
    """Bytes to text: HTTP charset, then BOM, then <meta> charset, then UTF-8, then windows-1252.

    Deterministic on purpose (no statistical guessing): an undeclared page that is not UTF-8 is
    almost always windows-1252 or ISO-8859-1, and windows-1252 reads both.
    """
    data, bom_encoding = EncodingDetector.strip_byte_order_mark(data)
    declared = EncodingDetector.find_declared_encoding(data, is_html=True)
    tried = []
    for label in (charset_from_content_type(content_type), bom_encoding, declared, "utf-8", "cp1252"):
        codec = _codec(label)
        if codec is None or codec in tried:
            continue
        tried.append(codec)
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    return data.decode("cp1252", errors="replace")


# --------------------------------------------------------------------------- link classification

VALIDATOR_HOSTS = {"validator.w3.org", "jigsaw.w3.org"}
BADGE_TEXT = re.compile(r"\bvalid\s*(x?html|css|xml|rss|atom|wcag)\b|\bw3c\b|\bvalidator\b", re.I)
SOCIAL_DOMAINS = {
    "facebook.com", "twitter.com", "x.com", "linkedin.com", "instagram.com", "pinterest.com",
    "youtube.com", "myspace.com", "tumblr.com", "reddit.com", "digg.com", "stumbleupon.com",
    "delicious.com", "del.icio.us", "technorati.com", "furl.net", "newsvine.com", "addthis.com",
    "sharethis.com", "addtoany.com", "mixx.com", "tiktok.com",
}
SHARE_PATH = re.compile(r"/(share|sharer|sharearticle|submit|bookmarks?|intent/tweet|pin/create)\b", re.I)
AD_DOMAINS = {
    "doubleclick.net", "googlesyndication.com", "googleadservices.com", "adbrite.com",
    "advertising.com", "atdmt.com", "adnxs.com", "amazon-adsystem.com", "adsonar.com",
    "burstnet.com", "fastclick.net", "valueclick.com", "tribalfusion.com",
}
AD_URL = re.compile(r"^https?://(ads?|adserver|banners?)\.|/(adclick|aclk|adserver|banners?)\b", re.I)


def _clean_text(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text.strip(" \u00bb\u00ab\u00b7\u2022|:-,;")


def _looks_like_url(text: str) -> bool:
    return bool(re.match(r"^(https?://|www\.)\S+$", text, re.I))


def link_name(anchor) -> str:
    """Link text, else its title, else an image's alt text; a bare URL is the last resort."""
    options = [
        _clean_text(anchor.get_text(" ")),
        _clean_text(anchor.get("title")),
        *(_clean_text(img.get("alt")) for img in anchor.find_all("img")),
    ]
    options = [text for text in options if text]
    for text in options:
        if not _looks_like_url(text):
            return text
    return options[0] if options else ""


def _is_badge(url: str, name: str, anchor) -> bool:
    if _host(url) in VALIDATOR_HOSTS:
        return True
    image_text = " ".join(f"{img.get('alt', '')} {img.get('src', '')}" for img in anchor.find_all("img"))
    return bool(BADGE_TEXT.search(name) or BADGE_TEXT.search(image_text) or "w3.org/Icons/valid" in image_text)


def _is_social(url: str) -> bool:
    host = _host(url)
    domain = urls.registrable_domain(host) if host else ""
    if domain in SOCIAL_DOMAINS or host in SOCIAL_DOMAINS:
        return True
    return domain in ("google.com",) and bool(SHARE_PATH.search(urlsplit(url).path))


def _is_ad(url: str, anchor) -> bool:
    host = _host(url)
    if host and urls.registrable_domain(host) in AD_DOMAINS:
        return True
    rel = {value.lower() for value in (anchor.get("rel") or [])}
    return "sponsored" in rel or bool(AD_URL.search(url))


def _scheme(href: str) -> str:
    match = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*):", href)
    return match.group(1).lower() if match else ""


def resolve_link(href: str, base: str | None) -> tuple[str | None, str | None]:
    """(absolute URL, None) for a web link, or (None, skip reason)."""
    href = re.sub(r"[\t\n\r]", "", href).strip()  # browsers drop these inside URLs
    if not href or href.startswith("#"):
        return None, SAME_PAGE
    scheme = _scheme(href)
    if scheme and scheme not in ("http", "https"):
        return None, NOT_WEB
    if not scheme:
        if href.startswith("//") and base is None:
            href = "http:" + href
        elif base is None:
            return None, SAME_SITE  # a relative link on a page with no known address
        else:
            href = urljoin(base, href)
    try:
        urls.check_website_url(href)
    except urls.BadURL:
        return None, MALFORMED
    return href, None


# --------------------------------------------------------------------------- scanning (pure)


def _page_base(soup: BeautifulSoup, page_url: str | None) -> str | None:
    """<base href> (resolved against the page URL) if it is an http(s) URL, else the page URL."""
    base_tag = soup.find("base", href=True)
    if base_tag is not None:
        href = base_tag["href"].strip()
        resolved = urljoin(page_url, href) if page_url else href
        if _scheme(resolved) in ("http", "https"):
            return resolved
    return page_url


def parse_html(html: bytes, content_type: str | None = None) -> BeautifulSoup:
    text = decode_html(html, content_type)
    with warnings.catch_warnings():
        # Old pages are often XHTML or tiny; bs4's hints about that are not problems here.
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        try:
            return BeautifulSoup(text, "lxml")
        except Exception as e:  # lxml/bs4 raise several unrelated types for unparseable input
            raise ImportError_(f"cannot parse the page as HTML: {e}") from e


def _classify(anchor, base: str | None, own_sites: list[str]) -> tuple[str | None, str, str | None]:
    """(absolute URL or None, name, skip reason or None) for one <a href>."""
    name = link_name(anchor)
    url, reason = resolve_link(anchor["href"], base)
    if reason:
        return None, name, reason
    if _is_badge(url, name, anchor):
        return None, name, BADGE
    if _is_social(url):
        return None, name, SOCIAL
    if _is_ad(url, anchor):
        return None, name, AD
    # The page's own domain, subdomains included, is navigation: plain registrable-domain equality.
    if any(urls.site_key(url) == urls.site_key(own) for own in own_sites):
        return None, name, SAME_SITE
    if not name:
        return None, name, NO_NAME
    return url, name, None


def _add_candidate(candidates: list[Candidate], url: str, name: str) -> str | None:
    """Fold a link into the candidates; return a skip reason if it adds no new organization."""
    listing = Listing(name, url)
    for candidate in candidates:
        if not any(same_site(url, known) for known in candidate.urls):
            continue  # same name on another site is another organization (NBCF US vs Australia)
        if name_key(name) in {name_key(n) for n in candidate.names}:
            return DUPLICATE
        candidate.listings.append(listing)
        return OTHER_NAME
    candidates.append(Candidate(website=urls.normalize(url), listings=[listing]))
    return None


def scan_page(html: bytes, page_url: str | None = None, content_type: str | None = None) -> PageScan:
    """Every <a href> on the page, sorted into organization candidates and skipped links."""
    soup = parse_html(html, content_type)
    base = _page_base(soup, page_url)
    own_sites = [url for url in (page_url, base) if url]
    title = _clean_text(soup.title.get_text(" ")) if soup.title else None
    scan = PageScan(title=title or None, links_found=0, candidates=[], skipped=[])
    for anchor in soup.find_all("a", href=True):
        scan.links_found += 1
        url, name, reason = _classify(anchor, base, own_sites)
        if url is not None:
            reason = _add_candidate(scan.candidates, url, name)
        if reason:
            scan.skipped.append(Skipped(anchor["href"], name, reason))
    return scan


def extract_candidates(html: bytes, page_url: str | None = None, content_type: str | None = None) -> list[Candidate]:
    return scan_page(html, page_url, content_type).candidates


# --------------------------------------------------------------------------- matching (pure)


def entry_from_organization(org) -> KnownEntry:
    source_urls = [s["url"] for s in org.sources if isinstance(s, dict) and isinstance(s.get("url"), str)]
    return KnownEntry(org.id, (org.name, *org.other_names), (org.website, *source_urls), org.file)


def entry_from_mapping(value, file: str, is_draft: bool = False) -> KnownEntry | None:
    """Best-effort reading of a file that did not pass validation (or a draft)."""
    if not isinstance(value, dict):
        return None
    names = [value.get("name"), *(value.get("other_names") or [])]
    sources = value.get("sources") if isinstance(value.get("sources"), list) else []
    found_urls = [value.get("website"), *(s.get("url") for s in sources if isinstance(s, dict))]
    names = tuple(n for n in names if isinstance(n, str) and n.strip())
    found_urls = tuple(u for u in found_urls if isinstance(u, str) and u.strip())
    if not names and not found_urls:
        return None
    entry_id = value.get("id") if isinstance(value.get("id"), str) else Path(file).stem
    return KnownEntry(entry_id, names, found_urls, file, is_draft)


def _site_matches(candidate: Candidate, entries: list[KnownEntry]) -> list[KnownEntry]:
    return [e for e in entries if any(same_site(a, b) for a in candidate.urls for b in e.urls)]


def _name_matches(candidate: Candidate, entries: list[KnownEntry]) -> list[KnownEntry]:
    keys = {name_key(n) for n in candidate.names} - {""}
    return [e for e in entries if keys & {name_key(n) for n in e.names}]


def _prefer_curated(entries: list[KnownEntry]) -> tuple[KnownEntry, ...]:
    curated = [e for e in entries if not e.is_draft]
    return tuple(curated or entries)


def match(candidates: list[Candidate], entries: list[KnownEntry]) -> tuple[list[Match], list[Candidate]]:
    """Split candidates into those already in data/ and new ones.

    A site match wins. A name match counts only against entries no other link on this page
    matched by site: that keeps two organizations with one name (NBCF in the US and in
    Australia) apart, while still catching an organization whose website has moved.
    """
    by_site = {id(c): _site_matches(c, entries) for c in candidates}
    claimed = {e for found in by_site.values() for e in found}
    listed, new = [], []
    for candidate in candidates:
        if by_site[id(candidate)]:
            listed.append(Match(candidate, _prefer_curated(by_site[id(candidate)]), "site"))
            continue
        by_name = [e for e in _name_matches(candidate, entries) if e not in claimed]
        if by_name:
            listed.append(Match(candidate, _prefer_curated(by_name), "name"))
        else:
            new.append(candidate)
    return listed, new


# --------------------------------------------------------------------------- drafts (pure)


def _yaml_str(text: str) -> str:
    """A YAML scalar for text: plain when that reads back identically, else double-quoted."""
    if text and text[0] not in "!&*{}[]|>'\"%@`#,?:-" and "\n" not in text:
        try:
            if yaml.safe_load(f"k: {text}") == {"k": text}:
                return text
        except yaml.YAMLError:
            pass
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid YAML double-quoted scalar


def _one_line(text: str) -> str:
    return " ".join(text.split())


def render_draft(candidate: Candidate, draft_id: str, source_id: str, page: str, today: date) -> str:
    lines = [
        f"# DRAFT — proposed by signpost import-html from {_one_line(page)} on {today.isoformat()}.",
        "# Review, complete the TODO fields, then move it to data/organizations/.",
        f"id: {draft_id}",
        f"name: {_yaml_str(candidate.name)}",
    ]
    if candidate.other_names:
        lines.append("other_names:")
        lines += [f"  - {_yaml_str(name)}" for name in candidate.other_names]
    lines += [
        f"website: {_yaml_str(candidate.website)}",
        'description: "TODO: one to three sentences, in our own words, on who they are and how they help."',
        "type: charity  # TODO: check (charity, government, hospital, professional-body, company)",
        "serves: []  # TODO: ISO 3166 codes of the places it helps, or WORLD",
        "focus: []  # TODO: tag ids from data/tags.yaml",
        "status: active",
        "sources:",
    ]
    listed_names = set()
    for listing in candidate.listings:
        if name_key(listing.name) in listed_names:
            continue
        listed_names.add(name_key(listing.name))
        lines.append(f"  - source: {_yaml_str(source_id)}")
        lines.append(f"    listed_as: {_yaml_str(listing.name)}")
        if listing.url != candidate.website:
            lines.append(f"    url: {_yaml_str(listing.url)}")
    return "\n".join(lines) + "\n"


def plan_drafts(new: list[Candidate], data_dir: Path, taken_ids: set[str], source_id: str, page: str,
                today: date) -> list[Draft]:
    """Choose a free file name for each new candidate (slug, slug-2, ...) and render it."""
    taken = set(taken_ids)
    drafts = []
    for candidate in new:
        base = slugify(candidate.name)
        draft_id, n = base, 1
        while draft_id in taken:
            n += 1
            draft_id = f"{base}-{n}"
        taken.add(draft_id)
        path = data_dir / datafiles.DRAFTS_DIR / f"{draft_id}.yaml"
        drafts.append(Draft(candidate, path, render_draft(candidate, draft_id, source_id, page, today)))
    return drafts


# --------------------------------------------------------------------------- I/O


@dataclass(frozen=True)
class FetchedPage:
    data: bytes
    url: str | None  # final URL after redirects; None for a file
    content_type: str | None


def _is_url(page: str) -> bool:
    return "://" in page


def fetch_url(url: str) -> FetchedPage:
    try:
        urls.check_website_url(url)
    except urls.BadURL as e:
        raise ImportError_(f"cannot import {url}: {e} (give an http(s) URL or a file path)") from None
    try:
        with httpx.stream("GET", url, timeout=FETCH_TIMEOUT, follow_redirects=True,
                          headers={"User-Agent": USER_AGENT}) as response:
            if not response.is_success:
                raise ImportError_(f"cannot import {url}: HTTP {response.status_code} {response.reason_phrase}")
            content_type = response.headers.get("content-type")
            kind = media_type(content_type)
            if kind is not None and kind not in HTML_CONTENT_TYPES:
                raise ImportError_(f"cannot import {url}: not an HTML page (Content-Type: {content_type})")
            declared_length = response.headers.get("content-length", "")
            if declared_length.isdigit() and int(declared_length) > MAX_PAGE_BYTES:
                raise ImportError_(f"cannot import {url}: page is larger than {MAX_PAGE_BYTES // 2**20} MB")
            body = bytearray()
            for chunk in response.iter_bytes():  # decompressed bytes, so the cap also stops gzip bombs
                body += chunk
                if len(body) > MAX_PAGE_BYTES:
                    raise ImportError_(f"cannot import {url}: page is larger than {MAX_PAGE_BYTES // 2**20} MB")
            return FetchedPage(bytes(body), str(response.url), content_type)
    except httpx.HTTPError as e:
        raise ImportError_(f"cannot fetch {url}: {e or type(e).__name__}") from None


def read_file(page: str) -> FetchedPage:
    path = Path(page)
    try:
        if path.stat().st_size > MAX_PAGE_BYTES:
            raise ImportError_(f"cannot import {page}: file is larger than {MAX_PAGE_BYTES // 2**20} MB")
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImportError_(f"cannot import {page}: no such file") from None
    except IsADirectoryError:
        raise ImportError_(f"cannot import {page}: it is a folder, not an HTML file") from None
    except OSError as e:
        raise ImportError_(f"cannot import {page}: {e.strerror}") from None
    head = data[:1024]
    if b"\0" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ImportError_(f"cannot import {page}: binary file, not an HTML page")
    return FetchedPage(data, None, None)


def read_page(page: str) -> FetchedPage:
    return fetch_url(page) if _is_url(page) else read_file(page)


def known_entries(data_dir: Path):
    """Curated entries (whatever loads, plus best-effort reading of files that do not), drafts,
    known sources and every id already used by a file."""
    loaded = datafiles.load(data_dir)
    entries = [entry_from_organization(org) for org in loaded.organizations]
    loaded_files = {org.file for org in loaded.organizations}
    taken_ids = {org.id for org in loaded.organizations}
    for folder, is_draft in ((datafiles.ORGANIZATIONS_DIR, False), (datafiles.DRAFTS_DIR, True)):
        for path in sorted((data_dir / folder).glob("*.y*ml")):
            taken_ids.add(path.stem)
            display = f"{folder}/{path.name}"
            if display in loaded_files:
                continue
            try:
                value = yaml.safe_load(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, yaml.YAMLError):
                continue
            entry = entry_from_mapping(value, display, is_draft)
            if entry is not None:
                entries.append(entry)
    return entries, loaded.sources, taken_ids


def default_source_id(page: str, fetched: FetchedPage, title: str | None, sources) -> str:
    """A source already registered for this URL, else a slug of the page title or file name."""
    if fetched.url:
        for source in sources:
            if source.url and urls.normalize(source.url) in (urls.normalize(page), urls.normalize(fetched.url)):
                return source.id
    if title:
        # Titles like "Article - Site Name": reuse a registered source named by one of the parts.
        known = {source.id for source in sources}
        parts = [slugify(part) for part in re.split(r"\s+[-|:\u2013\u2014]+\s+", title)]
        return next((part for part in parts if part in known), slugify(title))
    if fetched.url:
        path = urlsplit(fetched.url).path.rstrip("/")
        return slugify(Path(path).stem or _host(fetched.url))
    return slugify(Path(page).stem)


def write_atomically(path: Path, text: str) -> bool:
    """Write text to path unless it exists; False if it does. Readers never see half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # atomic and fails if the name exists: never overwrites
        except FileExistsError:
            return False
        except OSError:  # file system without hard links
            if path.exists():
                return False
            os.replace(tmp, path)
        return True
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_drafts(drafts: list[Draft]) -> list[Path]:
    written = []
    for draft in drafts:
        draft.path.parent.mkdir(parents=True, exist_ok=True)
        if write_atomically(draft.path, draft.text):
            written.append(draft.path)
    return written


def import_page(page: str, data_dir: Path, source_id: str | None = None, dry_run: bool = False,
                today: date | None = None) -> ImportReport:
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise ImportError_(f"data folder {data_dir} does not exist")
    fetched = read_page(page)
    scan = scan_page(fetched.data, fetched.url, fetched.content_type)
    entries, sources, taken_ids = known_entries(data_dir)
    listed, new = match(scan.candidates, entries)
    source_id = source_id or default_source_id(page, fetched, scan.title, sources)
    drafts = plan_drafts(new, data_dir, taken_ids, source_id, page, today or date.today())
    report = ImportReport(
        page=page, source_id=source_id, source_known=source_id in {s.id for s in sources},
        source_title=scan.title or page, scan=scan, listed=listed, drafts=drafts, data_dir=data_dir,
    )
    if not dry_run:
        report.written = write_drafts(drafts)
    return report


# --------------------------------------------------------------------------- report


def _grouped_skips(skipped: list[Skipped]) -> dict[str, list[Skipped]]:
    groups = defaultdict(list)
    for item in skipped:
        groups[item.reason].append(item)
    return {reason: groups[reason] for reason in SKIP_REASONS if reason in groups}


def _shorten(items: list[str], limit: int = 6) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", ... ({len(items) - limit} more)" if len(items) > limit else "")


def print_report(report: ImportReport, dry_run: bool = False) -> None:
    scan = report.scan
    click.echo(f"Read {report.page}: {scan.links_found} links found, {len(scan.candidates)} organizations.")
    if scan.skipped:
        click.echo(f"Skipped {len(scan.skipped)}:")
        for reason, items in _grouped_skips(scan.skipped).items():
            click.echo(f"  {reason} ({len(items)}): {_shorten([i.text or i.href for i in items])}")
    if report.listed:
        click.echo(f"Already listed ({len(report.listed)}):")
        for found in report.listed:
            where = ", ".join(e.file if e.is_draft else e.id for e in found.entries)
            how = " (by name; the website differs, check it)" if found.by == "name" else ""
            click.echo(f"  {found.candidate.name}: already listed as {where}{how}")
    _print_drafts(report, dry_run)
    if not report.source_known and report.drafts:
        click.echo(
            f"Note: source {report.source_id!r} is not in {report.data_dir / datafiles.SOURCES_FILE}. "
            f"Add it before moving drafts to organizations/ (or rerun with --source ID):\n"
            f"  - id: {report.source_id}\n    title: {_yaml_str(report.source_title)}"
            + (f"\n    url: {report.page}" if _is_url(report.page) else "")
        )


def _print_drafts(report: ImportReport, dry_run: bool) -> None:
    if dry_run:
        if not report.drafts:
            click.echo("No new organizations: no drafts would be written (dry run).")
            return
        click.echo(f"Would write {len(report.drafts)} draft(s) (dry run, nothing written):")
        for draft in report.drafts:
            click.echo(f"  {draft.path}: {draft.candidate.name} <{draft.candidate.website}>")
        return
    if not report.drafts:
        click.echo("No new organizations: no drafts written.")
        return
    click.echo(f"Drafts written ({len(report.written)}):")
    written = set(report.written)
    for draft in report.drafts:
        if draft.path in written:
            click.echo(f"  {draft.path}: {draft.candidate.name} <{draft.candidate.website}>")
        else:
            click.echo(f"  not written, {draft.path} appeared meanwhile: {draft.candidate.name}")


def external_links(page: str) -> list[str]:
    """Every distinct link from PAGE (file or URL) to another site, as found (for `check-urls --from-html`)."""
    fetched = read_page(page)
    scan = scan_page(fetched.data, fetched.url, fetched.content_type)
    return list(dict.fromkeys(listing.url for candidate in scan.candidates for listing in candidate.listings))
