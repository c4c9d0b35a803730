"""Every rule the data must satisfy beyond its shape. Reports all problems at once."""

from __future__ import annotations

import difflib
from collections import defaultdict
from pathlib import Path

from directory import places, urls
from directory.datafiles import LoadedData, load
from directory.models import Organization, Problem


def validate(data_dir: Path) -> LoadedData:
    """Load data_dir and check it; the returned problems list is empty when the data is good."""
    loaded = load(data_dir)
    loaded.problems.extend(check(loaded))
    return loaded


def check(loaded: LoadedData) -> list[Problem]:
    problems: list[Problem] = []
    problems += _check_vocabulary(loaded)
    tag_ids = [tag.id for tag in loaded.tags]
    source_ids = {source.id for source in loaded.sources}
    for org in loaded.organizations:
        problems += _check_organization(org, tag_ids, source_ids)
    problems += _check_duplicates(loaded.organizations)
    problems += _check_successors(loaded.organizations)
    return problems


def _check_vocabulary(loaded: LoadedData) -> list[Problem]:
    problems = []
    seen: set[str] = set()
    for tag in loaded.tags:
        if tag.id in seen:
            problems.append(Problem("tags.yaml", None, f"{tag.id}", "duplicate tag id"))
        seen.add(tag.id)
    seen = set()
    for source in loaded.sources:
        if source.id in seen:
            problems.append(Problem("sources.yaml", None, source.id, "duplicate source id"))
        seen.add(source.id)
    return problems


def _nearest(word: str, choices) -> str | None:
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.5)
    return match[0] if match else None


def _check_place(org: Organization, field: str, code, allowed_kinds: set[str]) -> Problem | None:
    line = org.line_of(field)
    if not isinstance(code, str):
        return Problem(org.file, line, field, f"{code!r} is not a place code", "quote codes, e.g. \"GB\"")
    place = places.lookup(code)
    if place is None or place.kind not in allowed_kinds:
        expected = {
            frozenset({"country"}): "ISO 3166-1 country code",
            frozenset({"subdivision"}): "ISO 3166-2 subdivision code",
        }.get(frozenset(allowed_kinds), "ISO 3166 code (country or subdivision) or WORLD")
        hint = None
        if code.upper() != code and places.lookup(code.upper()):
            hint = f"codes are upper-case: {code.upper()}"
        elif code.upper() == "UK":
            hint = "the ISO 3166-1 code for the United Kingdom is GB"
        elif place is not None:
            hint = f"{code} is a {place.kind} ({place.name})"
        return Problem(org.file, line, field, f"{code!r} is not a valid {expected}", hint)
    return None


def _check_organization(org: Organization, tag_ids: list[str], source_ids: set[str]) -> list[Problem]:
    problems = []
    try:
        urls.check_website_url(org.website)
    except urls.BadURL as e:
        problems.append(Problem(org.file, org.line_of("website"), "website", f"{org.website!r}: {e}",
                                "use the full address, e.g. https://www.example.org/"))
    for i, code in enumerate(org.serves):
        problem = _check_place(org, f"serves[{i}]", code, {"world", "country", "subdivision"})
        if problem:
            problems.append(problem)
    if org.hq_country is not None:
        problem = _check_place(org, "headquarters.country", org.hq_country, {"country"})
        if problem:
            problems.append(problem)
    if org.hq_subdivision is not None:
        problem = _check_place(org, "headquarters.subdivision", org.hq_subdivision, {"subdivision"})
        if problem:
            problems.append(problem)
        elif org.hq_country and places.lookup(org.hq_subdivision).country_code != org.hq_country:
            problems.append(Problem(org.file, org.line_of("headquarters.subdivision"), "headquarters.subdivision",
                                    f"{org.hq_subdivision} is not in {org.hq_country}"))
    for i, tag in enumerate(org.focus):
        if tag not in tag_ids:
            nearest = _nearest(tag, tag_ids)
            problems.append(Problem(org.file, org.line_of(f"focus[{i}]"), f"focus[{i}]", f"unknown tag {tag!r}",
                                    f"did you mean {nearest!r}?" if nearest else "tags are listed in data/tags.yaml"))
    for i, source in enumerate(org.sources):
        if source.get("source") not in source_ids:
            problems.append(Problem(org.file, org.line_of(f"sources[{i}].source"), f"sources[{i}].source",
                                    f"unknown source {source.get('source')!r}", "sources are listed in data/sources.yaml"))
        if source.get("url"):
            try:
                urls.check_website_url(source["url"])
            except urls.BadURL as e:
                problems.append(Problem(org.file, org.line_of(f"sources[{i}].url"), f"sources[{i}].url", str(e)))
    if org.status in ("merged", "renamed") and not org.successor:
        problems.append(Problem(org.file, org.line_of("status"), "successor",
                                f"a {org.status} organization needs a successor",
                                "add successor: <id of the organization it became>"))
    if org.status == "active" and org.successor:
        problems.append(Problem(org.file, org.line_of("successor"), "successor",
                                "an active organization has no successor", "set status to merged, renamed or closed"))
    return problems


def _check_duplicates(orgs: list[Organization]) -> list[Problem]:
    problems = []
    by_id: dict[str, list[Organization]] = defaultdict(list)
    by_site: dict[str, list[Organization]] = defaultdict(list)
    for org in orgs:
        by_id[org.id].append(org)
        try:
            urls.check_website_url(org.website)
        except urls.BadURL:
            continue
        by_site[urls.normalize(org.website).rstrip("/").replace("://www.", "://")].append(org)
    for org_id, group in by_id.items():
        for org in group[1:]:
            problems.append(Problem(org.file, org.line_of("id"), "id", f"duplicate id {org_id!r}",
                                    f"also used by {group[0].file}"))
    for group in by_site.values():
        for org in group[1:]:
            problems.append(Problem(org.file, org.line_of("website"), "website",
                                    f"same website as {group[0].file} ({group[0].website})",
                                    "one entry per organization; list former names under other_names"))
    return problems


def _check_successors(orgs: list[Organization]) -> list[Problem]:
    problems = []
    by_id = {org.id: org for org in orgs}
    for org in orgs:
        if not org.successor:
            continue
        if org.successor not in by_id:
            nearest = _nearest(org.successor, by_id)
            problems.append(Problem(org.file, org.line_of("successor"), "successor",
                                    f"successor {org.successor!r} does not exist",
                                    f"did you mean {nearest!r}?" if nearest else "add an entry for the successor"))
            continue
        seen = [org.id]
        current = by_id[org.successor]
        while True:
            if current.id in seen:
                cycle = " -> ".join(seen + [current.id])
                problems.append(Problem(org.file, org.line_of("successor"), "successor",
                                        f"successors form a cycle: {cycle}"))
                break
            seen.append(current.id)
            if not current.successor or current.successor not in by_id:
                break
            current = by_id[current.successor]
    return problems


__all__ = ["validate", "check", "load"]
