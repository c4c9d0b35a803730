"""What a run tells people: a progress bar on a terminal, a closing summary, or JSON."""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from checker.outcome import CheckResult, Outcome
from directory import link_states as states


@dataclass
class RunSummary:
    outcomes: Counter = field(default_factory=Counter)
    states: Counter = field(default_factory=Counter)
    attention: list[tuple[str, str, str]] = field(default_factory=list)  # (who, what, why)
    changes: list[tuple[str, str, str, str]] = field(default_factory=list)  # (who, before, after, why)
    results: list[dict] = field(default_factory=list)
    elapsed_s: float = 0.0

    def add(self, who: str, result: CheckResult, state: str | None = None,
            previous_state: str | None = None) -> None:
        self.outcomes[str(result.outcome)] += 1
        if state:
            self.states[state] += 1
        if state in (states.DOWN, states.REVIEW) or (state is None and result.outcome is not Outcome.OK):
            self.attention.append((who, state or str(result.outcome), result.reason))
        if state is not None and previous_state is not None and previous_state != state:
            self.changes.append((who, previous_state, state, result.reason))

    @property
    def total(self) -> int:
        return sum(self.outcomes.values())


def progress(console: Console, total: int, label: str) -> Progress:
    return Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=True)


def print_summary(summary: RunSummary, console: Console, *, title: str) -> None:
    table = Table(title=title, show_edge=False)
    table.add_column("outcome")
    table.add_column("checks", justify="right")
    for outcome in Outcome:
        if summary.outcomes[outcome.value]:
            table.add_row(outcome.value, str(summary.outcomes[outcome.value]))
    table.add_row("total", str(summary.total), style="bold")
    console.print(table)
    if summary.states:
        state_table = Table(title="Link states after this run", show_edge=False)
        state_table.add_column("state")
        state_table.add_column("organizations", justify="right")
        for state in states.STATES:
            if summary.states[state]:
                state_table.add_row(state, str(summary.states[state]))
        console.print(state_table)
    if summary.changes:
        changes = Table(title="Changed since the last check", show_edge=False)
        for column in ("who", "was", "now", "why"):
            changes.add_column(column)
        for row in summary.changes:
            changes.add_row(*row)
        console.print(changes)
    if summary.attention:
        attention = Table(title="Needs attention", show_edge=False)
        attention.add_column("who")
        attention.add_column("state")
        attention.add_column("why")
        for who, what, why in summary.attention:
            attention.add_row(who, what, why)
        console.print(attention)
    console.print(f"{summary.total} checks in {summary.elapsed_s:.1f} s")


def print_json(data) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
    sys.stdout.flush()
