"""Every outcome comes out right on the simulated web, through the commands users run.

`signpost check` and `signpost check-urls` run as real subprocesses; the simulated web answers on
127.0.0.1 and the CLI reaches it through SIGNPOST_TEST_RESOLVE (honoured only together with
--allow-private-addresses) and a test CA in SSL_CERT_FILE.
"""

import json
import os
import subprocess
import sys
import time

import pytest

from directory.build import build
from directory.db import open_db
from tests.helpers import REPO, make_data_dir, organization

PAGES = REPO / "tests" / "fixtures" / "pages"


def charity_page(name: str) -> str:
    return (f"<!doctype html><html lang=en><head><title>{name} | Breast cancer support</title></head><body>"
            f"<h1>{name}</h1><p>{name} offers a helpline, support groups and information for people affected "
            "by breast cancer and their families.</p></body></html>")


# (organization id, website, expected outcome, reason fragment); routes declared in `scenarios`.
EXPECTED = [
    ("plain-ok", "http://www.plain-ok.test/", "ok", ""),
    ("secure", "http://www.secure.test/", "ok", ""),
    ("same-site", "https://www.same-site.test/", "redirected", "/en/home"),
    ("old-name", "https://www.old-name.test/", "moved", "new-name.test"),
    ("gone-page", "https://www.gone-page.test/about", "broken", "404"),
    ("no-such-domain", "https://www.no-such-domain.test/", "broken", "no such"),
    ("expired-cert", "https://www.expired-cert.test/", "broken", "expired"),
    ("loop", "https://www.loop.test/loop/a", "broken", "loop"),
    ("deep-link", "https://www.deep-link.test/support/groups", "soft_404", "home page"),
    ("not-found-page", "https://www.not-found-page.test/", "soft_404", "not found"),
    ("parked", "https://www.parked.test/", "parked", "parking"),
    ("challenge", "https://www.challenge.test/", "blocked", "403"),
    ("linkedin", "https://www.linkedin-like.test/", "blocked", "999"),
    ("always-503", "https://www.always-503.test/", "transient", "503"),
    ("rate-limited", "https://www.rate-limited.test/", "ok", ""),
    ("head-hostile", "https://www.head-hostile.test/", "ok", ""),
    ("cp1252", "https://www.cp1252.test/", "ok", ""),
]


def scenarios(web) -> None:
    web.page("www.plain-ok.test", "/", charity_page("Plain Ok"))
    web.http_to_https("www.secure.test", "/", html=charity_page("Secure"))
    web.redirect("www.same-site.test", "/", "/en/home")
    web.page("www.same-site.test", "/en/home", charity_page("Same Site"))
    web.redirect("www.old-name.test", "/", "https://www.new-name.test/")
    web.page("www.new-name.test", "/", charity_page("New Name Trust"))
    web.status("www.gone-page.test", "/about", 404)
    web.page("www.gone-page.test", "/", charity_page("Gone Page"))
    web.tls("www.expired-cert.test", "expired")
    web.page("www.expired-cert.test", "/", charity_page("Expired Cert"))
    web.redirect_loop("www.loop.test", "/loop/a", "/loop/b")
    web.redirect("www.deep-link.test", "/support/groups", "/")
    web.page("www.deep-link.test", "/", charity_page("Deep Link"))
    web.page("www.not-found-page.test", "/", (PAGES / "soft404-wordpress-oops.html").read_text())
    web.page("www.parked.test", "/", (PAGES / "parked-sedo.html").read_text())
    web.challenge_403("www.challenge.test", "/")
    web.linkedin_999("www.linkedin-like.test", "/")
    web.flaky("www.always-503.test", "/", failures=100)
    web.rate_limited("www.rate-limited.test", "/", retry_after=1, html=charity_page("Rate Limited"))
    web.head_status("www.head-hostile.test", "/", head_status=405, html=charity_page("Head Hostile"))
    web.windows_1252_page("www.cp1252.test", "/")


def run_cli(web, *args, timeout=120):
    env = dict(os.environ, SIGNPOST_TEST_RESOLVE=web.resolve_env(), SSL_CERT_FILE=web.ca_file)
    return subprocess.run([sys.executable, "-m", "directory", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def site(simweb, tmp_path):
    scenarios(simweb)
    orgs = [organization(org_id, name=org_id.replace("-", " ").title(), website=website)
            for org_id, website, _, _ in EXPECTED]
    data = make_data_dir(tmp_path, orgs)
    db_path = tmp_path / "s.db"
    build(data, db_path)
    return simweb, db_path


def test_check_stores_every_outcome(site):
    web, db_path = site
    proc = run_cli(web, "check", "--db", str(db_path), "--allow-private-addresses", "--json",
                   "--retries", "1", "--interval", "0", "--timeout", "10")
    assert proc.returncode == 0, proc.stderr  # nothing is confirmed down after one run
    report = json.loads(proc.stdout)
    by_org = {r["organization_id"]: r for r in report["results"]}
    for org_id, _website, outcome, fragment in EXPECTED:
        result = by_org[org_id]
        assert result["outcome"] == outcome, (org_id, result)
        assert fragment.lower() in result["reason"].lower(), (org_id, result["reason"])
    db = open_db(db_path)
    assert db["checks"].count == len(EXPECTED)
    states = {r["organization_id"]: r["state"] for r in db.query("SELECT * FROM link_states")}
    assert states["plain-ok"] == "healthy"
    assert states["gone-page"] == "suspect"  # one failure is never red
    assert states["always-503"] == "suspect"
    assert states["challenge"] == "unverifiable"
    assert {states[o] for o in ("old-name", "parked", "deep-link")} == {"review"}
    moved = db["link_states"].get("old-name")
    assert "new-name.test" in moved["evidence"] and moved["suggested_fix"]
    hops = json.loads(db.execute("SELECT hops FROM checks WHERE organization_id = 'secure'").fetchone()[0])
    assert [h["status_code"] for h in hops] == [301, 200]
    # The cp1252 page was decoded, not mangled.
    title = db.execute("SELECT title FROM checks WHERE organization_id = 'cp1252'").fetchone()[0]
    assert "\ufffd" not in (title or "")

    # Nothing is due right after a full run; --due then checks nothing and touches nothing.
    proc = run_cli(web, "check", "--db", str(db_path), "--allow-private-addresses", "--due", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["checked"] == 0
    assert db["checks"].count == len(EXPECTED)

    # review list shows what needs a person, with the evidence.
    proc = run_cli(web, "review", "list", "--db", str(db_path))
    assert "old-name" in proc.stdout and "suggested fix" in proc.stdout


def test_check_urls_prints_one_json_line_per_url(simweb, tmp_path):
    scenarios(simweb)
    urls = [website for _, website, _, _ in EXPECTED]
    listing = tmp_path / "urls.txt"
    listing.write_text("\n".join(urls[5:]) + "\n")
    proc = run_cli(simweb, "check-urls", *urls[:5], "--from", str(listing), "--allow-private-addresses",
                   "--retries", "1", "--interval", "0", "--timeout", "10", "--json")
    assert proc.returncode == 1  # something is broken
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [set(line) for line in lines] == [{"url", "outcome", "status_code", "final_url", "reason", "elapsed_ms"}] * len(urls)
    outcomes = {line["url"]: line["outcome"] for line in lines}
    for _, website, outcome, _ in EXPECTED:
        assert outcomes[website] == outcome, website


def test_check_urls_reads_standard_input_and_exits_0_when_nothing_is_dead(simweb):
    simweb.page("www.fine.test", "/", charity_page("Fine"))
    env = dict(os.environ, SIGNPOST_TEST_RESOLVE=simweb.resolve_env(), SSL_CERT_FILE=simweb.ca_file)
    proc = subprocess.run([sys.executable, "-m", "directory", "check-urls", "--from", "-", "--allow-private-addresses"],
                          input="http://www.fine.test/\n", cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[0])["outcome"] == "ok"
    assert "total" in proc.stderr  # the closing summary goes to stderr, JSON to stdout


def test_private_addresses_are_refused_without_the_flag(simweb):
    route = simweb.page("www.internal.test", "/", charity_page("Internal"))
    # Only a literal address here: without the flag the test resolver is ignored, and host names
    # would go to the system's DNS (name-based refusals are tested in tests/test_fetch.py).
    literal = simweb.local_url("www.internal.test", "/")
    proc = run_cli(simweb, "check-urls", literal)
    assert proc.returncode == 1
    [line] = [json.loads(line) for line in proc.stdout.splitlines()]
    assert line["outcome"] == "broken"
    assert line["reason"] == "refused: loopback address 127.0.0.1"
    assert route.hits == 0


@pytest.mark.parametrize("args,message", [
    (["check-urls"], "no URLs given"),
    (["check-urls", "--concurrency", "0", "http://x.test/"], "Invalid value"),
    (["check", "--db", "/nonexistent/s.db"], "does not exist"),
    (["check-urls", "--from", "/nonexistent/list.txt"], "cannot read"),
])
def test_usage_errors_exit_2(args, message):
    proc = subprocess.run([sys.executable, "-m", "directory", *args], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert message in proc.stderr


def test_invalid_urls_are_reported_not_fetched(simweb):
    proc = run_cli(simweb, "check-urls", "ftp://files.example/", "not a url", "--allow-private-addresses")
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["outcome"] for line in lines] == ["broken", "broken"]
    assert "not http or https" in lines[0]["reason"]


def test_overlapping_runs_second_exits_with_a_message(simweb, tmp_path):
    simweb.slow("www.slow.test", "/", delay=4, html=charity_page("Slow"))
    data = make_data_dir(tmp_path, [organization("slow", website="http://www.slow.test/")])
    db_path = tmp_path / "s.db"
    build(data, db_path)
    env = dict(os.environ, SIGNPOST_TEST_RESOLVE=simweb.resolve_env())
    first = subprocess.Popen([sys.executable, "-m", "directory", "check", "--db", str(db_path), "--allow-private-addresses"],
                             cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while simweb.hits("www.slow.test", "/") == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        second = run_cli(simweb, "check", "--db", str(db_path), "--allow-private-addresses")
        assert second.returncode == 2
        assert "already running" in second.stderr
    finally:
        first.wait(timeout=60)
    assert first.returncode == 0
    assert open_db(db_path)["checks"].count == 1


def test_killed_run_leaves_database_consistent_and_next_run_carries_on(simweb, tmp_path):
    for i in range(12):
        simweb.page(f"www.org{i}.test", "/", charity_page(f"Org {i}"), delay=0.5 if i % 2 else 0.0)
    orgs = [organization(f"org{i}", website=f"http://www.org{i}.test/") for i in range(12)]
    data = make_data_dir(tmp_path, orgs)
    db_path = tmp_path / "s.db"
    build(data, db_path)
    env = dict(os.environ, SIGNPOST_TEST_RESOLVE=simweb.resolve_env())
    proc = subprocess.Popen([sys.executable, "-m", "directory", "check", "--db", str(db_path), "--allow-private-addresses",
                             "--concurrency", "2", "--interval", "0"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    db = open_db(db_path)
    deadline = time.monotonic() + 30
    while db["checks"].count < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored = db["checks"].count
    assert 3 <= stored < 12
    # Every stored check has its state; no half-written rows.
    assert db["link_states"].count == stored
    proc = run_cli(simweb, "check", "--db", str(db_path), "--allow-private-addresses", "--due", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["checked"] == 12 - stored
    assert db["link_states"].count == 12


def test_check_urls_from_html_checks_every_external_link(simweb, tmp_path):
    simweb.page("www.listed-one.test", "/", charity_page("Listed One"))
    simweb.status("www.listed-two.test", "/old", 410)
    page = tmp_path / "resources.html"
    page.write_text(
        "<html><head><base href='http://www.our-site.test/'></head><body><ul>"
        "<li><a href='/about.html'>About us</a>"
        "<li><a href='http://www.listed-one.test/'>Listed One</a>"
        "<li><a href='http://www.listed-two.test/old'>Listed Two</a>"
        "<li><a href='mailto:info@our-site.test'>Mail us</a>"
        "<li><a href='http://validator.w3.org/check?uri=referer'>Valid HTML 4.01!</a></ul>")
    proc = run_cli(simweb, "check-urls", "--from-html", str(page), "--allow-private-addresses", "--json")
    assert proc.returncode == 1
    outcomes = {json.loads(line)["url"]: json.loads(line)["outcome"] for line in proc.stdout.splitlines()}
    assert outcomes == {"http://www.listed-one.test/": "ok", "http://www.listed-two.test/old": "broken"}


def test_identity_change_goes_to_review_and_a_maintainer_can_accept_it(simweb, tmp_path):
    simweb.page("www.pink-ribbon.test", "/", charity_page("Pink Ribbon Trust"))
    simweb.page("www.redesign.test", "/", charity_page("Redesign Trust"))
    data = make_data_dir(tmp_path, [
        organization("pink-ribbon", name="Pink Ribbon Trust", website="http://www.pink-ribbon.test/"),
        organization("redesign", name="Redesign Trust", website="http://www.redesign.test/"),
    ])
    db_path = tmp_path / "s.db"
    build(data, db_path)
    args = ("check", "--db", str(db_path), "--allow-private-addresses", "--json")
    first = json.loads(run_cli(simweb, *args).stdout)
    assert {r["state"] for r in first["results"]} == {"healthy"}

    # The domain now serves a casino; the redesign drops the name from the page entirely.
    simweb.page("www.pink-ribbon.test", "/", (PAGES / "unrelated-casino.html").read_text())
    simweb.page("www.redesign.test", "/", (PAGES / "ok-charity-homepage.html").read_text())
    second_report = json.loads(run_cli(simweb, *args).stdout)
    second = {r["organization_id"]: r for r in second_report["results"]}
    assert second["pink-ribbon"]["previous_state"] == "healthy"
    assert {(c["organization_id"], c["was"], c["now"]) for c in second_report["changed"]} == {
        ("pink-ribbon", "healthy", "review"), ("redesign", "healthy", "review")}
    assert second["pink-ribbon"]["outcome"] == "parked" and second["pink-ribbon"]["state"] == "review"
    assert second["redesign"]["outcome"] == "ok" and second["redesign"]["state"] == "review"
    db = open_db(db_path)
    reason = db["link_states"].get("redesign")["review_reason"]
    assert "no longer" in reason or "changed" in reason

    proc = run_cli(simweb, "review", "accept", "redesign", "--db", str(db_path))
    assert proc.returncode == 0 and "now healthy" in proc.stdout
    third = {r["organization_id"]: r for r in json.loads(run_cli(simweb, *args).stdout)["results"]}
    assert third["redesign"]["state"] == "healthy"
    assert third["pink-ribbon"]["state"] == "review"
    # Without --json (as under cron) the summary lists what changed since the last run.
    simweb.page("www.pink-ribbon.test", "/", charity_page("Pink Ribbon Trust"))
    proc = run_cli(simweb, "check", "--db", str(db_path), "--allow-private-addresses")
    assert "Changed since the last check" in proc.stdout
    assert "pink-ribbon" in proc.stdout and "review" in proc.stdout and "healthy" in proc.stdout


def test_lineage_in_the_data_is_respected(simweb, tmp_path):
    simweb.redirect("www.old-care.test", "/", "https://www.care-now.test/")
    simweb.page("www.care-now.test", "/", charity_page("Care Now"))
    simweb.page("www.closed-group.test", "/", (PAGES / "parked-sedo.html").read_text())
    data = make_data_dir(tmp_path, [
        organization("care-now", name="Care Now", website="https://www.care-now.test/"),
        organization("old-care", name="Old Care", website="http://www.old-care.test/", status="merged",
                     successor="care-now", status_year=2019),
        organization("closed-group", name="Closed Group", website="http://www.closed-group.test/",
                     status="closed", status_year=2012),
    ])
    db_path = tmp_path / "s.db"
    build(data, db_path)
    report = json.loads(run_cli(simweb, "check", "--db", str(db_path), "--allow-private-addresses", "--json").stdout)
    by_org = {r["organization_id"]: r for r in report["results"]}
    assert by_org["old-care"]["outcome"] == "moved" and by_org["old-care"]["state"] == "healthy"
    assert by_org["closed-group"]["outcome"] == "parked"
    proc = run_cli(simweb, "review", "list", "--db", str(db_path))
    assert proc.stdout.strip() == "Nothing needs review."


def test_expiring_certificate_is_listed_for_maintainers_but_stays_healthy(simweb, tmp_path):
    simweb.tls("www.renew-soon.test", "expiring_soon")
    simweb.page("www.renew-soon.test", "/", charity_page("Renew Soon"))
    data = make_data_dir(tmp_path, [organization("renew-soon", name="Renew Soon", website="https://www.renew-soon.test/")])
    db_path = tmp_path / "s.db"
    build(data, db_path)
    report = json.loads(run_cli(simweb, "check", "--db", str(db_path), "--allow-private-addresses", "--json").stdout)
    assert report["results"][0]["state"] == "healthy"
    proc = run_cli(simweb, "review", "list", "--db", str(db_path))
    assert "renew-soon" in proc.stdout and "TLS certificate expires on" in proc.stdout
