"""`signpost check`, `signpost check-urls` and `signpost review`: thin commands over the library.

Exit codes: 0 nothing dead; 1 something dead (check: an organization's link is confirmed down;
check-urls: a URL is broken); 2 usage, configuration or operational error (such as another run
holding the lock).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import click
from rich.console import Console

from checker import config as defaults
from checker.config import CheckerConfig
from checker.outcome import Outcome
from checker.report import RunSummary, print_json, print_summary, progress
from directory.db import DEFAULT_DB, DatabaseError
from directory.urls import BadURL, check_website_url

EXIT_OK, EXIT_DEAD, EXIT_ERROR = 0, 1, 2


class UsageProblem(click.ClickException):
    exit_code = EXIT_ERROR


def checker_options(command):
    """Options every checking command shares; defaults come from checker.config."""
    options = [
        click.option("--concurrency", default=defaults.DEFAULT_CONCURRENCY, show_default=True, type=click.IntRange(1, 1024),
                     help="Requests in flight across all hosts."),
        click.option("--per-host", "per_host_limit", default=defaults.DEFAULT_PER_HOST_LIMIT, show_default=True,
                     type=click.IntRange(1, 16), help="Connections at once to one host."),
        click.option("--interval", "min_interval_s", default=defaults.DEFAULT_MIN_INTERVAL_S, show_default=True,
                     type=click.FloatRange(0, 60), help="Seconds between requests to one host."),
        click.option("--timeout", "total_timeout_s", default=defaults.DEFAULT_TOTAL_TIMEOUT_S, show_default=True,
                     type=click.FloatRange(0.1, 600), help="Seconds allowed for one request."),
        click.option("--retries", default=defaults.DEFAULT_RETRIES, show_default=True, type=click.IntRange(0, 10),
                     help="Extra attempts for transient failures within the run."),
        click.option("--user-agent", default=defaults.DEFAULT_USER_AGENT, show_default=False,
                     envvar="SIGNPOST_USER_AGENT",
                     help="User-Agent header; put your own contact URL in it (env SIGNPOST_USER_AGENT). "
                          "The default names Signpost and its project page."),
        click.option("--allow-private-addresses", is_flag=True,
                     help="Allow loopback and private addresses (tests and local benchmarks only)."),
        click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _config(**kwargs) -> CheckerConfig:
    total = kwargs["total_timeout_s"]
    return CheckerConfig(
        concurrency=kwargs["concurrency"], per_host_limit=kwargs["per_host_limit"],
        min_interval_s=kwargs["min_interval_s"], total_timeout_s=total,
        connect_timeout_s=min(defaults.DEFAULT_CONNECT_TIMEOUT_S, total),
        read_timeout_s=min(defaults.DEFAULT_READ_TIMEOUT_S, total),
        retries=kwargs["retries"], user_agent=kwargs["user_agent"],
        url_deadline_s=max(defaults.DEFAULT_URL_DEADLINE_S, 4 * total),  # never shorter than a few requests
        allow_private_addresses=kwargs["allow_private_addresses"],
    )


def _console() -> Console:
    return Console(stderr=True)


@click.command()
@click.option("--db", "db_path", default=DEFAULT_DB, show_default=True, envvar="SIGNPOST_DB",
              type=click.Path(dir_okay=False, path_type=Path), help="SQLite database built by `signpost build`.")
@click.option("--due", is_flag=True, help="Only organizations whose next check is due (for cron).")
@click.option("--only", multiple=True, metavar="ID", help="Only these organization ids (repeatable).")
@checker_options
def check(db_path, due, only, as_json, **options):
    """Check organizations' websites and store the results and link states.

    By default every listed organization; --due for what is due (healthy links about weekly,
    suspect ones daily, with jitter); --only ID for chosen ones. A lock makes overlapping runs
    safe: a second run exits with code 2 and a message.
    """
    from checker import store
    from checker.lock import AlreadyRunning, RunLock
    from directory.db import active_organizations, open_db

    if due and only:
        raise UsageProblem("use either --due or --only, not both")
    if not db_path.exists():
        raise UsageProblem(f"{db_path} does not exist: run `signpost build` first")
    config = _config(**options)
    try:
        with RunLock(db_path):
            db = open_db(db_path)
            organizations = active_organizations(db, list(only) or None)
            if only:
                unknown = sorted(set(only) - {o["id"] for o in organizations})
                if unknown:
                    raise UsageProblem(f"no listed organization with id: {', '.join(unknown)}")
            if due:
                due_ids = set(store.due_organizations(db))
                organizations = [o for o in organizations if o["id"] in due_ids]
            targets = [_target(db, o) for o in organizations]
            lineage = {o["id"]: _lineage(db, o) for o in organizations}
            summary = _run_and_store(db, targets, config, lineage,
                                     selection="due" if due else ("only" if only else "all"), as_json=as_json)
    except AlreadyRunning as e:
        raise UsageProblem(str(e))
    except DatabaseError as e:
        raise UsageProblem(str(e))
    sys.exit(EXIT_DEAD if summary.states.get("down") else EXIT_OK)


def _target(db, organization: dict):
    from checker import store
    from checker.classify import Baseline
    from checker.run import Target
    from directory.urls import site_key

    names = (organization["name"], *json.loads(organization["other_names"] or "[]"))
    state = store.load_state(db, organization["id"])
    baseline = None
    if state and state.url == organization["website"] and state.baseline_fingerprint:
        baseline = Baseline(fingerprint=state.baseline_fingerprint, title=state.baseline_title,
                            site=site_key(organization["website"]))
    return Target(organization["website"], organization["id"], tuple(names), baseline)


def _lineage(db, organization: dict) -> dict:
    """What the data already says about an organization's fate, for judging its old website."""
    from directory.db import successor_websites
    from directory.urls import site_key

    return {"retired": organization["status"] != "active",
            "successor_sites": frozenset(site_key(w) for w in successor_websites(db, organization["id"]))}


def _run_and_store(db, targets, config, lineage: dict, *, selection: str, as_json: bool) -> RunSummary:
    from checker import store
    from checker.run import check_targets

    summary = RunSummary()
    console = _console()
    run_id = store.start_run(db, selection=selection, organizations=len(targets),
                             urls=len({t.url for t in targets}), options={"concurrency": config.concurrency,
                                                                           "per_host": config.per_host_limit})
    show_progress = console.is_terminal and not as_json and targets
    bar = progress(console, len(targets), "Checking") if show_progress else None
    task = bar.add_task("check", total=len(targets)) if bar else None
    started = time.monotonic()

    def on_result(target, result, identity_note):
        before = store.load_state(db, target.organization_id)
        previous_state = before.state if before and before.url == target.url else None
        state = store.save_result(db, run_id, target.organization_id, target.url, result,
                                  identity_note=identity_note, **lineage[target.organization_id])
        summary.add(target.organization_id, result, state.state, previous_state)
        summary.results.append({"organization_id": target.organization_id, **result.as_json(),
                                "state": state.state, "previous_state": previous_state})
        if bar:
            bar.advance(task)

    interrupted = True
    try:
        if bar:
            bar.start()
        asyncio.run(check_targets(targets, config, on_result=on_result))
        interrupted = False
    finally:
        if bar:
            bar.stop()
        store.finish_run(db, run_id, interrupted=interrupted)
    summary.elapsed_s = time.monotonic() - started
    if as_json:
        print_json({"run_id": run_id, "checked": summary.total, "outcomes": dict(summary.outcomes),
                    "states": dict(summary.states),
                    "changed": [{"organization_id": who, "was": was, "now": now, "reason": why}
                                for who, was, now, why in summary.changes],
                    "results": summary.results})
    else:
        print_summary(summary, Console(), title=f"signpost check ({selection})")
    return summary


def _read_urls(urls, from_file, from_html) -> list[str]:
    collected = list(urls)
    if from_file:
        stream = sys.stdin if from_file == "-" else None
        try:
            text = stream.read() if stream else Path(from_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise UsageProblem(f"cannot read {from_file}: {e}")
        collected += [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if from_html:
        from directory.importer import external_links

        try:
            collected += external_links(from_html)
        except Exception as e:  # the importer's own error type names the page and the problem
            raise UsageProblem(str(e))
    return collected


@click.command("check-urls")
@click.argument("urls", nargs=-1)
@click.option("--from", "from_file", metavar="FILE", help="Read URLs from FILE, one a line ('-' for standard input).")
@click.option("--from-html", metavar="PAGE", help="Check every external link on an HTML PAGE (file or URL).")
@checker_options
def check_urls(urls, from_file, from_html, as_json, **options):
    """Check ad-hoc URLs without a database; print one JSON object per URL per line.

    Each line has url, outcome, status_code, final_url, reason and elapsed_ms. Exit code 1 if
    any URL is broken.
    """
    from checker.outcome import CheckResult
    from checker.run import Target, check_targets

    config = _config(**options)
    all_urls = _read_urls(urls, from_file, from_html)
    if not all_urls:
        raise UsageProblem("no URLs given: pass URLs, --from FILE, --from - or --from-html PAGE")
    targets, invalid = [], []
    for url in dict.fromkeys(all_urls):
        try:
            check_website_url(url)
            targets.append(Target(url))
        except BadURL as e:
            invalid.append(CheckResult(url, Outcome.BROKEN, f"invalid URL: {e}", cause="bad_url"))
    summary = RunSummary()
    console = _console()
    bar = progress(console, len(targets), "Checking") if console.is_terminal and targets else None
    task = bar.add_task("check", total=len(targets)) if bar else None
    started = time.monotonic()
    for result in invalid:
        summary.add(result.url, result)
        print_json(result.as_json())

    def on_result(target, result, _note):
        summary.add(target.url, result)
        print_json(result.as_json())
        if bar:
            bar.advance(task)

    if bar:
        bar.start()
    try:
        asyncio.run(check_targets(targets, config, on_result=on_result))
    finally:
        if bar:
            bar.stop()
    summary.elapsed_s = time.monotonic() - started
    if not as_json:
        print_summary(summary, console, title="signpost check-urls")
    sys.exit(EXIT_DEAD if summary.outcomes.get("broken") else EXIT_OK)


@click.group()
def review():
    """What needs a person: list it, or accept a changed page as the organization's."""


@review.command("list")
@click.option("--db", "db_path", default=DEFAULT_DB, show_default=True, envvar="SIGNPOST_DB",
              type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def review_list(db_path, as_json):
    """List organizations needing review, with the evidence and the suggested fix."""
    from directory.db import open_db

    if not db_path.exists():
        raise UsageProblem(f"{db_path} does not exist: run `signpost build` first")
    db = open_db(db_path)
    rows = [dict(r) for r in db.query(
        "SELECT s.organization_id, o.name, s.url, s.state, s.last_outcome, s.review_reason, s.suggested_fix, "
        "s.evidence, s.last_checked_at, s.warning FROM link_states s JOIN organizations o ON o.id = s.organization_id "
        "WHERE (s.needs_review = 1 OR s.warning IS NOT NULL) AND o.withdrawn_at IS NULL AND o.status = 'active' "
        "ORDER BY s.state, s.organization_id")]
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("Nothing needs review.")
    for row in rows:
        click.echo(f"{row['organization_id']} ({row['name']}): {row['state']} — {row['review_reason'] or row['warning']}")
        click.echo(f"    website: {row['url']}  last checked: {row['last_checked_at']}")
        if row["warning"] and row["review_reason"]:
            click.echo(f"    early warning: {row['warning']}")
        if row["evidence"]:
            click.echo(f"    evidence: {row['evidence']}")
        if row["suggested_fix"]:
            click.echo(f"    suggested fix: {row['suggested_fix']}")


@review.command("accept")
@click.argument("organization_id")
@click.option("--db", "db_path", default=DEFAULT_DB, show_default=True, envvar="SIGNPOST_DB",
              type=click.Path(dir_okay=False, path_type=Path))
def review_accept(organization_id, db_path):
    """Confirm that ORGANIZATION_ID's current page is still the organization (clears an identity review)."""
    from checker import store
    from directory.db import open_db

    if not db_path.exists():
        raise UsageProblem(f"{db_path} does not exist: run `signpost build` first")
    state = store.accept_current_page(open_db(db_path), organization_id)
    if state is None:
        raise UsageProblem(f"{organization_id} has no checks yet")
    click.echo(f"{organization_id}: now {state.state}")
