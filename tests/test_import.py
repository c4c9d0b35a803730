"""`signpost import-html`: old resource pages in, draft data files out, curated data untouched."""

from __future__ import annotations

import hashlib
import shutil
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from directory import importer
from directory.cli import cli
from directory.datafiles import organization_schema
from directory.importer import (
    ImportError_, KnownEntry, decode_html, extract_candidates, import_page, match, name_key, same_site, scan_page,
)
from tests.helpers import REPO, make_data_dir, organization, write_org

FIXTURES = Path(__file__).parent / "fixtures" / "import"
SEED_PAGE = Path(__file__).parent / "fixtures" / "seed" / "breast-cancer-resources.html"
TODAY = date(2024, 5, 1)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def names_and_sites(candidates) -> list[tuple[str, str]]:
    return [(c.name, c.website) for c in candidates]


def reasons(scan) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for item in scan.skipped:
        grouped.setdefault(item.reason, []).append(item.text)
    return grouped


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under folder with a hash of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- decoding


def test_windows_1252_page_with_meta_http_equiv():
    names = [c.name for c in extract_candidates(fixture("windows-1252.html"))]
    assert names == [
        "Women\u2019s Information Network Against Breast Cancer",
        "Fondation du cancer du sein du Québec",
        "\u201cQuoted\u201d Support \u2013 Group",
    ]


def test_iso_8859_1_page_without_declared_charset():
    names = [c.name for c in extract_candidates(fixture("latin-1-undeclared.html"))]
    assert names == ["Société du cancer du sein du Québec", "Krebsliga Zürich"]


def test_http_charset_wins_over_meta_and_bom_over_meta():
    page = '<meta charset="utf-8"><a href="http://q.example.org/">Québec</a>'
    assert "Québec" in decode_html(page.encode("cp1252"), "text/html; charset=windows-1252")
    assert "Québec" in decode_html(b"\xef\xbb\xbf" + page.replace("utf-8", "iso-8859-1").encode("utf-8"))
    assert "Québec" in decode_html(page.encode("utf-8"))


def test_declared_utf8_that_is_really_cp1252_still_decodes():
    page = '<meta charset="utf-8"><a href="http://q.example.org/">Women\u2019s Qu\u00e9bec</a>'.encode("cp1252")
    assert "Women\u2019s Québec" in decode_html(page)


# --------------------------------------------------------------------------- candidates


def test_table_layout_page_with_base_href():
    scan = scan_page(fixture("table-layout.html"))
    assert scan.title == "Pink Ribbon Links"
    assert names_and_sites(scan.candidates) == [
        ("American Cancer Society", "http://www.cancer.org/docroot/home/index.asp"),  # deep link kept
        ("Susan G. Komen Breast Cancer Foundation", "http://www.komen.org/"),  # normalized
        ("National Breast Cancer Foundation", "http://www.nationalbreastcancer.org/"),
        ("National Breast Cancer Foundation", "http://www.nbcf.org.au/"),  # same name, other site
        ("Breast Cancer Action", "http://www.bcaction.org/"),  # from the title attribute
        ("MedlinePlus", "http://www.nlm.nih.gov/medlineplus/breastcancer.html"),
        ("National Cancer Institute", "http://www.nci.nih.gov/"),  # shares nih.gov, still its own
        ("Breast Cancer Online", "http://www.bco.org/"),  # protocol-relative, resolved by <base>
    ]
    komen = scan.candidates[1]
    assert komen.url == "HTTP://WWW.KOMEN.ORG"  # as found, recorded in sources[].url
    # Relative links resolve against <base href>, so they are the site's own pages; a subdomain too.
    assert sorted(reasons(scan)[importer.SAME_SITE]) == ["About us", "Contact", "Forum", "Home", "in our news"]
    assert reasons(scan)[importer.SAME_PAGE] == ["Back to top"]
    assert scan.links_found == len(scan.candidates) + len(scan.skipped)


def test_page_url_makes_its_own_links_same_site():
    page = (b'<a href="/about">About</a><a href="https://shop.charity.example.org/">Shop</a>'
            b'<a href="https://other.example.net/">Other</a>')
    scan = scan_page(page, page_url="http://www.charity.example.org/links.html")
    assert [c.name for c in scan.candidates] == ["Other"]
    assert reasons(scan) == {importer.SAME_SITE: ["About", "Shop"]}


def test_skipped_kinds_on_a_page_without_base():
    scan = scan_page(fixture("skips.html"))
    assert scan.candidates == []
    assert reasons(scan) == {
        importer.SAME_SITE: ["Home", "Links"],  # relative and no base: the page's own
        importer.SAME_PAGE: ["Skip to content"],
        importer.NOT_WEB: ["Email the webmaster", "Print this page", "Share", "Call us", "Our FTP archive"],
        importer.SOCIAL: ["Share on Facebook", "Bookmark on del.icio.us"],
        importer.AD: ["Cheap pills", "Pink merchandise"],
        importer.BADGE: ["Valid HTML 4.01 Transitional", "Valid CSS!"],
    }
    assert scan.links_found == 14  # <a name> without href is not a link


def test_duplicates_other_names_and_namesakes():
    scan = scan_page(fixture("duplicates.html"))
    assert [(c.name, c.other_names) for c in scan.candidates] == [
        ("Breastcancer.org", ["Breast Cancer Treatment Guide"]),
        ("Komen", ["Susan G. Komen for the Cure"]),  # ww5.komen.org and www.komen.org: one site
        ("National Breast Cancer Foundation", []),
        ("National Breast Cancer Foundation", []),
        ("National Library of Medicine", []),
        ("National Cancer Institute", []),
    ]
    assert reasons(scan)[importer.DUPLICATE] == ["Breastcancer.org", "BREASTCANCER.ORG"]
    assert reasons(scan)[importer.NO_NAME] == ["", ""]  # an image without alt names nothing


def test_link_text_whitespace_and_fallbacks():
    page = (b'<a href="http://a.example.org/">\n  A\t&nbsp;Charity  </a>'
            b'<a href="http://b.example.org/" title="B Trust"><img src="b.gif"></a>'
            b'<a href="http://c.example.org/"><img src="c.gif" alt="C Foundation"></a>'
            b'<a href="http://d.example.org/" title="D Society">http://d.example.org/</a>')
    assert [c.name for c in extract_candidates(page)] == ["A Charity", "B Trust", "C Foundation", "D Society"]


@pytest.mark.parametrize("a, b", [
    ("Women’s Information Network", "womens information network"),
    ("Breast Cancer Action – Ottawa", "Breast Cancer Action Ottawa"),
    ("Fondation Québec & Région", "fondation quebec and region"),
    ("The Breast Cancer Fund", "Breast Cancer Fund"),
    ("Y-ME", "y me"),
])
def test_name_key_ignores_case_punctuation_accents_and_ampersand(a, b):
    assert name_key(a) == name_key(b)


@pytest.mark.parametrize("a, b, same", [
    ("http://www.komen.org/", "https://ww5.komen.org/x", True),
    ("http://komen.org", "http://www.komen.org/", True),
    ("http://www.nlm.nih.gov/", "http://www.nci.nih.gov/", False),
    ("http://www.nih.gov/", "http://www.nlm.nih.gov/medlineplus/", True),
    ("http://www.nationalbreastcancer.org/", "http://www.nbcf.org.au/", False),
])
def test_same_site(a, b, same):
    assert same_site(a, b) is same


# --------------------------------------------------------------------------- matching


def entry(entry_id, names, urls, is_draft=False):
    return KnownEntry(entry_id, tuple(names), tuple(urls), f"organizations/{entry_id}.yaml", is_draft)


def test_match_by_site_by_former_name_and_namesakes():
    candidates = extract_candidates(fixture("table-layout.html"))
    entries = [
        entry("acs", ["American Cancer Society"], ["https://cancer.org/"]),
        entry("komen", ["Susan G. Komen"], ["https://ww5.komen.org/"]),
        entry("nbcf-us", ["National Breast Cancer Foundation"], ["https://www.nationalbreastcancer.org/"]),
        entry("bca", ["Breast Cancer Prevention Partners", "Breast Cancer Action"], ["https://www.bcpp.org/"]),
        entry("nlm", ["National Library of Medicine"], ["https://medlineplus.gov/", "http://www.nlm.nih.gov/"]),
    ]
    listed, new = match(candidates, entries)
    assert {(m.candidate.name, m.entries[0].id, m.by) for m in listed} == {
        ("American Cancer Society", "acs", "site"),
        ("Susan G. Komen Breast Cancer Foundation", "komen", "site"),
        ("National Breast Cancer Foundation", "nbcf-us", "site"),
        ("Breast Cancer Action", "bca", "name"),  # a former name, on a new website
        ("MedlinePlus", "nlm", "site"),  # via the entry's sources[].url
    }
    # The Australian NBCF shares the name, but nbcf-us is already accounted for by its own link.
    assert [c.website for c in new] == ["http://www.nbcf.org.au/", "http://www.nci.nih.gov/", "http://www.bco.org/"]


def test_curated_entry_preferred_over_draft():
    [candidate] = extract_candidates(b'<a href="http://x.example.org/">X</a>')
    listed, _ = match([candidate], [entry("x-draft", ["X"], ["http://x.example.org/"], is_draft=True),
                                    entry("x", ["X"], ["http://x.example.org/"])])
    assert [e.id for e in listed[0].entries] == ["x"]


# --------------------------------------------------------------------------- drafts on disk


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return make_data_dir(tmp_path, [
        organization("american-cancer-society", name="American Cancer Society", website="https://www.cancer.org/"),
        organization("national-breast-cancer-foundation", name="National Breast Cancer Foundation",
                     website="https://www.nationalbreastcancer.org/"),
        organization("breast-cancer-prevention-partners", name="Breast Cancer Prevention Partners",
                     other_names=["Breast Cancer Action"], website="https://www.bcpp.org/"),
    ])


def run_import(data: Path, page: Path | str = FIXTURES / "table-layout.html", **kwargs):
    return import_page(str(page), data_dir=data, today=TODAY, **kwargs)


def test_drafts_written_only_for_new_organizations(data_dir):
    curated_before = snapshot(data_dir / "organizations")
    report = run_import(data_dir)
    assert {m.candidate.name for m in report.listed} == {
        "American Cancer Society", "National Breast Cancer Foundation", "Breast Cancer Action"}
    drafts = sorted(p.name for p in (data_dir / "drafts").iterdir())
    assert drafts == [
        "breast-cancer-online.yaml", "medlineplus.yaml", "national-breast-cancer-foundation-2.yaml",
        "national-cancer-institute.yaml", "susan-g-komen-breast-cancer-foundation.yaml",
    ]
    assert sorted(p.name for p in report.written) == drafts
    assert snapshot(data_dir / "organizations") == curated_before


def test_draft_content_is_valid_yaml_in_the_organization_format(data_dir):
    run_import(data_dir)
    path = data_dir / "drafts" / "susan-g-komen-breast-cancer-foundation.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.startswith(
        f"# DRAFT — proposed by signpost import-html from {FIXTURES / 'table-layout.html'} on 2024-05-01.\n"
        "# Review, complete the TODO fields, then move it to data/organizations/.\n")
    assert "type: charity  # TODO: check" in text
    draft = yaml.safe_load(text)
    assert draft["id"] == path.stem
    assert draft["name"] == "Susan G. Komen Breast Cancer Foundation"
    assert draft["website"] == "http://www.komen.org/"
    assert draft["description"].startswith("TODO:")
    assert (draft["type"], draft["serves"], draft["focus"], draft["status"]) == ("charity", [], [], "active")
    assert draft["sources"] == [{"source": "pink-ribbon-links",
                                 "listed_as": "Susan G. Komen Breast Cancer Foundation",
                                 "url": "HTTP://WWW.KOMEN.ORG"}]
    # Once a maintainer fills in the TODOs, the draft is a valid organization file.
    draft.update(description="A breast cancer charity that funds research and runs community programs.",
                 serves=["US"], focus=["research-funding"])
    jsonschema.validate(draft, organization_schema())


def test_draft_keeps_other_names_and_unusual_characters(data_dir):
    run_import(data_dir, FIXTURES / "duplicates.html")
    run_import(data_dir, FIXTURES / "windows-1252.html")
    komen = yaml.safe_load((data_dir / "drafts" / "komen.yaml").read_text(encoding="utf-8"))
    assert komen["other_names"] == ["Susan G. Komen for the Cure"]
    assert [s["listed_as"] for s in komen["sources"]] == ["Komen", "Susan G. Komen for the Cure"]
    quoted = yaml.safe_load((data_dir / "drafts" / "quoted-support-group.yaml").read_text(encoding="utf-8"))
    assert quoted["name"] == "\u201cQuoted\u201d Support \u2013 Group"


def test_second_run_writes_nothing_new(data_dir):
    run_import(data_dir)
    before = snapshot(data_dir)
    report = run_import(data_dir)
    assert report.drafts == [] and report.written == []
    assert {m.entries[0].file for m in report.listed if m.entries[0].is_draft} == {
        "drafts/breast-cancer-online.yaml", "drafts/medlineplus.yaml",
        "drafts/national-breast-cancer-foundation-2.yaml", "drafts/national-cancer-institute.yaml",
        "drafts/susan-g-komen-breast-cancer-foundation.yaml",
    }
    assert snapshot(data_dir) == before


def test_taken_names_get_a_suffix_and_existing_files_are_untouched(data_dir):
    drafts = data_dir / "drafts"
    drafts.mkdir()
    # A draft for some other organization already holds the slug; a curated file nobody can load too.
    (drafts / "medlineplus.yaml").write_text("id: medlineplus\nname: Medline Plus Magazine\n", encoding="utf-8")
    (data_dir / "organizations" / "national-cancer-institute.yaml").write_text("name: [broken\n", encoding="utf-8")
    before = snapshot(data_dir)
    run_import(data_dir)
    assert (drafts / "medlineplus-2.yaml").exists()
    assert (drafts / "national-cancer-institute-2.yaml").exists()
    after = snapshot(data_dir)
    assert {k: v for k, v in after.items() if k in before} == before


def test_data_folder_with_problems_still_matches_what_it_can(data_dir):
    # Fails the schema (no description), so datafiles.load skips it; its website still counts.
    entry = organization("breast-cancer-online", name="Breast Cancer Online", website="http://www.bco.org/")
    del entry["description"]
    write_org(data_dir, entry)
    (data_dir / "organizations" / "notes.txt").write_text("not an organization")
    report = run_import(data_dir, dry_run=True)
    [found] = [m for m in report.listed if m.candidate.name == "Breast Cancer Online"]
    assert found.entries[0].id == "breast-cancer-online"


def test_dry_run_writes_nothing(data_dir):
    before = snapshot(data_dir)
    report = run_import(data_dir, dry_run=True)
    assert len(report.drafts) == 5 and report.written == []
    assert snapshot(data_dir) == before
    assert not (data_dir / "drafts").exists()


def test_source_id_reuses_a_registered_source_named_in_the_title(data_dir):
    page = b"<title>Metastasis - Breast Cancer Review</title><a href='http://new.example.org/'>New Org</a>"
    path = data_dir.parent / "page.html"
    path.write_bytes(page)
    report = run_import(data_dir, path, dry_run=True)
    assert (report.source_id, report.source_known) == ("breast-cancer-review", True)
    assert run_import(data_dir, path, source_id="curator", dry_run=True).source_id == "curator"


# --------------------------------------------------------------------------- the CLI


class _Pages(BaseHTTPRequestHandler):
    """Serves `pages`: path -> (status, Content-Type, body); a 301's body is its Location."""

    pages: dict[str, tuple[int, str, bytes]] = {}

    def do_GET(self):
        status, content_type, body = self.pages.get(self.path, (404, "text/html", b"<h1>Not found</h1>"))
        self.send_response(status)
        if status == 301:
            self.send_header("Location", body.decode())
            body = b""
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    """A real HTTP server on 127.0.0.1 with an ephemeral port; yields (base URL, pages dict)."""
    pages: dict[str, tuple[int, str, bytes]] = {}
    handler = type("Pages", (_Pages,), {"pages": pages})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", pages
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def invoke(*args):
    return CliRunner().invoke(cli, ["import-html", *map(str, args)])


def test_cli_imports_a_file(data_dir):
    result = invoke(FIXTURES / "table-layout.html", "--data", data_dir)
    assert result.exit_code == 0, result.output
    assert "14 links found" in result.output
    assert "Skipped 6:" in result.output and "same site or navigation (5)" in result.output
    assert "American Cancer Society: already listed as american-cancer-society" in result.output
    assert "Drafts written (5):" in result.output
    assert str(data_dir / "drafts" / "medlineplus.yaml") in result.output
    assert "source 'pink-ribbon-links' is not in" in result.output


def test_cli_dry_run(data_dir):
    result = invoke(FIXTURES / "table-layout.html", "--data", data_dir, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Would write 5 draft(s)" in result.output
    assert not (data_dir / "drafts").exists()


def test_cli_imports_a_url_with_http_charset(data_dir, server):
    base, pages = server
    page = ('<title>Links</title><a href="/home">Home</a>'
            '<a href="http://www.qc-cancer.example.ca/">Fondation du cancer du sein du Québec</a>'
            '<a href="http://www.cancer.org/">American Cancer Society</a>')
    pages["/links.html"] = (200, "text/html; charset=ISO-8859-1", page.encode("latin-1"))
    result = invoke(f"{base}/links.html", "--data", data_dir)
    assert result.exit_code == 0, result.output
    draft = yaml.safe_load((data_dir / "drafts" / "fondation-du-cancer-du-sein-du-quebec.yaml").read_text("utf-8"))
    assert draft["name"] == "Fondation du cancer du sein du Québec"
    assert draft["sources"][0]["source"] == "links"
    assert "same site or navigation (1): Home" in result.output
    assert f"url: {base}/links.html" in result.output  # the suggested sources.yaml entry


def test_url_after_redirect_is_the_base_for_links(data_dir, server):
    base, pages = server
    pages["/old"] = (301, "text/html", b"/new/links.html")
    pages["/new/links.html"] = (200, "text/html", b'<a href="other.html">Other page</a>'
                                                  b'<a href="http://www.bco.org/">Breast Cancer Online</a>')
    report = run_import(data_dir, f"{base}/old", dry_run=True)
    assert [c.name for c in report.scan.candidates] == ["Breast Cancer Online"]
    assert [s.text for s in report.scan.skipped] == ["Other page"]


@pytest.mark.parametrize("make_page, message", [
    (lambda base, tmp: str(tmp / "missing.html"), "no such file"),
    (lambda base, tmp: f"{base}/nowhere.html", "HTTP 404"),
    (lambda base, tmp: f"{base}/data.json", "not an HTML page (Content-Type: application/json)"),
    (lambda base, tmp: "ftp://ftp.example.org/links.html", "scheme 'ftp' is not http or https"),
    (lambda base, tmp: "http://127.0.0.1:1/closed.html", "cannot fetch"),
])
def test_cli_errors_name_the_page_and_write_nothing(data_dir, server, make_page, message):
    base, pages = server
    pages["/data.json"] = (200, "application/json", b'{"a": "<a href=\'http://x.example.org/\'>X</a>"}')
    page = make_page(base, data_dir.parent)
    before = snapshot(data_dir)
    result = invoke(page, "--data", data_dir)
    assert result.exit_code == 1
    assert page in result.output and message in result.output
    assert snapshot(data_dir) == before


def test_too_large_page_is_refused(data_dir, server, monkeypatch):
    base, pages = server
    monkeypatch.setattr(importer, "MAX_PAGE_BYTES", 1000)
    pages["/big.html"] = (200, "text/html", b"<p>" + b"x" * 2000)
    with pytest.raises(ImportError_, match=f"{base}/big.html: page is larger than"):
        run_import(data_dir, f"{base}/big.html")
    big_file = data_dir.parent / "big.html"
    big_file.write_bytes(b"<p>" + b"x" * 2000)
    with pytest.raises(ImportError_, match="big.html: file is larger than"):
        run_import(data_dir, big_file)
    assert not (data_dir / "drafts").exists()


# --------------------------------------------------------------------------- the seed page


@pytest.mark.skipif(not SEED_PAGE.exists() or not (REPO / "data" / "organizations").is_dir(),
                    reason="seed page or real data not present")
def test_seed_page_proposes_nothing_new_against_the_real_data(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(REPO / "data", data, ignore=shutil.ignore_patterns("drafts"))
    report = import_page(str(SEED_PAGE), data_dir=data, today=TODAY)
    assert [c.name for c in report.scan.candidates][:3] == [
        "American Cancer Society", "People Living With Cancer", "United States National Library of Medicine"]
    assert len(report.scan.candidates) == 34  # 35 resource links; breastcancer.org appears twice
    assert report.drafts == [], [d.candidate.name for d in report.drafts]
    assert report.source_id == "breast-cancer-review"
    assert {importer.SAME_SITE, importer.BADGE} <= {s.reason for s in report.scan.skipped}
    assert not (data / "drafts").exists()
