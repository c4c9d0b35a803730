"""The one owner of the database schema. Every change is a new migration, appended, never edited.

Tables written by `signpost build`: organizations, tags, organization_tags, places, place_ancestors,
organization_places, sources, organizations_fts.
Tables written by the checker (`signpost check`): check_runs, checks, link_states. The build never
touches them. The public view link_status exposes only what visitors may see of link_states.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("signpost")

BUILD_TABLES = (
    "organizations", "tags", "organization_tags", "places", "place_ancestors",
    "organization_places", "sources",
)
CHECKER_TABLES = ("check_runs", "checks", "link_states")
PRIVATE_TABLES = CHECKER_TABLES  # never shown to the public (see directory/site/metadata.yaml)


@migrations()
def m001_directory(db: Database) -> None:
    db["organizations"].create(
        {
            "id": str, "name": str, "other_names": str, "website": str, "description": str,
            "type": str, "hq_country": str, "hq_subdivision": str, "serves": str, "tags": str,
            "status": str, "successor_id": str, "status_year": int, "status_note": str,
            "sources": str, "source_file": str, "first_built_at": str, "updated_at": str,
            "withdrawn_at": str,
        },
        pk="id",
        not_null={"name", "website", "description", "type", "status"},
    )
    db["tags"].create({"id": str, "label": str, "definition": str, "sort_order": int}, pk="id")
    db["organization_tags"].create(
        {"organization_id": str, "tag_id": str},
        pk=("organization_id", "tag_id"),
        foreign_keys=[("organization_id", "organizations", "id"), ("tag_id", "tags", "id")],
    )
    db["places"].create(
        {"code": str, "name": str, "kind": str, "parent_code": str, "country_code": str}, pk="code"
    )
    db["place_ancestors"].create(
        {"place_code": str, "ancestor_code": str, "depth": int}, pk=("place_code", "ancestor_code")
    )
    db["organization_places"].create(
        {"organization_id": str, "place_code": str},
        pk=("organization_id", "place_code"),
        foreign_keys=[("organization_id", "organizations", "id"), ("place_code", "places", "code")],
    )
    db["sources"].create({"id": str, "title": str, "url": str, "note": str}, pk="id")
    # Its own content (not external content), so visitors' search covers tag labels and other
    # names without the organizations table carrying derived columns.
    db.execute(
        "CREATE VIRTUAL TABLE organizations_fts USING fts5("
        "name, other_names, description, tag_labels, tokenize='porter unicode61 remove_diacritics 2')"
    )
    for table, column in [
        ("organizations", "status"), ("organizations", "type"), ("organizations", "hq_country"),
        ("organizations", "withdrawn_at"), ("organizations", "successor_id"),
        ("organization_tags", "tag_id"), ("organization_places", "place_code"),
        ("place_ancestors", "ancestor_code"), ("places", "parent_code"), ("places", "kind"),
    ]:
        db[table].create_index([column], find_unique_name=True)


@migrations()
def m002_checker(db: Database) -> None:
    db["check_runs"].create(
        {"id": int, "started_at": str, "finished_at": str, "selection": str, "organizations": int,
         "urls": int, "options": str},
        pk="id",
    )
    db["checks"].create(
        {
            "id": int, "run_id": int, "organization_id": str, "checked_at": str, "url": str,
            "outcome": str, "cause": str, "status_code": int, "final_url": str, "reason": str,
            "hops": str, "elapsed_ms": int, "bytes_read": int, "title": str, "fingerprint": str,
            "names_found": int, "attempts": int,
        },
        pk="id",
        foreign_keys=[("run_id", "check_runs", "id")],
    )
    db["checks"].create_index(["organization_id", "checked_at"], find_unique_name=True)
    db["checks"].create_index(["outcome"], find_unique_name=True)
    db["link_states"].create(
        {
            "organization_id": str, "url": str, "state": str, "since": str, "last_checked_at": str,
            "last_ok_at": str, "last_outcome": str, "reason": str, "failures": int,
            "first_failure_at": str, "next_check_at": str, "needs_review": int, "review_reason": str,
            "suggested_fix": str, "evidence": str, "baseline_fingerprint": str, "baseline_title": str,
            "dismissed_fingerprint": str,
        },
        pk="organization_id",
    )
    db["link_states"].create_index(["next_check_at"], find_unique_name=True)
    db["link_states"].create_index(["needs_review"], find_unique_name=True)
    db.execute(
        "CREATE VIEW link_status AS SELECT organization_id, state, since, last_checked_at, last_ok_at "
        "FROM link_states"
    )


def apply(db: Database) -> None:
    migrations.apply(db)


@migrations()
def m003_check_identity(db: Database) -> None:
    # Why a healthy-looking check still needs a person: the page stopped mentioning the
    # organization or changed radically since the last healthy check.
    db["checks"].add_column("identity_note", str)
    db["check_runs"].add_column("interrupted", int)


@migrations()
def m004_tls_expiry(db: Database) -> None:
    # Early warnings small organizations need: a certificate about to expire is not broken yet.
    db["checks"].add_column("tls_expires_at", str)
    db["link_states"].add_column("warning", str)
