"""The Datasette site: where its configuration lives and how a Datasette instance is made from it.

Everything Datasette needs (metadata.yaml, settings.json, templates/, plugins/, static/) lives in
directory/site/, named as Datasette's configuration-directory mode names it. This module owns
those paths once, for `signpost serve` and for the tests alike.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from datasette.app import Datasette
from datasette.database import Database as DatasetteDatabase

from directory import site_queries

SITE_DIR = Path(__file__).parent / "site"
DATABASE_NAME = "signpost"  # fixed, so permissions in metadata.yaml apply whatever the file is called


def load_metadata() -> dict:
    """metadata.yaml plus the public export query, whose SQL lives with the site's other queries."""
    metadata = yaml.safe_load((SITE_DIR / "metadata.yaml").read_text(encoding="utf-8"))
    database = metadata.setdefault("databases", {}).setdefault(DATABASE_NAME, {})
    export = database.setdefault("queries", {}).setdefault("directory", {})
    export.setdefault("sql", site_queries.EXPORT_SQL.strip())
    return metadata


def load_settings() -> dict:
    return json.loads((SITE_DIR / "settings.json").read_text(encoding="utf-8"))


def build_datasette(db_path: str | Path, *, root_token: str | None = None) -> Datasette:
    """A Datasette serving db_path with the shipped site configuration (mutable, so the checker
    can write while it serves)."""
    db_path = Path(db_path)
    if not db_path.exists():
        raise FileNotFoundError(f"{db_path} does not exist: run `signpost build` first")
    ds = Datasette(
        [],
        metadata=load_metadata(),
        settings=load_settings(),
        template_dir=str(SITE_DIR / "templates"),
        plugins_dir=str(SITE_DIR / "plugins"),
        static_mounts=[("static", str(SITE_DIR / "static"))],
    )
    ds.add_database(DatasetteDatabase(ds, path=str(db_path), is_mutable=True), name=DATABASE_NAME)
    if root_token:
        ds._root_token = root_token  # what `datasette --root` sets: /-/auth-token?token=... signs in as root
    return ds
