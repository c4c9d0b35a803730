"""Opening the database the same way everywhere: WAL so readers never wait for the writer,
a busy timeout so two writers queue instead of failing, and the schema brought up to date."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlite_utils import Database

from directory import migrations

DEFAULT_DB = "signpost.db"
BUSY_TIMEOUT_MS = 30_000


class DatabaseError(Exception):
    """The database file cannot be used; the message says which file and why."""


def open_db(path: str | Path, *, migrate: bool = True) -> Database:
    path = Path(path)
    if path.exists() and path.is_dir():
        raise DatabaseError(f"{path} is a folder, not a database file")
    try:
        conn = sqlite3.connect(str(path), isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        db = Database(conn)
        if migrate:
            migrations.apply(db)
    except sqlite3.DatabaseError as e:
        raise DatabaseError(f"{path}: {e}") from None
    return db


def now_iso() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def active_organizations(db: Database, only: list[str] | None = None) -> list[dict]:
    """Organizations the checker should visit: listed (not withdrawn), with their names."""
    sql = ("SELECT id, name, other_names, website, status, successor_id FROM organizations "
           "WHERE withdrawn_at IS NULL")
    params: list = []
    if only:
        sql += f" AND id IN ({', '.join('?' for _ in only)})"
        params = list(only)
    return [dict(row) for row in db.query(sql + " ORDER BY id", params)]


class write_transaction:
    """BEGIN IMMEDIATE ... COMMIT: takes the write lock up front (waiting up to the busy timeout),
    so a killed process leaves either all of its writes or none."""

    def __init__(self, db: Database):
        self.db = db

    def __enter__(self) -> Database:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.db.execute("COMMIT")
        elif self.db.conn.in_transaction:
            self.db.execute("ROLLBACK")


def successor_websites(db: Database, organization_id: str) -> list[str]:
    """Websites of every organization down the successor chain (merged into, renamed to...)."""
    websites, seen = [], {organization_id}
    row = db.execute("SELECT successor_id FROM organizations WHERE id = ?", [organization_id]).fetchone()
    successor = row[0] if row else None
    while successor and successor not in seen:
        seen.add(successor)
        row = db.execute("SELECT website, successor_id FROM organizations WHERE id = ?", [successor]).fetchone()
        if row is None:
            break
        websites.append(row[0])
        successor = row[1]
    return websites
