"""`signpost build`: validate data/, then write it into SQLite in one transaction.

The build owns the directory tables (migrations.BUILD_TABLES) and nothing else: the checker's
tables survive every rebuild. An organization that disappears from data/ is marked withdrawn,
never deleted, so its check history keeps its meaning.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database

from directory import places
from directory.db import now_iso, open_db, write_transaction
from directory.models import Organization, Problem
from directory.validate import validate


class BuildError(Exception):
    """The data did not validate; nothing was written."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in the data; nothing was written")


@dataclass(frozen=True)
class BuildReport:
    organizations: int
    added: list[str]
    updated: list[str]
    withdrawn: list[str]
    restored: list[str]
    tags: int


def _row(org: Organization) -> dict:
    return {
        "id": org.id,
        "name": org.name,
        "other_names": json.dumps(list(org.other_names), ensure_ascii=False),
        "website": org.website,
        "description": org.description,
        "type": org.type,
        "hq_country": org.hq_country,
        "hq_subdivision": org.hq_subdivision,
        "serves": json.dumps(list(org.serves)),
        "tags": json.dumps(list(org.focus)),
        "status": org.status,
        "successor_id": org.successor,
        "status_year": org.status_year,
        "status_note": org.status_note,
        "sources": json.dumps(list(org.sources), ensure_ascii=False, sort_keys=True),
        "source_file": f"data/{org.file}",
    }


def _digest(row: dict) -> str:
    return hashlib.sha256(json.dumps(row, sort_keys=True).encode()).hexdigest()


def build(data_dir: Path, db_path: Path) -> BuildReport:
    loaded = validate(data_dir)
    if loaded.problems:
        raise BuildError(loaded.problems)
    db = open_db(db_path)
    try:
        with write_transaction(db):
            return _write(db, loaded)
    finally:
        db.close()


def _write(db: Database, loaded) -> BuildReport:
    now = now_iso()
    orgs = loaded.organizations
    tag_labels = {tag.id: tag.label for tag in loaded.tags}

    # Vocabulary and lookup tables are wholly derived from data/: replace them.
    db.execute("DELETE FROM sources")
    db["sources"].insert_all(
        [{"id": s.id, "title": s.title, "url": s.url, "note": s.note} for s in loaded.sources]
    )
    db.execute("DELETE FROM organization_tags WHERE tag_id NOT IN ({})".format(
        ", ".join("?" for _ in tag_labels) or "NULL"), list(tag_labels))
    db["tags"].upsert_all(
        [{"id": t.id, "label": t.label, "definition": t.definition, "sort_order": t.sort_order}
         for t in loaded.tags],
        pk="id",
    )
    db.execute("DELETE FROM tags WHERE id NOT IN ({})".format(
        ", ".join("?" for _ in tag_labels) or "NULL"), list(tag_labels))
    _write_places(db)

    existing = {row["id"]: row for row in db.query("SELECT * FROM organizations")}
    added, updated, restored = [], [], []
    for org in orgs:
        row = _row(org)
        old = existing.get(org.id)
        if old is None:
            added.append(org.id)
            row.update(first_built_at=now, updated_at=now, withdrawn_at=None)
        else:
            old_content = {key: old.get(key) for key in row}
            changed = _digest(old_content) != _digest(row)
            if old.get("withdrawn_at"):
                restored.append(org.id)
            elif changed:
                updated.append(org.id)
            row.update(first_built_at=old["first_built_at"],
                       updated_at=now if changed else old["updated_at"], withdrawn_at=None)
        db["organizations"].upsert(row, pk="id")

    current = {org.id for org in orgs}
    withdrawn = sorted(
        org_id for org_id, row in existing.items() if org_id not in current and not row.get("withdrawn_at")
    )
    for org_id in withdrawn:
        db.execute("UPDATE organizations SET withdrawn_at = ? WHERE id = ?", [now, org_id])

    # Links for listed organizations are rewritten; a withdrawn organization keeps its last ones.
    for table in ("organization_tags", "organization_places"):
        db.execute(f"DELETE FROM {table} WHERE organization_id IN ({', '.join('?' for _ in current) or 'NULL'})",
                   list(current))
    db["organization_tags"].insert_all(
        [{"organization_id": org.id, "tag_id": tag} for org in orgs for tag in org.focus]
    )
    db["organization_places"].insert_all(
        [{"organization_id": org.id, "place_code": code} for org in orgs for code in org.serves]
    )

    db.execute("DELETE FROM organizations_fts")
    db["organizations_fts"].insert_all(
        [
            {
                "rowid": rowid, "name": name,
                "other_names": " ; ".join(json.loads(other_names)),
                "description": description,
                "tag_labels": " ; ".join(tag_labels[t] for t in json.loads(tags) if t in tag_labels),
            }
            for rowid, name, other_names, description, tags in db.execute(
                "SELECT rowid, name, other_names, description, tags FROM organizations WHERE withdrawn_at IS NULL"
            ).fetchall()
        ]
    )
    db.execute("ANALYZE")
    return BuildReport(len(orgs), added, updated, withdrawn, restored, len(loaded.tags))


def _write_places(db: Database) -> None:
    everything = places.all_places()
    # Withdrawn organizations still point at places; the check waits for the commit.
    db.execute("PRAGMA defer_foreign_keys = ON")
    db.execute("DELETE FROM places")
    db.execute("DELETE FROM place_ancestors")
    db["places"].insert_all(
        [{"code": p.code, "name": p.name, "kind": p.kind, "parent_code": p.parent_code,
          "country_code": p.country_code} for p in everything.values()]
    )
    db["place_ancestors"].insert_all(
        [{"place_code": code, "ancestor_code": ancestor, "depth": depth}
         for code in everything for depth, ancestor in enumerate(places.ancestors(code))]
    )
