"""The docs stay true: every command has help and is in the README, every outcome is explained."""

import re

import pytest
from click.testing import CliRunner

from checker.outcome import Outcome
from directory import link_states
from directory.cli import cli
from tests.helpers import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
COMMANDS = ["build", "validate", "serve", "import-html", "check", "check-urls", "review"]


def test_every_command_is_registered():
    assert set(COMMANDS) <= set(cli.list_commands(None))


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_and_is_in_the_readme(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    assert f"signpost {command}" in README


@pytest.mark.parametrize("outcome", [o.value for o in Outcome])
def test_every_outcome_is_in_the_readme(outcome):
    assert re.search(rf"\| `{outcome}` \|", README)


@pytest.mark.parametrize("state", [s for s in link_states.STATES if s != link_states.UNCHECKED])
def test_every_link_state_is_in_the_readme(state):
    assert f"`{state}`" in README


def test_readme_gives_the_two_commands():
    assert "make serve" in README and "make test" in README
    assert "make test" in (REPO / ".ci" / "run").read_text()
