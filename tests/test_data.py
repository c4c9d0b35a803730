"""The curated content in data/: it validates, covers the seed page's resource list, keeps lineage
chains sound, matches the HTML rendering of the seed page, and is documented in docs/data.md."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from directory.urls import site_key
from directory.validate import validate
from tests.conftest import DATA_DIR, REPO

SEED_NAME = "000_f8e912791e11e0cc.txt"
FIXTURES = Path(__file__).parent / "fixtures" / "seed"
HTML_FIXTURE = FIXTURES / "breast-cancer-resources.html"
SCHEMA = REPO / "directory" / "schema" / "organization.schema.json"
DOCS = REPO / "docs" / "data.md"
SEED_SOURCE = "breast-cancer-review"


def seed_path() -> Path:
    """The copy kept with the tests, else the shared original next to the checkout."""
    copy = FIXTURES / SEED_NAME
    if copy.exists():
        return copy
    return Path(__file__).resolve().parents[2] / "shared" / "seeds" / SEED_NAME


def seed_resource_lines() -> list[str]:
    """Every non-empty line between the "Breast Cancer Resources" heading and "Breast Cancer Stages"."""
    lines = [line.strip() for line in seed_path().read_text(encoding="utf-8").splitlines()]
    start = lines.index("Breast Cancer Resources")
    end = lines.index("Breast Cancer Stages", start)
    return [line for line in lines[start + 1:end] if line]


@pytest.fixture(scope="module")
def loaded():
    return validate(DATA_DIR)


@pytest.fixture(scope="module")
def orgs(loaded):
    return {org.id: org for org in loaded.organizations}


def listed_as(org) -> set[str]:
    return {s["listed_as"] for s in org.sources if s.get("source") == SEED_SOURCE and s.get("listed_as")}


def site_keys(org) -> set[str]:
    keys = {site_key(org.website)}
    keys |= {site_key(s["url"]) for s in org.sources if s.get("url")}
    return keys


def resource_links() -> list[tuple[str, str]]:
    soup = BeautifulSoup(HTML_FIXTURE.read_bytes(), "lxml")
    block = soup.find(id="resources")
    assert block is not None, "the fixture's resource list is the element with id=resources"
    return [(" ".join(a.get_text(" ").split()), a["href"]) for a in block.find_all("a", href=True)]


# (a) ------------------------------------------------------------------------------------------


def test_data_validates_without_problems(loaded):
    assert [str(p) for p in loaded.problems] == []
    assert len(loaded.organizations) >= len(set(seed_resource_lines()))


# (b) ------------------------------------------------------------------------------------------


def test_seed_copy_matches_shared_original():
    shared = Path(__file__).resolve().parents[2] / "shared" / "seeds" / SEED_NAME
    if not shared.exists():
        pytest.skip("shared seed folder not present next to the checkout")
    assert (FIXTURES / SEED_NAME).read_bytes() == shared.read_bytes()


def test_seed_resource_list_is_what_we_expect():
    lines = seed_resource_lines()
    assert lines[0] == "American Cancer Society"
    assert lines[-1] == "New South Wales Breast Cancer Institute"
    assert len(lines) == 35


@pytest.mark.parametrize("line", sorted(set(seed_resource_lines())))
def test_every_seed_line_has_an_entry(orgs, line):
    wanted = Counter(seed_resource_lines())[line]
    entries = [org.id for org in orgs.values() if line in listed_as(org)]
    assert len(entries) >= wanted, (
        f"{line!r} appears {wanted} time(s) on the seed list but only {entries} record it as listed_as"
    )


def test_both_national_breast_cancer_foundations(orgs):
    entries = [org for org in orgs.values() if "National Breast Cancer Foundation" in listed_as(org)]
    by_country = {org.hq_country: org for org in entries}
    assert set(by_country) == {"US", "AU"}
    assert site_key(by_country["US"].website) == "nationalbreastcancer.org"
    assert site_key(by_country["AU"].website) == "nbcf.org.au"
    assert by_country["US"].serves == ("US",)
    assert by_country["AU"].serves == ("AU",)


def test_every_seed_listed_name_is_searchable(orgs):
    """The exact name on the seed is the entry's name or one of its other_names, except for the
    vague items whose identification is a guess (they say so in status_note)."""
    vague = {"Breast Cancer", "Breast Cancer Online", "Info Breast Cancer"}
    for org in orgs.values():
        for name in listed_as(org) - vague:
            assert name == org.name or name in org.other_names, f"{org.file}: add {name!r} to other_names"


# (c) ------------------------------------------------------------------------------------------


def test_successor_chains_end_at_an_active_organization(orgs):
    for org in orgs.values():
        if org.status not in ("merged", "renamed") and not org.successor:
            continue
        seen = [org.id]
        current = org
        while current.successor:
            assert current.successor in orgs, f"{current.file}: successor {current.successor!r} is missing"
            current = orgs[current.successor]
            assert current.id not in seen, f"successor loop: {' -> '.join(seen + [current.id])}"
            seen.append(current.id)
        if org.status in ("merged", "renamed"):
            assert current.status == "active", f"{' -> '.join(seen)} ends at a {current.status} organization"


def test_successors_added_by_curators_say_so(orgs):
    successors = {org.successor for org in orgs.values() if org.successor}
    for org_id in successors:
        org = orgs[org_id]
        assert listed_as(org) or any(s.get("source") == "curator" for s in org.sources), org.file


@pytest.mark.parametrize("org_id, successor, year", [
    ("breast-cancer-care", "breast-cancer-now", 2019),
    ("breast-cancer-campaign", "breast-cancer-now", 2015),
    ("cancer-bacup", "macmillan-cancer-support", 2008),
    ("canadian-breast-cancer-foundation", "canadian-cancer-society", 2017),
    ("national-breast-cancer-centre", "national-breast-and-ovarian-cancer-centre", 2008),
    ("national-breast-and-ovarian-cancer-centre", "cancer-australia", 2011),
    ("breast-cancer-fund", "breast-cancer-prevention-partners", 2016),
    ("people-living-with-cancer", "cancer-net", 2008),
])
def test_known_lineage(orgs, org_id, successor, year):
    org = orgs[org_id]
    assert org.status in ("merged", "renamed")
    assert (org.successor, org.status_year) == (successor, year)
    assert org.status_note


def test_closed_and_uncertain_entries_explain_themselves(orgs):
    assert orgs["y-me"].status == "closed" and orgs["y-me"].status_year == 2012
    for org in orgs.values():
        if org.status != "active":
            assert org.status_note, f"{org.file}: a {org.status} organization needs a status_note"


# (d) ------------------------------------------------------------------------------------------


def test_fixture_lists_the_seed_names_in_order():
    assert [text for text, _ in resource_links()] == seed_resource_lines()


def test_fixture_is_an_html_401_page():
    text = HTML_FIXTURE.read_text(encoding="ascii")
    assert text.startswith('<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN"')
    soup = BeautifulSoup(text, "lxml")
    badge = soup.find("a", href="http://validator.w3.org/check?uri=referer")
    assert badge is not None and badge.find("img", alt="Valid HTML 4.01!") is not None
    related = soup.find(id="related")
    assert related is not None
    assert all(not a["href"].startswith(("http:", "https:")) for a in related.find_all("a", href=True))


def test_every_fixture_link_matches_its_entry(orgs):
    for text, href in resource_links():
        key = site_key(href)
        candidates = [org for org in orgs.values() if text in listed_as(org)]
        assert candidates, f"no entry lists {text!r}"
        assert any(key in site_keys(org) for org in candidates), (
            f"{text!r} links to {href} ({key}), which is neither the website nor a sources[].url of "
            f"{[org.id for org in candidates]}"
        )


def test_every_fixture_link_matches_some_entry_by_domain(orgs):
    known = set().union(*(site_keys(org) for org in orgs.values()))
    for text, href in resource_links():
        assert site_key(href) in known, f"{text!r}: {href}"


# (e) ------------------------------------------------------------------------------------------


def schema_property_names() -> set[str]:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    names = set(schema["properties"])
    names |= set(schema["properties"]["headquarters"]["properties"])
    names |= set(schema["properties"]["sources"]["items"]["properties"])
    return names


def test_docs_mention_every_schema_property():
    text = DOCS.read_text(encoding="utf-8")
    missing = sorted(name for name in schema_property_names() if f"`{name}`" not in text)
    assert missing == []


def test_docs_list_every_tag(loaded):
    text = DOCS.read_text(encoding="utf-8")
    missing = [tag.id for tag in loaded.tags if f"`{tag.id}`" not in text or tag.label not in text]
    assert missing == []
