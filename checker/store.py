"""Writing checks into the database and keeping each organization's link state current.

Each result is committed on its own (WAL makes that cheap), so a run killed at any moment loses
at most the checks in flight, and Datasette readers never wait on the writer.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields

from sqlite_utils import Database

from checker.history import DEFAULT_POLICY, CheckRecord, HistoryPolicy, LinkState, derive
from checker.outcome import CheckResult
from directory.db import now_iso, write_transaction

HISTORY_WINDOW = 30  # checks read back to derive a state; streaks longer than this are still "down"


def start_run(db: Database, *, selection: str, organizations: int, urls: int, options: dict) -> int:
    with write_transaction(db):
        table = db["check_runs"]
        table.insert({"started_at": now_iso(), "selection": selection, "organizations": organizations,
                      "urls": urls, "options": json.dumps(options, sort_keys=True)})
        return table.last_pk


def finish_run(db: Database, run_id: int, *, interrupted: bool = False) -> None:
    with write_transaction(db):
        db.execute("UPDATE check_runs SET finished_at = ?, interrupted = ? WHERE id = ?",
                   [now_iso(), 1 if interrupted else 0, run_id])


def load_state(db: Database, organization_id: str) -> LinkState | None:
    rows = list(db.query("SELECT * FROM link_states WHERE organization_id = ?", [organization_id]))
    if not rows:
        return None
    names = {f.name for f in fields(LinkState)}
    return LinkState(**{key: value for key, value in rows[0].items() if key in names})


def load_history(db: Database, organization_id: str, url: str,
                 limit: int = HISTORY_WINDOW) -> list[CheckRecord]:
    """Recent checks of the organization's current website (a changed website starts afresh)."""
    rows = db.query(
        "SELECT checked_at, outcome, reason, final_url, status_code, title, fingerprint, identity_note, "
        "tls_expires_at "
        "FROM checks WHERE organization_id = ? AND url = ? ORDER BY checked_at DESC, id DESC LIMIT ?",
        [organization_id, url, limit],
    )
    return [CheckRecord(**row) for row in reversed(list(rows))]


def save_result(db: Database, run_id: int | None, organization_id: str, website: str,
                result: CheckResult, *, identity_note: str | None = None,
                policy: HistoryPolicy = DEFAULT_POLICY, retired: bool = False,
                successor_sites: frozenset[str] = frozenset()) -> LinkState:
    """Store one check and recompute the organization's state, in one transaction.
    `retired` and `successor_sites` come from the data (see history.derive)."""
    with write_transaction(db):
        db["checks"].insert({
            "run_id": run_id,
            "organization_id": organization_id,
            "checked_at": result.checked_at or now_iso(),
            "url": result.url,
            "outcome": str(result.outcome),
            "cause": result.cause,
            "status_code": result.status_code,
            "final_url": result.final_url,
            "reason": result.reason,
            "hops": json.dumps([asdict(hop) for hop in result.hops]),
            "elapsed_ms": result.elapsed_ms,
            "bytes_read": result.bytes_read,
            "title": result.title,
            "fingerprint": result.fingerprint,
            "names_found": None if result.names_found is None else int(result.names_found),
            "attempts": result.attempts,
            "identity_note": identity_note,
            "tls_expires_at": result.tls_expires_at,
        })
        state = derive(organization_id, website, load_history(db, organization_id, website),
                       load_state(db, organization_id), policy=policy, retired=retired,
                       successor_sites=successor_sites)
        db["link_states"].upsert(asdict(state), pk="organization_id")
        return state


def accept_current_page(db: Database, organization_id: str) -> LinkState | None:
    """A maintainer confirms the page still belongs to the organization: it becomes the baseline."""
    with write_transaction(db):
        state = load_state(db, organization_id)
        if state is None:
            return None
        history = load_history(db, organization_id, state.url)
        if not history:
            return None
        latest = history[-1]
        accepted = LinkState(**{**asdict(state), "baseline_fingerprint": latest.fingerprint,
                                "baseline_title": latest.title,
                                "dismissed_fingerprint": latest.fingerprint})
        state = derive(organization_id, state.url, history, accepted, policy=DEFAULT_POLICY)
        db["link_states"].upsert(asdict(state), pk="organization_id")
        return state


def due_organizations(db: Database, now: str | None = None) -> list[str]:
    """Listed organizations never checked, or whose next check time has come."""
    now = now or now_iso()
    rows = db.query(
        "SELECT o.id FROM organizations o LEFT JOIN link_states s ON s.organization_id = o.id "
        "WHERE o.withdrawn_at IS NULL AND (s.organization_id IS NULL OR s.next_check_at IS NULL "
        "OR s.next_check_at <= ? OR s.url != o.website) ORDER BY s.next_check_at IS NOT NULL, s.next_check_at, o.id",
        [now],
    )
    return [row["id"] for row in rows]
