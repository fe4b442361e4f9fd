"""A plain `awpolicy lint PATH...` skips click: same output, same exit codes as the click command."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from helpers import GOLDEN

from aw_policy.entry import plain_lint_paths

FAST = "from aw_policy.entry import main; main()"  # the console script: takes the plain path
CLICK = "from aw_policy.cli import run; run()"  # always click

FILES = {
    "clean/project.awp": 'scope project\nfs { allow read "/usr" }\n',
    "warn/project.awp": 'scope project\nfs { deny write glob "${WORKSPACE}/**/.env" }\n',
    "risky/project.awp": 'scope project\nfs { allow read "~" }\n',
    "syntax/project.awp": 'scope project\nfs { alow read "/usr" }\n',
    "schema/user.awp.yaml": "scope: user\nfs:\n  - allow: raed\n    paths: [/usr]\n",
    "ansi/project.awp": 'scope project\nfs { allow read "~" }  # \x1b[31mred\x1b[0m café\n',
    "badconfig/pyproject.toml": "[tool.awpolicy]\nnope = 1\n",
    "badconfig/p/project.awp": 'scope project\nfs { allow read "/usr" }\n',
}


def _run(code: str, args: list[str], cwd, env=None):
    full_env = {k: v for k, v in os.environ.items() if k != "AWPOLICY_DEBUG"} | (env or {})
    proc = subprocess.run([sys.executable, "-c", code, "lint", *args], cwd=cwd, env=full_env,
                          check=False, capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.parametrize(("cwd", "args", "env"), [
    ("", ["clean"], None),
    ("", ["warn"], None),
    ("", ["risky", "clean/project.awp"], None),
    ("", ["syntax"], None),
    ("", ["schema"], None),
    ("", ["missing.awp"], None),
    ("", ["ansi"], None),  # click.echo strips ANSI codes from what is not a terminal
    ("", ["ansi"], {"PYTHONIOENCODING": "ascii"}),  # click re-wraps an ASCII stream
    ("badconfig", ["p"], None),  # a configuration error: click's InputError, exit 2
    ("golden", ["src"], None),
])
def test_the_plain_path_prints_and_exits_as_click_does(write, tmp_path, cwd, args, env):
    for name, text in FILES.items():
        write(name, text)
    (tmp_path / "golden").symlink_to(GOLDEN)
    fast = _run(FAST, args, tmp_path / cwd, env)
    assert fast == _run(CLICK, args, tmp_path / cwd, env)
    assert "Traceback" not in fast[2] and "internal error" not in fast[2]


def test_plain_forms_only():
    assert plain_lint_paths(["src"]) == ["src"]
    assert plain_lint_paths(["a.awp", "dir", "b.awp.yaml"]) == ["a.awp", "dir", "b.awp.yaml"]
    for args in ([], ["--format", "json", "src"], ["src", "--fix"], ["-h"], ["--", "src"], ["--golden"], [""]):
        assert plain_lint_paths(args) is None, args


def test_completion_and_unreadable_paths_are_left_to_click(tmp_path, monkeypatch):
    path = tmp_path / "p.awp"
    path.write_text("scope project\n", encoding="utf-8")
    monkeypatch.setattr(os, "access", lambda *a, **k: False)
    assert plain_lint_paths([str(path)]) is None  # click.Path() refuses it with a usage error
    assert plain_lint_paths([str(tmp_path / "missing.awp")]) == [str(tmp_path / "missing.awp")]
    monkeypatch.undo()
    monkeypatch.setenv("_AWPOLICY_COMPLETE", "bash_complete")
    assert plain_lint_paths([str(path)]) is None


def test_the_plain_lint_path_does_not_import_click():
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "aw_policy", "lint", str(GOLDEN / "src")],
                            check=False, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    imported = {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines() if line.startswith("import time")}
    # The golden example has a YAML layer: its valid document passes the generated schema check,
    # and jsonschema (only needed to explain an invalid one) is never imported.
    assert "aw_policy.lint" in imported and "aw_policy.lang.policy_schema_check" in imported
    assert not {"click", "aw_policy.cli", "aw_policy.session_layer", "rich", "jsonschema"} & imported
    assert "pydantic.plugin._loader" not in imported  # no AST validator is built (ast.Node defer_build)


def test_a_closed_stdout_is_no_internal_error():
    """`awpolicy lint src >&-`: like the click path, the report has nowhere to go and the exit is its own."""
    outcomes = []
    for extra in ([], ["--format", "text"]):  # the plain path, then click's
        result = subprocess.run(["sh", "-c", 'exec "$@" >&-', "sh", sys.executable, "-m", "aw_policy", "lint",
                                 *extra, str(GOLDEN / "src")], capture_output=True, text=True, timeout=60,
                                check=False)
        assert "internal error" not in result.stderr and "Traceback" not in result.stderr, result.stderr
        outcomes.append((result.returncode, result.stderr))
    assert outcomes[0] == outcomes[1]
