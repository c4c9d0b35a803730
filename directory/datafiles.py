"""Read the human-edited YAML in data/ into records, remembering the line of every field.

Nothing here judges the content beyond "is this YAML of the right shape"; validate.py does the rest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import jsonschema
import yaml

from directory.models import Organization, Problem, Source, Tag

ORGANIZATIONS_DIR = "organizations"
DRAFTS_DIR = "drafts"
TAGS_FILE = "tags.yaml"
SOURCES_FILE = "sources.yaml"


@dataclass
class LoadedData:
    organizations: list[Organization] = field(default_factory=list)
    tags: list[Tag] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def organization_schema() -> dict:
    text = resources.files("directory").joinpath("schema/organization.schema.json").read_text()
    return json.loads(text)


class _Located:
    """A YAML document as Python values plus a map from field path to line number (1-based)."""

    def __init__(self, node: yaml.Node):
        self.lines: dict[str, int] = {}
        self.value = self._convert(node, "")

    def _convert(self, node: yaml.Node, path: str):
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            result = {}
            for key_node, value_node in node.value:
                key = str(key_node.value)
                child = f"{path}.{key}" if path else key
                self.lines[child] = key_node.start_mark.line + 1
                result[key] = self._convert(value_node, child)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self._convert(item, f"{path}[{i}]") for i, item in enumerate(node.value)]
        # Scalars: let PyYAML's resolver decide the type (int, bool, null, str).
        return yaml.SafeLoader.construct_object(_CONSTRUCTOR, node, deep=True)


class _ScalarConstructor(yaml.SafeLoader):
    def __init__(self):
        super().__init__("")


_CONSTRUCTOR = _ScalarConstructor()
# libyaml's parser when PyYAML was built with it (the wheels are): same marks, ~10x faster.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path: Path, display: str) -> tuple[_Located | None, list[Problem]]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        return None, [Problem(display, None, None, f"not valid UTF-8 ({e.reason} at byte {e.start})",
                              "save the file as UTF-8")]
    except OSError as e:
        return None, [Problem(display, None, None, f"cannot read: {e.strerror}")]
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        return None, [Problem(display, line, None, f"YAML syntax error: {e.problem or e}",
                              "check indentation, colons and quotes on or just before this line")]
    except yaml.YAMLError as e:  # pragma: no cover - other PyYAML errors carry no position
        return None, [Problem(display, None, None, f"YAML error: {e}")]
    if node is None:
        return None, [Problem(display, 1, None, "file is empty")]
    return _Located(node), []


def _json_path_to_dotted(path) -> str:
    dotted = ""
    for part in path:
        if isinstance(part, int):
            dotted += f"[{part}]"
        else:
            dotted = f"{dotted}.{part}" if dotted else str(part)
    return dotted


def _schema_problems(doc: _Located, display: str, validator) -> list[Problem]:
    problems = []
    for error in sorted(validator.iter_errors(doc.value), key=lambda e: list(map(str, e.path))):
        field_path = _json_path_to_dotted(error.absolute_path)
        hint = None
        if error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else None
            field_path = f"{field_path}.{missing}" if field_path and missing else (missing or field_path)
            message = "required field is missing"
            line = doc.lines.get(_json_path_to_dotted(error.absolute_path)) or 1
        elif error.validator == "additionalProperties":
            message = error.message
            hint = "see docs/data.md for the fields an organization may have"
            line = doc.lines.get(field_path) or 1
        elif error.validator == "enum":
            message = f"{error.instance!r} is not one of {', '.join(map(str, error.validator_value))}"
            line = doc.lines.get(field_path)
        else:
            message = error.message
            line = doc.lines.get(field_path)
        problems.append(Problem(display, line, field_path or None, message, hint))
    return problems


def _organization_from(doc: _Located, display: str) -> Organization:
    value = doc.value
    hq = value.get("headquarters") or {}
    lines = dict(doc.lines)
    if "headquarters.country" in lines:
        lines["hq_country"] = lines["headquarters.country"]
    if "headquarters.subdivision" in lines:
        lines["hq_subdivision"] = lines["headquarters.subdivision"]
    return Organization(
        id=value["id"],
        name=value["name"].strip(),
        website=value["website"].strip(),
        description=" ".join(value["description"].split()),
        type=value["type"],
        serves=tuple(value["serves"]),
        focus=tuple(value["focus"]),
        status=value["status"],
        other_names=tuple(n.strip() for n in value.get("other_names") or ()),
        hq_country=hq.get("country"),
        hq_subdivision=hq.get("subdivision"),
        successor=value.get("successor"),
        status_year=value.get("status_year"),
        status_note=value.get("status_note"),
        sources=tuple(value.get("sources") or ()),
        file=display,
        lines=lines,
    )


def _load_list(path: Path, display: str, required: tuple[str, ...], problems: list[Problem]):
    if not path.exists():
        problems.append(Problem(display, None, None, "file is missing"))
        return []
    doc, found = load_yaml(path, display)
    problems.extend(found)
    if doc is None:
        return []
    if not isinstance(doc.value, list):
        problems.append(Problem(display, 1, None, "expected a list of entries"))
        return []
    items = []
    for i, item in enumerate(doc.value):
        line = doc.lines.get(f"[{i}]")
        if not isinstance(item, dict):
            problems.append(Problem(display, line, f"[{i}]", "expected a mapping"))
            continue
        missing = [key for key in required if not isinstance(item.get(key), str) or not item[key].strip()]
        if missing:
            problems.append(Problem(display, line, f"[{i}].{missing[0]}", "required field is missing"))
            continue
        items.append((i, line, item))
    return items


def load(data_dir: Path) -> LoadedData:
    """Read everything under data_dir; every problem is collected, none is raised."""
    data_dir = Path(data_dir)
    loaded = LoadedData()
    if not data_dir.is_dir():
        loaded.problems.append(Problem(str(data_dir), None, None, "data folder does not exist",
                                       "pass --data with the folder holding tags.yaml and organizations/"))
        return loaded

    for order, (_, _, item) in enumerate(
        _load_list(data_dir / TAGS_FILE, TAGS_FILE, ("id", "label", "definition"), loaded.problems)
    ):
        loaded.tags.append(Tag(item["id"], item["label"].strip(), " ".join(item["definition"].split()), order))
    for _, _, item in _load_list(data_dir / SOURCES_FILE, SOURCES_FILE, ("id", "title"), loaded.problems):
        loaded.sources.append(Source(item["id"], item["title"], item.get("url"), item.get("note")))

    org_dir = data_dir / ORGANIZATIONS_DIR
    if not org_dir.is_dir():
        loaded.problems.append(Problem(f"{ORGANIZATIONS_DIR}/", None, None, "folder is missing"))
        return loaded
    validator = jsonschema.Draft202012Validator(organization_schema())
    for path in sorted(org_dir.iterdir()):
        display = f"{ORGANIZATIONS_DIR}/{path.name}"
        if path.suffix not in (".yaml", ".yml"):
            if not path.name.startswith("."):
                loaded.problems.append(Problem(display, None, None, "not a .yaml file",
                                               "organizations are one YAML file each"))
            continue
        doc, found = load_yaml(path, display)
        loaded.problems.extend(found)
        if doc is None:
            continue
        if not isinstance(doc.value, dict):
            loaded.problems.append(Problem(display, 1, None, "expected a mapping of fields"))
            continue
        schema_problems = _schema_problems(doc, display, validator)
        if schema_problems:
            loaded.problems.extend(schema_problems)
            continue
        org = _organization_from(doc, display)
        if org.id != path.stem:
            loaded.problems.append(Problem(display, org.line_of("id"), "id",
                                           f"id {org.id!r} does not match the file name",
                                           f"rename the file to {org.id}.yaml or change the id"))
        loaded.organizations.append(org)
    return loaded
