"""The click-free entry for plain `awpolicy run` builds the same request as the click command."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from aw_policy.cli import main
from aw_policy.entry import parse_plain_run


def click_request(args: list[str], monkeypatch):
    """The RunRequest the click command hands to the launcher for ``args``."""
    seen = []
    monkeypatch.setattr("aw_runtime.launcher.run_bundle", lambda req: seen.append(req) or 0)
    result = CliRunner().invoke(main, ["run", *args])
    assert result.exit_code == 0, result.output
    return seen[0]


@pytest.mark.parametrize("args", [
    ["B", "--", "true"],
    ["B", "--param", "WORKSPACE=/w", "--param=HOME=/h", "--best-effort", "--", "sh", "-c", "echo --x"],
    ["--keep-branch", "B", "-v", "--key", "k.pem", "--", "cmd", "--", "after"],
    ["B", "--discard-branch", "--key=k.pem", "--verbose", "--", "cmd"],
])
def test_plain_forms_parse_like_click(args, monkeypatch):
    fast = parse_plain_run(args)
    assert fast is not None
    assert fast == click_request(args, monkeypatch)


@pytest.mark.parametrize("args", [
    ["B", "true"],  # no '--': click explains
    ["B", "--"],  # no command
    ["--help"],
    ["B", "--param", "1BAD=x", "--", "true"],
    ["B", "--worktree", "w", "--", "true"],  # agent options are click's
    ["B", "C", "--", "true"],
])
def test_anything_else_is_left_to_click(args):
    assert parse_plain_run(args) is None


def test_the_plain_run_path_does_not_import_click(tmp_path):
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "aw_policy", "run", str(tmp_path / "none"),
                             "--", "/bin/true"], check=False, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "error[" in result.stderr  # refused: there is no bundle
    imported = {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines() if line.startswith("import time")}
    assert "aw_runtime.launcher" in imported
    assert not {"click", "aw_policy.cli"} & imported
