"""Check results land in SQLite; states, due dates and the run lock behave across runs."""

import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from checker import store
from checker.lock import AlreadyRunning, RunLock
from checker.outcome import CheckResult, Hop, Outcome
from directory import link_states as states
from directory.build import build
from directory.db import open_db
from tests.helpers import REPO, make_data_dir, organization


@pytest.fixture
def db(tmp_path):
    data = make_data_dir(tmp_path, [organization("alpha"), organization("beta")])
    build(data, tmp_path / "s.db")
    return open_db(tmp_path / "s.db")


def result(outcome: Outcome, days: float, url="https://www.alpha.example.org/", **kw) -> CheckResult:
    when = (datetime(2026, 3, 1, tzinfo=timezone.utc) + timedelta(days=days)).isoformat()
    return CheckResult(url, outcome, kw.pop("reason", str(outcome)), checked_at=when, **kw)


def test_results_and_states_are_stored(db):
    run = store.start_run(db, selection="all", organizations=1, urls=1, options={})
    hops = (Hop("http://www.alpha.example.org/", 301, "https://www.alpha.example.org/"),
            Hop("https://www.alpha.example.org/", 200))
    state = store.save_result(db, run, "alpha", "https://www.alpha.example.org/",
                              result(Outcome.OK, 0, status_code=200, hops=hops, fingerprint="abcd", title="Alpha"))
    store.finish_run(db, run)
    assert state.state == states.HEALTHY
    row = db["checks"].get(1)
    assert row["outcome"] == "ok" and '"status_code": 301' in row["hops"]
    assert db["link_states"].get("alpha")["baseline_title"] == "Alpha"
    assert db["check_runs"].get(run)["finished_at"]


def test_failures_turn_down_only_over_days(db):
    url = "https://www.alpha.example.org/"
    for days in (0, 1.5):
        state = store.save_result(db, None, "alpha", url, result(Outcome.BROKEN, days, reason="HTTP 404"))
        assert state.state == states.SUSPECT
    state = store.save_result(db, None, "alpha", url, result(Outcome.BROKEN, 3.1, reason="HTTP 404"))
    assert state.state == states.DOWN
    assert db.execute("SELECT state FROM link_status WHERE organization_id='alpha'").fetchone()[0] == "down"


def test_changed_website_starts_afresh(db):
    for days in (0, 2, 4):
        store.save_result(db, None, "alpha", "https://old.example.org/",
                          result(Outcome.BROKEN, days, url="https://old.example.org/"))
    state = store.save_result(db, None, "alpha", "https://www.alpha.example.org/", result(Outcome.BROKEN, 5))
    assert state.state == states.SUSPECT and state.failures == 1


def test_due_selection(db):
    assert store.due_organizations(db) == ["alpha", "beta"]  # never checked: due now
    store.save_result(db, None, "alpha", "https://www.alpha.example.org/",
                      result(Outcome.OK, 0))
    # Healthy: next check about a week after 2026-03-01.
    assert store.due_organizations(db, now="2026-03-02T00:00:00+00:00") == ["beta"]
    assert "alpha" in store.due_organizations(db, now="2026-03-09T12:00:00+00:00")


def test_accepting_a_changed_page(db):
    url = "https://www.alpha.example.org/"
    store.save_result(db, None, "alpha", url, result(Outcome.OK, 0, fingerprint="aaaa", title="Alpha"))
    state = store.save_result(db, None, "alpha", url, result(Outcome.OK, 7, fingerprint="ffff", title="New look"),
                              identity_note="the page no longer mentions the organization's name")
    assert state.state == states.REVIEW
    state = store.accept_current_page(db, "alpha")
    assert state.state == states.HEALTHY and state.baseline_title == "New look"


def test_second_run_is_refused_while_the_first_holds_the_lock(tmp_path):
    db_path = tmp_path / "s.db"
    with RunLock(db_path):
        with pytest.raises(AlreadyRunning, match="already running"):
            with RunLock(db_path):
                pass
        # Another process is refused too.
        code = ("import sys; from checker.lock import RunLock, AlreadyRunning\n"
                f"try:\n    RunLock({str(db_path)!r}).__enter__()\nexcept AlreadyRunning as e:\n    print(e); sys.exit(3)")
        proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
        assert proc.returncode == 3 and "pid" in proc.stdout
    with RunLock(db_path):  # released on exit
        pass


def test_lock_is_released_when_the_holder_is_killed(tmp_path):
    db_path = tmp_path / "s.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import time; from checker.lock import RunLock\nwith RunLock({str(db_path)!r}):\n"
                               "    print('held', flush=True); time.sleep(60)"],
        cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(AlreadyRunning):
        RunLock(db_path).__enter__()
    holder.kill()
    holder.wait()
    with RunLock(db_path):
        pass
