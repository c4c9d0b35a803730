"""The published site, in-process: pages visitors and maintainers see, and every door to the
checker's private tables. A database is built from tests/fixtures/site_data (one organization is
withdrawn by a second build) and given link states and checks as the checker would write them."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import sqlite3
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from bs4 import BeautifulSoup
from datasette.app import Datasette

from directory.build import build
from directory.publish import SITE_DIR, build_datasette, load_metadata, load_settings

FIXTURE_DATA = Path(__file__).parent / "fixtures" / "site_data"
WITHDRAWN = "quiet-withdrawn"
LISTED = {
    "bcna", "breast-cancer-care", "breast-cancer-now", "canadian-cancer-society", "harbour-lights",
    "living-beyond", "script-and-co", "willow-breast-cancer-support", "willow-hereditary-support",
    "worldwide-breast-forum",
}
PRIVATE_TABLES = ("checks", "check_runs", "link_states")


def days_ago(n: int) -> str:
    when = datetime.combine(date.today() - timedelta(days=n), time(9, 30), tzinfo=timezone.utc)
    return when.isoformat()


LINK_STATES = [
    # organization_id, state, since, last_checked_at, last_ok_at, extra columns
    ("living-beyond", "healthy", days_ago(40), days_ago(2), days_ago(2),
     {"warning": "TLS certificate expires on 2026-12-05 (9 days after the last check)"}),
    ("bcna", "down", days_ago(20), days_ago(1), days_ago(21), {
        "needs_review": 1, "last_outcome": "connect_error", "reason": "connection refused",
        "failures": 4, "first_failure_at": days_ago(20),
        "review_reason": f"unreachable since {days_ago(20)[:10]}: connection refused"}),
    ("breast-cancer-now", "review", days_ago(3), days_ago(3), days_ago(10), {
        "needs_review": 1, "last_outcome": "moved", "reason": "redirects to another site",
        "review_reason": "redirects to another site",
        "suggested_fix": "If https://moved.example.net/new is the organization's new website, change `website` to it.",
        "evidence": json.dumps({"final_url": "https://moved.example.net/new",
                                "title": "Welcome <b>moved</b>", "status_code": 301})}),
    ("worldwide-breast-forum", "unverifiable", days_ago(60), days_ago(1), None,
     {"last_outcome": "blocked", "reason": "HTTP 403 to automated checks"}),
    ("canadian-cancer-society", "unverifiable", days_ago(3), days_ago(3), None,
     {"last_outcome": "blocked", "reason": "HTTP 403 to automated checks"}),
]


def _write_checker_rows(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute("INSERT INTO check_runs (id, started_at, finished_at, selection, organizations, urls) "
                     "VALUES (1, ?, ?, 'all', 10, 10)", (days_ago(1), days_ago(1)))
        for org_id, state, since, checked, ok, extra in LINK_STATES:
            row = {"organization_id": org_id, "url": "https://example.org/", "state": state, "since": since,
                   "last_checked_at": checked, "last_ok_at": ok, "needs_review": 0, "failures": 0, **extra}
            conn.execute(f"INSERT INTO link_states ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
                         list(row.values()))
        for i, (outcome, when) in enumerate([("ok", days_ago(10)), ("moved", days_ago(3))], start=1):
            conn.execute("INSERT INTO checks (id, run_id, organization_id, checked_at, url, outcome, reason) "
                         "VALUES (?, 1, 'breast-cancer-now', ?, 'https://breastcancernow.org/', ?, 'secret-reason')",
                         (i, when, outcome))
    conn.close()


@pytest.fixture(scope="session")
def site_db(tmp_path_factory) -> Path:
    """Built twice, the way `signpost build` withdraws an organization that left data/."""
    root = tmp_path_factory.mktemp("site")
    data = root / "data"
    shutil.copytree(FIXTURE_DATA, data)
    db_path = root / "signpost.db"
    build(data, db_path)
    (data / "organizations" / f"{WITHDRAWN}.yaml").unlink()
    build(data, db_path)
    _write_checker_rows(db_path)
    return db_path


@pytest.fixture
def ds(site_db) -> Datasette:
    return build_datasette(site_db)


ROOT = {"a": {"id": "root"}}


def root_cookies(ds: Datasette) -> dict:
    return {"ds_actor": ds.sign(ROOT, "actor")}


async def get_soup(ds: Datasette, path: str, status: int = 200, **kwargs) -> BeautifulSoup:
    response = await ds.client.get(path, **kwargs)
    assert response.status_code == status, (path, response.status_code, response.text[:500])
    return BeautifulSoup(response.text, "html.parser")


def card_ids(soup: BeautifulSoup) -> list[str]:
    return [card["aria-labelledby"].removeprefix("org-") for card in soup.select("article.card")]


# -- The home page -----------------------------------------------------------------------------

@pytest.mark.asyncio
async def test_home_is_the_directory_with_cards(ds):
    soup = await get_soup(ds, "/")
    assert soup.html["lang"] == "en"
    assert len(soup.find_all("h1")) == 1
    for landmark in ("header", "main", "footer"):
        assert soup.find(landmark) is not None
    assert soup.select_one("a.skip-link")["href"] == "#main"
    assert soup.find("main")["id"] == "main"
    label = soup.find("label", attrs={"for": "q"})
    assert label and label.get_text(strip=True) and soup.find("input", id="q")["type"] == "search"
    for control in soup.select("form.finder select, form.finder input[type=search]"):
        assert soup.find("label", attrs={"for": control["id"]}), control
    assert set(card_ids(soup)) == LISTED
    assert "Link states come from regular automated checks" in soup.find("footer").get_text(" ", strip=True)


@pytest.mark.asyncio
async def test_card_shows_places_tags_website_lifecycle_and_link_state(ds):
    soup = await get_soup(ds, "/")
    card = soup.find("article", attrs={"aria-labelledby": "org-breast-cancer-care"})
    text = card.get_text(" ", strip=True)
    assert "Merged into Breast Cancer Now in 2019" in " ".join(text.split())
    assert card.select_one(".lifecycle a")["href"] == "/org/breast-cancer-now"
    assert "United Kingdom" in text and "GB" not in text.split()
    assert [a.get_text() for a in card.select(".tag-list a")] == ["Patient support", "Helpline", "Information and news"]
    # A merged organization's old domain is shown for the record but never linked.
    assert card.select_one("a.website") is None
    assert "breastcancercare.org.uk (no longer its site)" in text
    assert card.select_one(".link-state") is None  # a former site's check state is not the visitor's concern
    assert card.select_one("h3 a")["href"] == "/org/breast-cancer-care"

    world = soup.find("article", attrs={"aria-labelledby": "org-worldwide-breast-forum"})
    assert "Worldwide (online and international)" in world.get_text()
    closed = soup.find("article", attrs={"aria-labelledby": "org-harbour-lights"})
    assert "Closed in 2021." in closed.select_one(".lifecycle").get_text(" ", strip=True)
    renamed = soup.find("article", attrs={"aria-labelledby": "org-willow-breast-cancer-support"})
    assert " ".join(renamed.select_one(".lifecycle").get_text(" ", strip=True).split()) == (
        "Renamed to Willow Breast & Hereditary Cancer Support in 2017.")


@pytest.mark.asyncio
async def test_link_states_read_as_words(ds):
    soup = await get_soup(ds, "/")

    def state_text(org_id):
        card = soup.find("article", attrs={"aria-labelledby": f"org-{org_id}"})
        return " ".join(card.select_one(".link-state").get_text(" ", strip=True).split())

    assert "Website working." in state_text("living-beyond")
    assert "Checked 2 days ago." in state_text("living-beyond")
    assert "Website unreachable." in state_text("bcna")
    assert "(last checked yesterday)" in state_text("bcna")
    assert "Website being reviewed." in state_text("breast-cancer-now")
    assert "Could not verify automatically." in state_text("canadian-cancer-society")
    assert "We have not checked this website yet." in state_text("willow-hereditary-support")
    closed = soup.find("article", attrs={"aria-labelledby": "org-harbour-lights"})
    assert closed.select_one(".link-state") is None



@pytest.mark.asyncio
async def test_website_is_offered_according_to_checks_and_lifecycle(ds):
    # Healthy and active: a plain "Visit" call to action.
    soup = await get_soup(ds, "/org/living-beyond")
    assert soup.select_one("p.visit a.button") is not None
    # Down or under review: the visitor is warned before following the link, and it is nofollow.
    for org_id in ("bcna", "breast-cancer-now"):
        soup = await get_soup(ds, f"/org/{org_id}")
        assert soup.select_one("p.visit a.button") is None
        caution = soup.select_one("p.visit.caution")
        assert "may no longer lead to" in caution.get_text(" ", strip=True)
        assert "nofollow" in caution.find("a")["rel"]
    # Merged or closed: the old domain is text only, never a link a patient could follow.
    soup = await get_soup(ds, "/org/breast-cancer-care")
    assert soup.select_one("p.visit") is None
    assert "Former website" in soup.select_one("p.url").get_text()
    assert not [a for a in soup.find_all("a") if "breastcancercare.org.uk" in (a.get("href") or "")]

# -- Search -----------------------------------------------------------------------------------

@pytest.mark.asyncio
async def test_search_ranks_name_matches_above_description_mentions(ds):
    soup = await get_soup(ds, "/?q=willow")
    ids = card_ids(soup)
    # Canadian Cancer Society only mentions Willow in its description.
    assert set(ids) == {"willow-hereditary-support", "willow-breast-cancer-support", "canadian-cancer-society"}
    assert ids[-1] == "canadian-cancer-society"
    assert "sorted by relevance" in soup.select_one(".active-filters").get_text()


@pytest.mark.asyncio
async def test_search_former_name_finds_the_current_organization_and_the_old_entry(ds):
    ids = card_ids(await get_soup(ds, "/?q=Willow+Breast+Cancer+Support+Canada"))
    assert set(ids) == {"willow-hereditary-support", "willow-breast-cancer-support"}
    ids = card_ids(await get_soup(ds, "/?q=breakthrough"))
    assert ids == ["breast-cancer-now"]


@pytest.mark.asyncio
async def test_search_never_shows_withdrawn_organizations(ds):
    soup = await get_soup(ds, "/?q=quiet+withdrawn+helpline")
    assert card_ids(soup) == []
    assert "No organizations found" in soup.find(id="results-heading").get_text()


@pytest.mark.asyncio
@pytest.mark.parametrize("q", ['"', "*", "NEAR(", "a OR", "AND", "-", "^x", "name:helpline", ")(", "'", "\\", "💗", "a" * 300])
async def test_search_survives_fts_syntax(ds, q):
    await get_soup(ds, "/", params={"q": q})


# -- Filters ----------------------------------------------------------------------------------

@pytest.mark.asyncio
async def test_region_includes_organizations_serving_its_country_and_the_world(ds):
    soup = await get_soup(ds, "/?country=CA&region=CA-ON")
    assert set(card_ids(soup)) == {
        "willow-hereditary-support", "willow-breast-cancer-support",  # CA-ON
        "canadian-cancer-society",  # CA
        "worldwide-breast-forum",  # WORLD
    }
    assert soup.select_one("#region option[selected]")["value"] == "CA-ON"


@pytest.mark.asyncio
async def test_country_offers_its_regions_with_counts(ds):
    soup = await get_soup(ds, "/?country=CA")
    assert set(card_ids(soup)) == {"willow-hereditary-support", "willow-breast-cancer-support",
                                   "canadian-cancer-society", "worldwide-breast-forum"}
    regions = {o["value"]: o.get_text(strip=True) for o in soup.select("#region option")}
    assert regions["CA-ON"] == "Ontario (4)"
    assert regions["CA-QC"] == "Quebec (2)"  # the country-wide and worldwide ones
    assert regions[""] == "All of Canada"
    countries = {o["value"]: o.get_text(strip=True) for o in soup.select("#country option")}
    assert countries["CA"] == "Canada (4)"
    assert countries["GB"] == "United Kingdom (3)"
    assert countries["WORLD"].startswith("Worldwide")
    assert "FR" not in countries  # only countries that have organizations


@pytest.mark.asyncio
async def test_worldwide_means_worldwide_only_and_regions_exclude_other_countries(ds):
    assert card_ids(await get_soup(ds, "/?country=WORLD")) == ["worldwide-breast-forum"]
    ids = set(card_ids(await get_soup(ds, "/?country=US&region=US-CA")))
    assert ids == {"script-and-co", "living-beyond", "worldwide-breast-forum"}
    # a region of another country is ignored rather than trusted
    assert set(card_ids(await get_soup(ds, "/?country=GB&region=CA-ON"))) == {
        "breast-cancer-now", "breast-cancer-care", "worldwide-breast-forum"}


@pytest.mark.asyncio
async def test_focus_filter_and_counts(ds):
    soup = await get_soup(ds, "/?tag=helpline")
    assert set(card_ids(soup)) == {"breast-cancer-now", "breast-cancer-care", "willow-hereditary-support",
                                   "canadian-cancer-society", "living-beyond", "bcna"}
    checked = [i["value"] for i in soup.select("input[name=tag][checked]")]
    assert checked == ["helpline"]
    labels = {i["value"]: " ".join(i.parent.get_text(" ", strip=True).split()) for i in soup.select("input[name=tag]")}
    assert labels["helpline"] == "Helpline (6)"
    assert labels["metastatic"] == "Metastatic breast cancer (2)"  # among the current results


@pytest.mark.asyncio
async def test_filters_combine(ds):
    assert set(card_ids(await get_soup(ds, "/?country=CA&tag=helpline"))) == {
        "willow-hereditary-support", "canadian-cancer-society"}
    assert card_ids(await get_soup(ds, "/?country=CA&tag=helpline&tag=hereditary-risk")) == [
        "willow-hereditary-support"]
    assert card_ids(await get_soup(ds, "/?q=information&country=AU&tag=helpline")) == ["bcna"]
    soup = await get_soup(ds, "/?q=nothing-like-this&country=AU")
    assert card_ids(soup) == [] and soup.select_one(".empty")


@pytest.mark.asyncio
async def test_unknown_filters_and_pages(ds):
    assert card_ids(await get_soup(ds, "/?country=ZZ")) == []
    assert card_ids(await get_soup(ds, "/?tag=no-such-tag")) == []
    assert set(card_ids(await get_soup(ds, "/?page=nonsense"))) == LISTED
    await get_soup(ds, "/?page=99", status=404)


# -- Organization pages -----------------------------------------------------------------------

@pytest.mark.asyncio
async def test_organization_page_has_every_public_detail(ds):
    soup = await get_soup(ds, "/org/breast-cancer-now")
    assert len(soup.find_all("h1")) == 1 and soup.h1.get_text() == "Breast Cancer Now"
    text = " ".join(soup.find("main").get_text(" ", strip=True).split())
    assert "Also known as: Breakthrough Breast Cancer" in text
    assert "Breast Cancer Care merged into it in 2019." in text
    assert soup.find("a", string="Breast Cancer Care")["href"] == "/org/breast-cancer-care"
    assert "Funds research, runs a free helpline" in text
    assert "Based in England, United Kingdom" in text
    assert "Kind of organization Charity or non-profit" in text
    assert "Listed on: Added by a Signpost curator" in text
    assert "Website being reviewed." in text and "checked 3 days ago" in text
    assert soup.find("a", string="Helpline")["href"] == "/?tag=helpline"
    assert soup.find("a", string="United Kingdom")["href"] == "/?country=GB"
    assert soup.find("a", string="Open breastcancernow.org anyway")["href"] == "https://breastcancernow.org/"  # under review


@pytest.mark.asyncio
async def test_organization_page_lifecycle_links(ds):
    old = await get_soup(ds, "/org/willow-breast-cancer-support")
    text = " ".join(old.find("main").get_text(" ", strip=True).split())
    assert "Renamed to Willow Breast & Hereditary Cancer Support in 2017." in text
    assert 'Listed on: Breast Cancer Review: "Breast Cancer Resources" list as “Willow Breast Cancer Support”' in text
    assert old.select_one(".lifecycle a")["href"] == "/org/willow-hereditary-support"
    assert old.find("a", string="Ontario")["href"] == "/?country=CA&region=CA-ON"

    new = await get_soup(ds, "/org/willow-hereditary-support")
    text = " ".join(new.find("main").get_text(" ", strip=True).split())
    assert "Formerly Willow Breast Cancer Support Canada in 2017." in text
    assert new.select_one(".predecessor a")["href"] == "/org/willow-breast-cancer-support"

    closed = await get_soup(ds, "/org/harbour-lights")
    assert "Closed in 2021. The circle closed when its volunteers retired." in " ".join(
        closed.select_one(".lifecycle").get_text(" ", strip=True).split())


@pytest.mark.asyncio
async def test_unknown_and_withdrawn_organizations(ds):
    soup = await get_soup(ds, "/org/no-such-organization", status=404)
    assert soup.h1.get_text() == "Page not found" and soup.html["lang"] == "en"
    await get_soup(ds, "/org/..%2F..%2Fetc", status=404)
    soup = await get_soup(ds, f"/org/{WITHDRAWN}", status=410)
    assert "no longer listed" in soup.h1.get_text()
    assert "withdrawn.example.org" not in str(soup)


# -- Escaping ---------------------------------------------------------------------------------

@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/", "/?q=script", "/org/script-and-co", "/?country=US&region=US-CA"])
async def test_markup_in_data_is_escaped(ds, path):
    response = await ds.client.get(path)
    soup = BeautifulSoup(response.text, "html.parser")
    assert soup.find_all("script") == []
    assert soup.find_all("img") == [] and soup.find_all("b") == [] and soup.find_all("i") == []
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in response.text
    assert "<script>alert(1)</script> & Co" in soup.get_text()
    assert "<script>" not in response.text


@pytest.mark.asyncio
async def test_escaped_url_and_names_on_organization_page(ds):
    response = await ds.client.get("/org/script-and-co")
    assert "&lt;img src=x onerror=alert(2)&gt;" in response.text
    assert 'href="https://script-and-co.example.com/?a=1&amp;b=&lt;2&gt;"' in response.text
    soup = BeautifulSoup(response.text, "html.parser")
    assert "“<i>Script</i> & Co”" in soup.find("main").get_text()


# -- The maintainers' review page ---------------------------------------------------------------

@pytest.mark.asyncio
async def test_review_page_is_forbidden_to_visitors_and_unlinked(ds):
    soup = await get_soup(ds, "/-/review", status=403)
    assert "maintainer" in soup.find("main").get_text()
    for path in ("/", "/org/bcna", "/signpost"):
        assert "/-/review" not in (await ds.client.get(path)).text


@pytest.mark.asyncio
async def test_review_page_lists_evidence_for_the_maintainer(ds):
    soup = await get_soup(ds, "/-/review", cookies=root_cookies(ds))
    items = {a["aria-labelledby"].removeprefix("review-"): a for a in soup.select("article.review-item")}
    # needs review, down, unverifiable for 60 days, an early warning; not unverifiable for 3 days
    assert set(items) == {"breast-cancer-now", "bcna", "worldwide-breast-forum", "living-beyond"}
    warned = " ".join(items["living-beyond"].get_text(" ", strip=True).split())
    assert "Early warning TLS certificate expires on 2026-12-05" in warned
    bcn = " ".join(items["breast-cancer-now"].get_text(" ", strip=True).split())
    assert "review (Website being reviewed)" in bcn
    assert "Last outcome moved: redirects to another site" in bcn
    assert "Why redirects to another site" in bcn
    assert "Ended up at https://moved.example.net/new" in bcn
    assert "Page title seen Welcome <b>moved</b>" in bcn  # shown, not rendered
    assert "HTTP status 301" in bcn
    assert "Suggested fix If https://moved.example.net/new" in bcn
    assert "Current website https://breastcancernow.org/" in bcn
    assert "Last checked 3 days ago" in bcn
    assert items["breast-cancer-now"].find("b") is None
    history = items["breast-cancer-now"].find("a", string=lambda s: s and s.startswith("Check history"))["href"]
    assert urlsplit(history).path == "/signpost/checks"
    assert parse_qs(urlsplit(history).query)["organization_id"] == ["breast-cancer-now"]
    assert "connection refused" in items["bcna"].get_text()
    # the history link works for the maintainer only
    root_view = await ds.client.get(history, cookies=root_cookies(ds))
    assert root_view.status_code == 200 and "secret-reason" in root_view.text
    assert (await ds.client.get(history)).status_code == 403
    # and the maintainer sees the review link in the header
    assert "/-/review" in (await ds.client.get("/", cookies=root_cookies(ds))).text


# -- Locked doors -----------------------------------------------------------------------------

PRIVATE_DOORS = [
    *[f"/signpost/{table}{suffix}" for table in PRIVATE_TABLES for suffix in ("", ".json", ".csv")],
    "/signpost/checks.json?_shape=array",
    "/signpost/checks/1",
    "/signpost/checks/1.json",
    "/signpost/link_states?_facet=state",
    "/signpost/_sqlite_migrations",
    "/signpost.db",
    "/signpost?sql=select+*+from+checks",
    "/signpost.json?sql=select+*+from+checks",
    "/signpost.csv?sql=select+*+from+link_states",
    "/signpost?sql=select+1",
    "/signpost/organizations?_where=id+in+(select+organization_id+from+checks)",
    "/signpost/organizations.json?_where=exists(select+1+from+link_states+where+reason+like+'%25')",
    "/signpost/organizations.csv?_where=(select+count(*)+from+checks)>0",
    "/-/metadata.json", "/-/databases.json", "/-/settings.json", "/-/threads.json",
    "/-/versions.json", "/-/plugins.json", "/-/metadata", "/-/permissions",
]


@pytest.mark.asyncio
@pytest.mark.parametrize("path", PRIVATE_DOORS)
async def test_private_doors_are_shut_for_visitors(ds, path):
    response = await ds.client.get(path)
    assert response.status_code in (403, 404), (path, response.status_code)
    assert "secret-reason" not in response.text and "connection refused" not in response.text


@pytest.mark.asyncio
async def test_through_filter_cannot_reach_private_tables(ds):
    through = json.dumps({"table": "checks", "column": "organization_id", "value": "breast-cancer-now"})
    response = await ds.client.get("/signpost/organizations.json", params={"_through": through, "_shape": "array"})
    assert response.status_code in (400, 403, 404, 500)
    assert "secret-reason" not in response.text


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/signpost", "/signpost.json", "/.json"])
async def test_table_lists_hide_private_and_internal_tables(ds, path):
    response = await ds.client.get(path)
    assert response.status_code == 200
    text = response.text
    for name in (*PRIVATE_TABLES, "_sqlite_migrations"):
        assert f'"{name}"' not in text and f"/{name}" not in text and f">{name}<" not in text, name
    if path == "/signpost":
        listed = {a.get_text() for a in BeautifulSoup(text, "html.parser").select("h3 a")}
        assert {"organizations", "tags", "places", "sources"} <= listed
        assert "place_ancestors" not in listed and "organizations_fts" not in listed


@pytest.mark.asyncio
async def test_maintainer_can_use_sql_and_introspection(ds):
    response = await ds.client.get("/signpost.json?sql=select+count(*)+as+n+from+checks&_shape=array",
                                   cookies=root_cookies(ds))
    assert response.status_code == 200 and response.json() == [{"n": 2}]
    response = await ds.client.get("/-/settings.json", cookies=root_cookies(ds))
    assert response.status_code == 200 and response.json()["sql_time_limit_ms"] == 1000


@pytest.mark.asyncio
async def test_long_running_query_is_interrupted(ds):
    # Visitors have no door for their own SQL (see above); the maintainer's is time-limited.
    sql = "with recursive c(x) as (select 1 union all select x + 1 from c) select count(*) from c"
    response = await ds.client.get("/signpost.json", params={"sql": sql}, cookies=root_cookies(ds))
    assert response.status_code == 400
    assert "interrupted" in response.text.lower() or "took too long" in response.text.lower()
    assert load_settings()["sql_time_limit_ms"] <= 1000


@pytest.mark.asyncio
async def test_startup_refuses_metadata_that_exposes_private_tables(site_db):
    metadata = load_metadata()
    del metadata["databases"]["signpost"]["tables"]["checks"]["allow"]
    ds = Datasette([str(site_db)], metadata=metadata, settings=load_settings(),
                   template_dir=str(SITE_DIR / "templates"), plugins_dir=str(SITE_DIR / "plugins"))
    with pytest.raises(Exception, match="restrict table checks"):
        await ds.invoke_startup()


# -- Exports ----------------------------------------------------------------------------------

@pytest.mark.asyncio
async def test_json_and_csv_exports_of_public_tables(ds):
    response = await ds.client.get("/signpost/organizations.json?_shape=array&_size=max")
    assert response.status_code == 200
    rows = response.json()
    assert {row["id"] for row in rows} == LISTED | {WITHDRAWN}  # the raw table keeps withdrawn rows, marked
    assert [row["withdrawn_at"] is not None for row in rows if row["id"] == WITHDRAWN] == [True]
    response = await ds.client.get("/signpost/organizations.csv?_size=max")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    assert len(list(csv.DictReader(io.StringIO(response.text)))) == len(LISTED) + 1
    response = await ds.client.get("/signpost/link_status.json?_shape=array")
    assert response.status_code == 200
    assert set(response.json()[0]) == {"organization_id", "state", "since", "last_checked_at", "last_ok_at"}


@pytest.mark.asyncio
async def test_directory_export_has_readable_columns_and_only_listed_organizations(ds):
    response = await ds.client.get("/signpost/directory.json?_shape=array")
    assert response.status_code == 200
    rows = {row["id"]: row for row in response.json()}
    assert set(rows) == LISTED
    assert rows["willow-hereditary-support"]["helps_in"] == "Ontario"
    assert rows["living-beyond"]["link_state"] == "healthy"
    assert rows["harbour-lights"]["link_state"] == "unchecked"
    assert rows["breast-cancer-care"]["lifecycle"] == "merged"
    assert "Helpline" in rows["bcna"]["focus"].split("; ")
    response = await ds.client.get("/signpost/directory.csv")
    assert response.status_code == 200
    assert next(csv.reader(io.StringIO(response.text)))[:3] == ["id", "name", "website"]


@pytest.mark.asyncio
async def test_robots_txt_keeps_crawlers_off_the_raw_tables(ds):
    response = await ds.client.get("/robots.txt")
    assert response.status_code == 200
    assert "Disallow: /signpost" in response.text and "Disallow: /-/" in response.text
    assert "Sitemap: http://localhost/sitemap.xml" in response.text


@pytest.mark.asyncio
async def test_sitemap_lists_the_canonical_pages_of_listed_organizations(ds):
    response = await ds.client.get("/sitemap.xml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    soup = BeautifulSoup(response.text, "xml")
    locations = {loc.get_text() for loc in soup.find_all("loc")}
    assert "http://localhost/" in locations
    assert {f"http://localhost/org/{org_id}" for org_id in LISTED} <= locations
    assert not any("quiet-withdrawn" in loc for loc in locations)
    assert not any("?" in loc for loc in locations)


# -- Nothing from other hosts -------------------------------------------------------------------

CSS_URL = re.compile(r"""(?:url\(\s*['"]?|@import\s+['"])([^'")\s]+)""")
RESOURCE_ATTRIBUTES = [("script", "src"), ("link", "href"), ("img", "src"), ("img", "srcset"),
                       ("source", "src"), ("source", "srcset"), ("iframe", "src"), ("embed", "src"),
                       ("object", "data"), ("video", "src"), ("audio", "src"), ("use", "href")]


def external_resources(html: str, own_host: str = "localhost") -> list[str]:
    """URLs the page would load (scripts, styles, images, fonts, frames) from any other host."""
    soup = BeautifulSoup(html, "html.parser")
    urls = [tag[attr] for name, attr in RESOURCE_ATTRIBUTES for tag in soup.find_all(name) if tag.get(attr)]
    css = [style.get_text() for style in soup.find_all("style")] + [tag["style"] for tag in soup.find_all(style=True)]
    urls += [url for text in css for url in CSS_URL.findall(text)]
    return [u for u in urls if urlsplit(u.strip()).netloc not in ("", own_host)]


@pytest.mark.asyncio
@pytest.mark.parametrize("path", [
    "/", "/?q=helpline&country=CA", "/org/breast-cancer-now", "/org/script-and-co", "/org/nope",
    f"/org/{WITHDRAWN}", "/-/review", "/signpost", "/signpost/organizations", "/signpost/organizations/bcna",
    "/signpost/directory", "/signpost/link_status", "/signpost/tags", "/signpost/checks", "/-/patterns",
])
@pytest.mark.parametrize("who", ["visitor", "maintainer"])
async def test_no_page_loads_anything_from_another_host(ds, path, who):
    cookies = root_cookies(ds) if who == "maintainer" else None
    response = await ds.client.get(path, cookies=cookies)
    assert external_resources(response.text) == []


@pytest.mark.asyncio
async def test_stylesheets_are_local_and_import_nothing(ds):
    for path in ("/static/site.css", "/-/static/app.css"):
        response = await ds.client.get(path)
        assert response.status_code == 200
        assert [u for u in CSS_URL.findall(response.text) if "//" in u] == []


def test_css_url_finder_finds_what_it_must():
    html = """<style>@import "https://fonts.example/x.css"; a { background: url('//cdn.example/i.png') }</style>
    <p style="background:url(/local.png)"></p><link rel="stylesheet" href="https://cdn.example/s.css">"""
    assert external_resources(html) == [
        "https://cdn.example/s.css", "https://fonts.example/x.css", "//cdn.example/i.png"]


@pytest.mark.asyncio
async def test_visitor_errors_leave_no_trace_in_the_server_log(ds, capfd):
    for path in ("/signpost/organizations/nope", "/signpost?sql=select+1", "/signpost/checks.json",
                 "/nope/nothing"):
        response = await ds.client.get(path, cookies={"private": "visitor-cookie"})
        assert response.status_code in (403, 404)
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""
