"""The directory's records, as handed from the data files to validation and the build."""

from __future__ import annotations

from dataclasses import dataclass, field

ORG_TYPES = {
    "charity": "Charity or non-profit",
    "government": "Government agency",
    "hospital": "Hospital or cancer centre",
    "professional-body": "Professional body",
    "company": "Company",
}
LIFECYCLE = {
    "active": "Active",
    "merged": "Merged into another organization",
    "renamed": "Renamed",
    "closed": "Closed",
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the data, located precisely enough to fix it."""

    file: str
    line: int | None
    field: str | None
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        text = f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        return f"{text} (hint: {self.hint})" if self.hint else text


@dataclass(frozen=True)
class Tag:
    id: str
    label: str
    definition: str
    sort_order: int


@dataclass(frozen=True)
class Source:
    id: str
    title: str
    url: str | None
    note: str | None


@dataclass(frozen=True)
class Organization:
    id: str
    name: str
    website: str
    description: str
    type: str
    serves: tuple[str, ...]
    focus: tuple[str, ...]
    status: str = "active"
    other_names: tuple[str, ...] = ()
    hq_country: str | None = None
    hq_subdivision: str | None = None
    successor: str | None = None
    status_year: int | None = None
    status_note: str | None = None
    sources: tuple[dict, ...] = ()
    file: str = ""
    lines: dict = field(default_factory=dict, compare=False, repr=False)

    def line_of(self, field_name: str) -> int | None:
        return self.lines.get(field_name) or self.lines.get("")
