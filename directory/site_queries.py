"""Every query the public site and the maintainers' review page run, and the shaping of their rows
into plain dicts for the templates in directory/site/templates/.

All SQL lives here. User input only ever reaches SQLite as a bound parameter: the only text joined
into a statement is fixed SQL from this module (and placeholder names it generates).
The functions take a Datasette `Database` and await its `execute`, so Datasette's
sql_time_limit_ms applies to every one of them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from urllib.parse import urlencode, urlsplit

from directory import link_states
from directory.models import ORG_TYPES
from directory.places import WORLDWIDE

PAGE_SIZE = 20
MAX_PAGE = 500  # deeper pages are refused rather than run: OFFSET cost grows with the page
MAX_QUERY_TERMS = 12  # a search box, not a query language: longer input is cut
LONG_UNVERIFIABLE_DAYS = 30  # "could not verify" for this long goes on the review page
# bm25 weights for organizations_fts(name, other_names, description, tag_labels): a hit in a name
# or a former name counts far more than a mention in a description.
BM25_WEIGHTS = (10.0, 8.0, 1.0, 3.0)


# -- Visitors' filters -------------------------------------------------------------------------

@dataclass(frozen=True)
class Filters:
    """What a visitor asked for on the home page. Built by `Filters.from_args`, never trusted
    further than that: unknown places and tags simply match nothing."""

    q: str = ""
    country: str | None = None
    region: str | None = None
    tags: tuple[str, ...] = ()
    page: int = 1

    @classmethod
    def from_args(cls, args) -> "Filters":
        """From a request's query string (Datasette's MultiParams or a dict of lists)."""
        def first(name: str) -> str:
            values = args.getlist(name) if hasattr(args, "getlist") else args.get(name, [])
            return (values[0] if values else "").strip()

        tags_in = args.getlist("tag") if hasattr(args, "getlist") else args.get("tag", [])
        tags = tuple(dict.fromkeys(t.strip() for t in tags_in if t.strip()))[:10]
        country = first("country").upper() or None
        region = first("region").upper() or None
        if country is None or country == WORLDWIDE or not (region or "").startswith(f"{country}-"):
            region = None  # a region only counts inside the chosen country
        try:
            page = max(1, int(first("page") or 1))
        except ValueError:
            page = 1
        return cls(q=first("q")[:200], country=country, region=region, tags=tags, page=page)

    @property
    def place(self) -> str | None:
        return self.region or self.country

    @property
    def active(self) -> bool:
        return bool(self.q or self.place or self.tags)

    def url(self, **changes) -> str:
        """The home-page URL for these filters with some changed, e.g. url(page=2), url(tags=())."""
        values = {"q": self.q, "country": self.country, "region": self.region,
                  "tags": self.tags, "page": self.page}
        values.update(changes)
        if "country" in changes and "region" not in changes:
            values["region"] = None
        if "page" not in changes:
            values["page"] = 1
        pairs = [(k, values[k]) for k in ("q", "country", "region") if values[k]]
        pairs += [("tag", tag) for tag in values["tags"]]
        if values["page"] and values["page"] > 1:
            pairs.append(("page", values["page"]))
        return "/?" + urlencode(pairs) if pairs else "/"


def place_filter_url(code: str) -> str:
    """The home page filtered to one place: a region is chosen inside its country."""
    country, _, rest = code.partition("-")
    return Filters(country=country, region=code if rest else None).url()


def fts_match(q: str) -> str | None:
    """A visitor's words as an FTS5 query that cannot be a syntax error: every word quoted, all
    words required. None when there is nothing to search for."""
    words = re.findall(r"\w+", q)[:MAX_QUERY_TERMS]
    return " ".join(f'"{word}"' for word in words) or None


# The organization serves the place, or a place containing it (its country, WORLD) ...
# ... or, unless the place is WORLD itself, somewhere inside it (a country's regions).
PLACE_MATCH = """
    SELECT op.organization_id FROM organization_places op
    JOIN place_ancestors pa ON pa.ancestor_code = op.place_code
    WHERE pa.place_code = :place
    UNION
    SELECT op.organization_id FROM organization_places op
    JOIN place_ancestors pa ON pa.place_code = op.place_code
    WHERE pa.ancestor_code = :place AND :place != 'WORLD'
"""

# The same rule for many candidate places at once (candidates: a CTE with one column, code).
PLACE_MATCHES_FOR_CANDIDATES = """
    SELECT c.code, op.organization_id FROM candidates c
    JOIN place_ancestors pa ON pa.place_code = c.code
    JOIN organization_places op ON op.place_code = pa.ancestor_code
    UNION
    SELECT c.code, op.organization_id FROM candidates c
    JOIN place_ancestors pa ON pa.ancestor_code = c.code AND c.code != 'WORLD'
    JOIN organization_places op ON op.place_code = pa.place_code
"""

# Countries where some listed organization helps (directly or in a region), plus Worldwide.
COUNTRY_CANDIDATES = """
    SELECT DISTINCT CASE WHEN p.kind = 'world' THEN p.code ELSE p.country_code END AS code
    FROM organization_places op
    JOIN places p ON p.code = op.place_code
    JOIN organizations o ON o.id = op.organization_id AND o.withdrawn_at IS NULL
    UNION SELECT 'WORLD'
"""

# A country's first-level regions, plus any deeper region a listed organization names.
REGION_CANDIDATES = """
    SELECT code FROM places WHERE kind = 'subdivision' AND parent_code = :country
    UNION
    SELECT p.code FROM organization_places op
    JOIN places p ON p.code = op.place_code AND p.kind = 'subdivision' AND p.country_code = :country
    JOIN organizations o ON o.id = op.organization_id AND o.withdrawn_at IS NULL
"""


def _where(filters: Filters, *, place: bool = True, tags: bool = True) -> tuple[str, dict]:
    """WHERE clause over `organizations o` for the visitor's filters (listed organizations only)."""
    clauses = ["o.withdrawn_at IS NULL"]
    params: dict = {}
    match = fts_match(filters.q)
    if match:
        clauses.append("o.rowid IN (SELECT rowid FROM organizations_fts WHERE organizations_fts MATCH :match)")
        params["match"] = match
    if place and filters.place:
        clauses.append(f"o.id IN ({PLACE_MATCH})")
        params["place"] = filters.place
    if tags:
        for i, tag in enumerate(filters.tags):
            clauses.append(
                f"EXISTS (SELECT 1 FROM organization_tags ot WHERE ot.organization_id = o.id AND ot.tag_id = :tag{i})"
            )
            params[f"tag{i}"] = tag
    return " AND ".join(clauses), params


ORG_COLUMNS = """
    o.id, o.name, o.other_names, o.website, o.description, o.type, o.status, o.status_year,
    o.status_note, o.successor_id, o.hq_country, o.hq_subdivision, o.sources, o.withdrawn_at,
    succ.name AS successor_name,
    ls.state AS link_state, ls.since AS link_since, ls.last_checked_at AS link_checked_at,
    ls.last_ok_at AS link_ok_at
"""
ORG_JOINS = """
    LEFT JOIN organizations succ ON succ.id = o.successor_id AND succ.withdrawn_at IS NULL
    LEFT JOIN link_status ls ON ls.organization_id = o.id
"""


@dataclass
class SearchResults:
    filters: Filters
    total: int
    cards: list[dict]
    countries: list[dict]
    regions: list[dict]
    tags: list[dict]
    page_count: int = field(init=False)

    def __post_init__(self):
        self.page_count = max(1, -(-self.total // PAGE_SIZE))

    @property
    def first(self) -> int:
        return (self.filters.page - 1) * PAGE_SIZE + 1 if self.total else 0

    @property
    def last(self) -> int:
        return min(self.total, self.filters.page * PAGE_SIZE)


async def search(db, filters: Filters, today: date | None = None) -> SearchResults:
    """One page of organizations for the visitor's filters, with the counts for every filter."""
    where, params = _where(filters)
    total = (await db.execute(f"SELECT count(*) FROM organizations o WHERE {where}", params)).first()[0]
    page = min(filters.page, MAX_PAGE)
    paging = {"limit": PAGE_SIZE, "offset": (page - 1) * PAGE_SIZE}
    if "match" in params:
        sql = f"""
            SELECT {ORG_COLUMNS} FROM organizations o
            JOIN (SELECT rowid, bm25(organizations_fts, {', '.join(map(str, BM25_WEIGHTS))}) AS score
                  FROM organizations_fts WHERE organizations_fts MATCH :match) hit ON hit.rowid = o.rowid
            {ORG_JOINS}
            WHERE {where}
            ORDER BY hit.score, o.status != 'active', o.name COLLATE NOCASE
            LIMIT :limit OFFSET :offset"""
    else:
        sql = f"""
            SELECT {ORG_COLUMNS} FROM organizations o {ORG_JOINS}
            WHERE {where}
            ORDER BY o.status != 'active', o.name COLLATE NOCASE
            LIMIT :limit OFFSET :offset"""
    rows = [dict(r) for r in (await db.execute(sql, {**params, **paging})).rows]
    cards = await _with_places_and_tags(db, rows, today)
    return SearchResults(
        filters=filters,
        total=total,
        cards=cards,
        countries=await _place_counts(db, COUNTRY_CANDIDATES, filters),
        regions=(await _place_counts(db, REGION_CANDIDATES, filters, country=filters.country)
                 if filters.country and filters.country != WORLDWIDE else []),
        tags=await tag_counts(db, filters),
    )


async def _place_counts(db, candidates_sql: str, filters: Filters, **extra) -> list[dict]:
    where, params = _where(filters, place=False)
    sql = f"""
        WITH filtered AS (SELECT o.id FROM organizations o WHERE {where}),
        candidates AS ({candidates_sql}),
        matches AS ({PLACE_MATCHES_FOR_CANDIDATES})
        SELECT c.code, p.name, p.kind, count(f.id) AS count
        FROM candidates c JOIN places p ON p.code = c.code
        LEFT JOIN matches m ON m.code = c.code
        LEFT JOIN filtered f ON f.id = m.organization_id
        GROUP BY c.code
        ORDER BY p.kind = 'world' DESC, p.name"""
    return [dict(r) for r in (await db.execute(sql, {**params, **extra})).rows]


async def tag_counts(db, filters: Filters) -> list[dict]:
    """Every focus tag with how many of the current results have it (tags combine with AND)."""
    where, params = _where(filters)
    sql = f"""
        WITH filtered AS (SELECT o.id FROM organizations o WHERE {where})
        SELECT t.id, t.label, t.definition, count(f.id) AS count
        FROM tags t
        LEFT JOIN organization_tags ot ON ot.tag_id = t.id
        LEFT JOIN filtered f ON f.id = ot.organization_id
        GROUP BY t.id ORDER BY t.sort_order"""
    return [dict(r) for r in (await db.execute(sql, params)).rows]


async def _with_places_and_tags(db, rows: list[dict], today: date | None) -> list[dict]:
    ids = json.dumps([row["id"] for row in rows])
    places: dict[str, list[dict]] = {}
    for r in (await db.execute(
        """SELECT op.organization_id, p.code, p.name FROM organization_places op
           JOIN places p ON p.code = op.place_code
           WHERE op.organization_id IN (SELECT value FROM json_each(:ids))
           ORDER BY p.kind = 'world', p.name""", {"ids": ids})).rows:
        places.setdefault(r["organization_id"], []).append(
            {"code": r["code"], "name": r["name"], "url": place_filter_url(r["code"])})
    tags: dict[str, list[dict]] = {}
    for r in (await db.execute(
        """SELECT ot.organization_id, t.id, t.label FROM organization_tags ot
           JOIN tags t ON t.id = ot.tag_id
           WHERE ot.organization_id IN (SELECT value FROM json_each(:ids))
           ORDER BY t.sort_order""", {"ids": ids})).rows:
        tags.setdefault(r["organization_id"], []).append(
            {"id": r["id"], "label": r["label"], "url": Filters(tags=(r["id"],)).url()})
    return [shape_organization(row, places.get(row["id"], []), tags.get(row["id"], []), today)
            for row in rows]


# -- One organization --------------------------------------------------------------------------

async def organization(db, org_id: str, today: date | None = None) -> dict | None:
    """Everything public about one organization (withdrawn ones too: the page says so), or None."""
    result = await db.execute(
        f"""SELECT {ORG_COLUMNS}, hqc.name AS hq_country_name, hqs.name AS hq_subdivision_name
            FROM organizations o {ORG_JOINS}
            LEFT JOIN places hqc ON hqc.code = o.hq_country
            LEFT JOIN places hqs ON hqs.code = o.hq_subdivision
            WHERE o.id = :id""", {"id": org_id})
    row = result.first()
    if row is None:
        return None
    row = dict(row)
    [org] = await _with_places_and_tags(db, [row], today)
    org["predecessors"] = [dict(r) for r in (await db.execute(
        """SELECT id, name, status, status_year FROM organizations
           WHERE successor_id = :id AND withdrawn_at IS NULL ORDER BY name COLLATE NOCASE""",
        {"id": org_id})).rows]
    for predecessor in org["predecessors"]:
        predecessor["change"] = "Renamed" if predecessor["status"] == "renamed" else "Merged in"
    titles = {r["id"]: r["title"] for r in (await db.execute("SELECT id, title FROM sources")).rows}
    org["provenance"] = [
        {"title": titles.get(s.get("source"), s.get("source")), "listed_as": s.get("listed_as")}
        for s in _json_list(row["sources"])
    ]
    org["headquarters"] = ", ".join(
        name for name in (row["hq_subdivision_name"], row["hq_country_name"]) if name
    ) or None
    return org


# -- Shaping rows for templates ----------------------------------------------------------------

def _json_list(value: str | None) -> list:
    try:
        parsed = json.loads(value) if value else []
    except ValueError:
        return []
    return parsed if isinstance(parsed, list) else []


def web_url(value: str | None) -> str | None:
    """The URL if it is plain http(s) (so never javascript: or data:), else None."""
    if value and urlsplit(value).scheme in ("http", "https"):
        return value
    return None


def display_host(url: str) -> str:
    host = urlsplit(url).hostname or url
    return host[4:] if host.startswith("www.") else host


def one_line(text: str, limit: int = 180) -> str:
    """The first sentence, cut at a word boundary if it is still long."""
    first = re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0]
    if len(first) <= limit:
        return first
    return first[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def lifecycle(row: dict) -> dict | None:
    """'Merged into X in 2019' etc. as parts, so the template can link the successor."""
    status = row["status"]
    if status == "active":
        return None
    verbs = {"merged": "Merged", "renamed": "Renamed", "closed": "Closed"}
    return {
        "status": status,
        "verb": verbs.get(status, status.capitalize()),
        "successor_id": row["successor_id"] if row.get("successor_name") else None,
        "successor_name": row.get("successor_name"),
        "year": row["status_year"],
        "note": row["status_note"],
    }


def link_view(state: str | None, *, since: str | None, checked_at: str | None,
              ok_at: str | None, today: date | None = None) -> dict:
    state = state if state in link_states.STATES else link_states.UNCHECKED
    return {
        "state": state,
        "label": link_states.VISITOR_LABELS[state],
        "tone": link_states.TONES[state],
        "detail": link_states.visitor_detail(state, last_checked_at=checked_at, last_ok_at=ok_at,
                                             since=since, today=today),
        "checked": link_states.humane_date(checked_at, today),
    }


def website_advice(status: str, link_state: str | None) -> str:
    """How to offer the website to a visitor: "visit" as a plain call to action, "caution" when
    our checks say it may not lead to the organization any more (a patient should not land on a
    parking or casino page unwarned), "former" when the organization itself has closed or moved on."""
    if status != "active":
        return "former"
    if link_state in (link_states.DOWN, link_states.REVIEW):
        return "caution"
    return "visit"


def shape_organization(row: dict, places: list[dict], tags: list[dict],
                       today: date | None = None) -> dict:
    website = web_url(row["website"])
    return {
        **row,
        "summary": one_line(row["description"]),
        "other_names": _json_list(row["other_names"]),
        "type_label": ORG_TYPES.get(row["type"], row["type"]),
        "places": places,
        "tags": tags,
        "website": website,
        "website_host": display_host(website) if website else None,
        "lifecycle": lifecycle(row),
        "website_advice": website_advice(row["status"], row["link_state"]),
        "link": link_view(row["link_state"], since=row["link_since"], checked_at=row["link_checked_at"],
                          ok_at=row["link_ok_at"], today=today),
    }


# -- Maintainers -------------------------------------------------------------------------------

REVIEW_SQL = """
    SELECT o.id, o.name, o.website, ls.url AS checked_url, ls.state, ls.since, ls.last_checked_at,
           ls.last_ok_at, ls.last_outcome, ls.reason, ls.failures, ls.first_failure_at,
           ls.needs_review, ls.review_reason, ls.suggested_fix, ls.evidence, ls.warning
    FROM link_states ls
    JOIN organizations o ON o.id = ls.organization_id AND o.withdrawn_at IS NULL
    -- merged, renamed or closed: the data already tells visitors; a decaying old domain is expected
    WHERE o.status = 'active' AND (ls.needs_review = 1
       OR ls.state = 'down'
       OR (ls.state = 'unverifiable' AND ls.since < :unverifiable_before)
       OR ls.warning IS NOT NULL)
    ORDER BY ls.needs_review DESC, ls.state = 'down' DESC, ls.last_checked_at, o.name
"""

EVIDENCE_LABELS = {
    "final_url": "Ended up at",
    "title": "Page title seen",
    "baseline_title": "Page title when last accepted",
    "status_code": "HTTP status",
}


async def review_queue(db, now: datetime | None = None, today: date | None = None) -> list[dict]:
    """Organizations whose website needs a person: flagged for review, down, or unverifiable for
    LONG_UNVERIFIABLE_DAYS. Reads the checker's private table: maintainers only."""
    now = now or datetime.now(timezone.utc)
    before = (now - timedelta(days=LONG_UNVERIFIABLE_DAYS)).replace(microsecond=0).isoformat()
    rows = (await db.execute(REVIEW_SQL, {"unverifiable_before": before})).rows
    return [_review_item(dict(row), today) for row in rows]


def _review_item(row: dict, today: date | None) -> dict:
    try:
        evidence = json.loads(row["evidence"]) if row["evidence"] else {}
    except ValueError:
        evidence = {"raw": row["evidence"]}
    if not isinstance(evidence, dict):
        evidence = {"raw": evidence}
    return {
        **row,
        "website": row["website"],
        "website_url": web_url(row["website"]),
        "label": link_states.VISITOR_LABELS.get(row["state"], row["state"]),
        "checked": link_states.humane_date(row["last_checked_at"], today),
        "since_humane": link_states.humane_date(row["since"], today),
        "evidence_items": [
            {"label": EVIDENCE_LABELS.get(key, key), "value": value,
             "url": web_url(value) if isinstance(value, str) else None}
            for key, value in evidence.items() if value not in (None, "")
        ],
        "evidence_json": json.dumps(evidence, indent=2, ensure_ascii=False) if evidence else None,
    }


# -- Public export -----------------------------------------------------------------------------

# A canned query (registered by directory/publish.py) so visitors can export the listed directory
# with readable columns: /signpost/directory.csv, /signpost/directory.json?_shape=array
EXPORT_SQL = """
SELECT
  o.id,
  o.name,
  o.website,
  o.description,
  o.type,
  (SELECT group_concat(p.name, '; ') FROM organization_places op JOIN places p ON p.code = op.place_code
    WHERE op.organization_id = o.id) AS helps_in,
  (SELECT group_concat(t.label, '; ') FROM organization_tags ot JOIN tags t ON t.id = ot.tag_id
    WHERE ot.organization_id = o.id) AS focus,
  o.status AS lifecycle,
  o.successor_id AS successor,
  o.status_year,
  coalesce(ls.state, 'unchecked') AS link_state,
  ls.last_checked_at AS link_last_checked,
  '/org/' || o.id AS page
FROM organizations o
LEFT JOIN link_status ls ON ls.organization_id = o.id
WHERE o.withdrawn_at IS NULL
ORDER BY o.name COLLATE NOCASE
"""


# -- Sitemap -----------------------------------------------------------------------------------

SITEMAP_SQL = """
    SELECT id, updated_at FROM organizations WHERE withdrawn_at IS NULL ORDER BY id
"""


async def sitemap_entries(db) -> list[dict]:
    """The canonical pages crawlers may index: the directory and one page per listed organization."""
    rows = (await db.execute(SITEMAP_SQL)).rows
    return [{"path": f"/org/{row['id']}", "lastmod": (row["updated_at"] or "")[:10]} for row in rows]
