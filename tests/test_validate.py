"""Every kind of bad data gets a precise problem (file, line, field, hint), all reported at once."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from directory.cli import cli
from directory.validate import validate
from tests.helpers import make_data_dir, organization, write_org


def problems_for(tmp_path: Path, orgs: list[dict]):
    return validate(make_data_dir(tmp_path, orgs)).problems


def test_valid_data_has_no_problems(tmp_path):
    assert problems_for(tmp_path, [organization("alpha"), organization("beta", serves=["WORLD", "CA-ON"])]) == []


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    data = make_data_dir(tmp_path, [])
    (data / "organizations" / "broken.yaml").write_text("id: broken\nname: [unclosed\nwebsite: x\n")
    [problem] = validate(data).problems
    assert problem.file == "organizations/broken.yaml"
    assert problem.line == 3
    assert "YAML syntax error" in problem.message


def test_missing_required_field(tmp_path):
    entry = organization("alpha")
    del entry["description"]
    [problem] = problems_for(tmp_path, [entry])
    assert (problem.field, problem.message) == ("description", "required field is missing")
    assert problem.line == 1


def test_unknown_tag_suggests_nearest(tmp_path):
    [problem] = problems_for(tmp_path, [organization("alpha", focus=["patient-support", "helplines"])])
    assert problem.field == "focus[1]"
    assert "unknown tag 'helplines'" in problem.message
    assert "'helpline'" in problem.hint
    assert problem.line == 12


@pytest.mark.parametrize("field,value,expected", [
    ("serves", ["UK"], "the United Kingdom is GB"),
    ("serves", ["gb"], "upper-case"),
    ("serves", ["XX"], "not a valid ISO 3166"),
    ("serves", ["CA-ZZ"], "not a valid ISO 3166"),
    ("headquarters", {"country": "GB-ENG"}, "is a subdivision"),
    ("headquarters", {"country": "CA", "subdivision": "AU-NSW"}, "not in CA"),
])
def test_invalid_place_codes(tmp_path, field, value, expected):
    [problem] = problems_for(tmp_path, [organization("alpha", **{field: value})])
    assert expected in str(problem)


@pytest.mark.parametrize("website,expected", [
    ("ftp://example.org/", "scheme 'ftp' is not http or https"),
    ("javascript:alert(1)", "is not http or https"),
    ("https:///nohost", "no host"),
    ("http://exa mple.org/", "contains spaces"),
    ("www.example.org", "scheme '(none)'"),
    ("http://example.org:99999/", "out of range"),
])
def test_bad_websites(tmp_path, website, expected):
    [problem] = problems_for(tmp_path, [organization("alpha", website=website)])
    assert problem.field == "website"
    assert expected in problem.message


def test_duplicate_ids_and_websites(tmp_path):
    data = make_data_dir(tmp_path, [organization("alpha"), organization("beta", website="http://alpha.example.org")])
    data = make_data_dir(tmp_path, [organization("beta", website="https://www.alpha.example.org")])
    write_org(data, organization("alpha", website="https://gamma.example.org/"), name="alpha.yml")
    messages = [str(p) for p in validate(data).problems]
    assert any("duplicate id 'alpha'" in m for m in messages)
    assert any("same website as organizations/alpha.yaml" in m for m in messages)


def test_successor_missing_and_cycle(tmp_path):
    problems = problems_for(tmp_path, [
        organization("old", status="merged", successor="nwe"),
        organization("new"),
        organization("aa", status="renamed", successor="bb"),
        organization("bb", status="renamed", successor="aa"),
        organization("cc", status="merged"),
    ])
    messages = [str(p) for p in problems]
    assert any("successor 'nwe' does not exist" in m and "'new'" in m for m in messages)
    assert any("cycle: aa -> bb -> aa" in m for m in messages)
    assert any("a merged organization needs a successor" in m for m in messages)


def test_every_problem_reported_at_once_and_cli_exits_1(tmp_path):
    data = make_data_dir(tmp_path, [
        organization("alpha", focus=["nope"]),
        organization("beta", serves=["ZZ"]),
        organization("gamma", website="gopher://x"),
    ])
    result = CliRunner().invoke(cli, ["validate", "--data", str(data)])
    assert result.exit_code == 1
    assert "organizations/alpha.yaml:11: focus[0]: unknown tag 'nope'" in result.output
    assert "organizations/beta.yaml" in result.output and "'ZZ'" in result.output
    assert "organizations/gamma.yaml:3: website" in result.output
    assert f"3 problem(s) found in {data}/." in result.output


def test_unknown_field_and_wrong_type(tmp_path):
    problems = problems_for(tmp_path, [organization("alpha", colour="blue", status_year="2019")])
    messages = [str(p) for p in problems]
    assert any("'colour' was unexpected" in m for m in messages)
    assert any("status_year" in m and "not of type 'integer'" in m for m in messages)


def test_file_name_must_match_id(tmp_path):
    data = make_data_dir(tmp_path, [])
    write_org(data, organization("alpha"), name="beta.yaml")
    [problem] = validate(data).problems
    assert "does not match the file name" in problem.message


def test_not_utf8(tmp_path):
    data = make_data_dir(tmp_path, [])
    (data / "organizations" / "latin.yaml").write_bytes("name: Qu\xe9bec\n".encode("latin-1"))
    [problem] = validate(data).problems
    assert "not valid UTF-8" in problem.message


def test_missing_data_folder_is_named(tmp_path):
    result = CliRunner().invoke(cli, ["build", "--data", str(tmp_path / "nowhere"), "--db", str(tmp_path / "s.db")])
    assert result.exit_code == 1
    assert "nowhere: data folder does not exist" in result.output
    assert not (tmp_path / "s.db").exists()
