"""The build: complete, idempotent, atomic, and respectful of what it does not own."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from directory.build import BuildError, build
from directory.cli import cli
from directory.db import open_db
from tests.helpers import REPO, make_data_dir, organization, write_org


def snapshot(db_path) -> dict:
    """Every row of every table the build writes, plus the checker's tables."""
    conn = sqlite3.connect(db_path)
    tables = ["organizations", "tags", "organization_tags", "organization_places", "sources",
              "checks", "link_states"]
    data = {t: sorted(map(tuple, conn.execute(f"SELECT * FROM {t}").fetchall()), key=repr) for t in tables}
    data["fts"] = sorted(conn.execute("SELECT rowid, * FROM organizations_fts").fetchall())
    conn.close()
    return data


@pytest.fixture
def data_dir(tmp_path):
    return make_data_dir(tmp_path, [
        organization("alpha", other_names=["Old Alpha Trust"], serves=["GB", "WORLD"],
                     focus=["helpline", "metastatic"]),
        organization("beta", serves=["CA-ON"], headquarters={"country": "CA", "subdivision": "CA-ON"}),
    ])


def test_build_writes_directory(data_dir, tmp_path):
    db_path = tmp_path / "s.db"
    report = build(data_dir, db_path)
    assert report.added == ["alpha", "beta"]
    db = open_db(db_path)
    alpha = db["organizations"].get("alpha")
    assert json.loads(alpha["other_names"]) == ["Old Alpha Trust"]
    assert {r["tag_id"] for r in db["organization_tags"].rows_where("organization_id = 'alpha'")} == {"helpline", "metastatic"}
    assert db["places"].get("CA-ON")["name"] == "Ontario"
    assert db["places"].get("GB")["name"] == "United Kingdom"
    ancestors = [r["ancestor_code"] for r in db.query(
        "SELECT ancestor_code FROM place_ancestors WHERE place_code = 'CA-ON' ORDER BY depth")]
    assert ancestors == ["CA-ON", "CA", "WORLD"]
    # Full-text search covers former names and tag labels.
    hits = [r["name"] for r in db.query(
        "SELECT o.name FROM organizations_fts f JOIN organizations o ON o.rowid = f.rowid "
        "WHERE organizations_fts MATCH ?", ["alpha trust"])]
    assert hits == ["Alpha"]
    hits = [r["name"] for r in db.query(
        "SELECT o.name FROM organizations_fts f JOIN organizations o ON o.rowid = f.rowid "
        "WHERE organizations_fts MATCH ?", ["metastatic"])]
    assert hits == ["Alpha"]
    # Every column visitors filter on is indexed.
    indexed = {tuple(i.columns) for t in ("organizations", "organization_tags", "organization_places")
               for i in db[t].indexes}
    for columns in [("status",), ("type",), ("hq_country",), ("tag_id",), ("place_code",)]:
        assert columns in indexed


def test_rebuild_is_idempotent(data_dir, tmp_path):
    db_path = tmp_path / "s.db"
    build(data_dir, db_path)
    first = snapshot(db_path)
    report = build(data_dir, db_path)
    assert (report.added, report.updated, report.withdrawn) == ([], [], [])
    assert snapshot(db_path) == first


def test_removed_organization_is_withdrawn_not_dropped_and_checker_tables_survive(data_dir, tmp_path):
    db_path = tmp_path / "s.db"
    build(data_dir, db_path)
    db = open_db(db_path)
    db["checks"].insert({"organization_id": "beta", "url": "https://x", "outcome": "ok", "checked_at": "2026-01-01"})
    db["link_states"].insert({"organization_id": "beta", "url": "https://x", "state": "healthy"})
    (data_dir / "organizations" / "beta.yaml").unlink()
    report = build(data_dir, db_path)
    assert report.withdrawn == ["beta"]
    beta = db["organizations"].get("beta")
    assert beta["withdrawn_at"] is not None
    assert db["checks"].count == 1 and db["link_states"].count == 1
    assert db.execute("SELECT count(*) FROM organizations_fts").fetchone()[0] == 1
    write_org(data_dir, organization("beta", serves=["CA-ON"], headquarters={"country": "CA", "subdivision": "CA-ON"}))
    report = build(data_dir, db_path)
    assert report.restored == ["beta"]
    assert db["organizations"].get("beta")["withdrawn_at"] is None


def test_changed_entry_is_updated(data_dir, tmp_path):
    db_path = tmp_path / "s.db"
    build(data_dir, db_path)
    before = open_db(db_path)["organizations"].get("alpha")["updated_at"]
    time.sleep(1.1)
    write_org(data_dir, organization("alpha", description="A changed description that is long enough to pass."))
    report = build(data_dir, db_path)
    assert report.updated == ["alpha"]
    assert open_db(db_path)["organizations"].get("alpha")["updated_at"] > before


def test_failed_validation_writes_nothing(data_dir, tmp_path):
    db_path = tmp_path / "s.db"
    build(data_dir, db_path)
    before = snapshot(db_path)
    write_org(data_dir, organization("gamma", focus=["not-a-tag"]))
    with pytest.raises(BuildError):
        build(data_dir, db_path)
    result = CliRunner().invoke(cli, ["build", "--data", str(data_dir), "--db", str(db_path)])
    assert result.exit_code == 1
    assert "unknown tag 'not-a-tag'" in result.output
    assert "Nothing was written" in result.output
    assert snapshot(db_path) == before


def test_build_on_bad_database_file_is_a_clear_error(data_dir, tmp_path):
    bogus = tmp_path / "bogus.db"
    bogus.write_text("this is not a database, just text that is long enough " * 20)
    result = CliRunner().invoke(cli, ["build", "--data", str(data_dir), "--db", str(bogus)])
    assert result.exit_code == 1
    assert "bogus.db" in result.output and "not a database" in result.output


def wait_until_writing(db_path, proc, timeout=60.0) -> bool:
    """True once the build holds the write lock (its transaction has begun)."""
    probe = sqlite3.connect(db_path, timeout=0, isolation_level=None)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                probe.execute("BEGIN IMMEDIATE")
                probe.execute("ROLLBACK")
            except sqlite3.OperationalError:
                return True
            time.sleep(0.005)
        return False
    finally:
        probe.close()


@pytest.mark.slow
def test_kill_during_build_leaves_previous_database_intact(tmp_path):
    # Big enough that the build takes a while, so kills land mid-transaction.
    orgs = [organization(f"org-{i:04d}", serves=["GB", "WORLD"], focus=["helpline", "information"])
            for i in range(2500)]
    data = make_data_dir(tmp_path, orgs)
    db_path = tmp_path / "s.db"
    build(data, db_path)
    previous = snapshot(db_path)
    for org in orgs[:1200]:
        write_org(data, {**org, "description": org["description"] + " Changed."})
    killed_mid_build = 0
    for delay in (0.0, 0.1, 0.3, 0.6, 5.0):
        proc = subprocess.Popen([sys.executable, "-m", "directory", "build", "--data", str(data), "--db", str(db_path)],
                                cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if wait_until_writing(db_path, proc):
            time.sleep(delay)
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                killed_mid_build += 1
        proc.wait()
        conn = sqlite3.connect(db_path)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()
        current = snapshot(db_path)
        if proc.returncode == 0:
            break
        assert current == previous, f"killed after {delay}s left a half-written database"
    assert killed_mid_build >= 3
    assert proc.returncode == 0, "the last, unkilled build completes"
    assert snapshot(db_path) != previous
