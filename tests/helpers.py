"""Small builders shared by the directory tests: a data folder written from Python values."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def organization(org_id: str, **overrides) -> dict:
    entry = {
        "id": org_id,
        "name": org_id.replace("-", " ").title(),
        "website": f"https://www.{org_id}.example.org/",
        "description": f"A test organization called {org_id} that helps people with breast cancer.",
        "type": "charity",
        "headquarters": {"country": "GB"},
        "serves": ["GB"],
        "focus": ["patient-support"],
        "status": "active",
        "sources": [{"source": "curator"}],
    }
    entry.update(overrides)
    return entry


def make_data_dir(root: Path, organizations: list[dict]) -> Path:
    data = root / "data"
    (data / "organizations").mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "data" / "tags.yaml", data / "tags.yaml")
    shutil.copy(REPO / "data" / "sources.yaml", data / "sources.yaml")
    for entry in organizations:
        write_org(data, entry)
    return data


def write_org(data: Path, entry: dict, name: str | None = None) -> Path:
    path = data / "organizations" / (name or f"{entry['id']}.yaml")
    path.write_text(yaml.safe_dump(entry, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path
