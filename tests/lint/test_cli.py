"""`awpolicy lint`, `awpolicy rules` and `awpolicy compile --check` as a user runs them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest
from helpers import GOLDEN, GOLDEN_SOURCES, run_cli

CLEAN = 'scope project\nfs { allow read "/usr" }\n'
WARN_ONLY = 'scope project\nfs { deny write glob "${WORKSPACE}/**/.env" }\n'
RISKY = 'scope project\nfs { allow read "~" }\n'


def test_exit_0_clean(write):
    proc = run_cli("lint", str(write("a/project.awp", CLEAN)))
    assert proc.returncode == 0 and proc.stdout == ""
    assert "1 file(s) checked: no findings" in proc.stderr


def test_exit_1_on_findings_at_the_fail_level(write):
    assert run_cli("lint", str(write("a/project.awp", RISKY))).returncode == 1
    warn = write("b/project.awp", WARN_ONLY)
    assert run_cli("lint", str(warn)).returncode == 0  # warnings shown, error fail level
    assert "AWP301" in run_cli("lint", str(warn)).stdout
    assert run_cli("lint", "--fail-level", "warning", str(warn)).returncode == 1


def test_exit_2_on_input_errors_and_usage(write, tmp_path):
    bad = write("c/project.awp", 'scope project\nfs { alow read "/usr" }\n')
    proc = run_cli("lint", str(bad))
    assert proc.returncode == 2 and "AWP003" in proc.stdout and "did you mean 'allow'" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    assert run_cli("lint", str(tmp_path / "missing.awp")).returncode == 2
    assert run_cli("lint").returncode == 2  # no paths
    assert run_cli("lint", "--fail-level", "fatal", str(bad)).returncode == 2


def test_select_and_ignore_by_code_prefix_category_and_name(write):
    path = write("d/project.awp", 'scope project\nfs {\n  allow read "~"\n  deny write glob "/x/**/y"\n}\n')
    def codes(*args):
        return {d["code"] for d in json.loads(run_cli("lint", "--format", "json", *args, str(path)).stdout)}
    assert codes() == {"AWP201", "AWP301"}
    assert codes("--select", "AWP2") == {"AWP201"}
    assert codes("--select", "portability") == {"AWP301"}
    assert codes("--ignore", "secret-readable,AWP3") == set()
    assert run_cli("lint", "--ignore", "risk", str(path)).returncode == 0


@pytest.mark.parametrize("config_name, body", [
    (".awpolicy.toml", 'ignore = ["AWP201"]\nfail-level = "warning"\n'),
    ("pyproject.toml", '[project]\nname = "x"\n[tool.awpolicy]\nignore = ["AWP201"]\nfail-level = "warning"\n'),
])
def test_configuration_file(write, tmp_path, config_name, body):
    write(config_name, body)
    write("pol/project.awp", RISKY)
    assert run_cli("lint", "pol", cwd=tmp_path).returncode == 0  # AWP201 ignored
    write("pol/project.awp", WARN_ONLY)
    assert run_cli("lint", "pol", cwd=tmp_path).returncode == 1  # fail-level warning
    assert run_cli("lint", "--fail-level", "error", "pol", cwd=tmp_path).returncode == 0  # CLI wins


def test_bad_configuration_is_an_input_error(write, tmp_path):
    write(".awpolicy.toml", 'fail_level = "warning"\n')
    write("pol/project.awp", CLEAN)
    proc = run_cli("lint", "pol", cwd=tmp_path)
    assert proc.returncode == 2 and "unknown key 'fail_level'" in proc.stderr and "fail-level" in proc.stderr


def test_rules_lists_the_catalog_and_explains_one():
    listing = run_cli("rules")
    assert listing.returncode == 0
    assert "AWP201  secret-readable" in listing.stdout and "AWP504" in listing.stdout
    one = run_cli("rules", "AWP102")
    assert one.returncode == 0 and "Why is this bad?" in one.stdout and "Use instead" in one.stdout
    by_name = run_cli("rules", "secret-readable")
    assert by_name.stdout.startswith("AWP201 secret-readable")
    unknown = run_cli("rules", "AWP2O1")
    assert unknown.returncode == 2 and "did you mean 'AWP201'" in unknown.stderr
    data = json.loads(run_cli("rules", "--format", "json").stdout)
    assert {r["code"] for r in data} >= {"AWP101", "AWP401", "AWP501"}


@pytest.fixture
def golden_copy(tmp_path):
    """The golden example's sources, compiled into a fresh bundle in a temporary folder."""
    root = tmp_path / "golden" / "example"
    (root / "src").mkdir(parents=True)
    for source in GOLDEN_SOURCES:
        shutil.copy(source, root / "src" / source.name)
    sources = [str(root / "src" / s.name) for s in GOLDEN_SOURCES]
    assert run_cli("compile", *sources, "-o", str(root / "bundle")).returncode == 0
    return root, sources


def test_compile_check_and_lint_golden_detect_drift(golden_copy, tmp_path):
    root, sources = golden_copy
    bundle = root / "bundle"
    current = run_cli("compile", "--check", *sources, "-o", str(bundle))
    assert current.returncode == 0 and "up to date" in current.stdout
    assert run_cli("lint", "--golden", cwd=tmp_path).returncode == 0
    with open(root / "src" / "project.awp", "a", encoding="utf-8") as handle:
        handle.write('fs { allow read "/srv/data" }\n')
    stale = run_cli("compile", "--check", *sources, "-o", str(bundle))
    assert stale.returncode == 1
    assert f"--- {bundle}/policy.json\n+++ {bundle}/policy.json (fresh compile)" in stale.stdout
    assert re.search(r'^\+.*"pattern": "/srv/data"', stale.stdout, re.MULTILINE)
    lint = run_cli("lint", "--golden", cwd=tmp_path)
    assert lint.returncode == 1 and "error[AWP401]: committed bundle file policy.json differs" in lint.stdout
    assert re.search(r'^\+.*"pattern": "/srv/data"', lint.stdout, re.MULTILINE)


def test_the_golden_example_lints_without_errors():
    proc = run_cli("lint", str(GOLDEN / "src"))
    assert proc.returncode == 0, proc.stdout
    assert "error[" not in proc.stdout


def test_lint_imports_only_what_the_files_need(write):
    """No rich unless text goes to a terminal; no jsonschema without YAML; no lark without .awp."""
    sb = write("s/profile.sb", "(version 1)\n(deny default)\n")
    awp = write("a/project.awp", CLEAN)
    probe = ("import sys, runpy; sys.argv = ['awpolicy', 'lint', *sys.argv[1:]]\n"
             "try: runpy.run_module('aw_policy', run_name='__main__')\n"
             "except SystemExit: pass\n"
             "print(sorted(m for m in ('rich', 'jsonschema', 'lark', 'yaml') if m in sys.modules), file=sys.stderr)")
    def loaded(path):
        proc = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, check=False)
        return proc.stderr.strip().splitlines()[-1]
    assert loaded(awp) == "['lark']"
    assert "rich" not in loaded(sb) and "jsonschema" not in loaded(sb)


def test_schema_describes_every_key_for_editors():
    proc = run_cli("schema")
    schema = json.loads(proc.stdout)
    undocumented = []

    def walk(node, where):
        if isinstance(node, dict):
            for key, sub in node.get("properties", {}).items():
                if "description" not in sub:
                    undocumented.append(f"{where}/{key}")
            for key, sub in node.items():
                walk(sub, f"{where}/{key}")
        elif isinstance(node, list):
            for i, sub in enumerate(node):
                walk(sub, f"{where}[{i}]")

    walk(schema, "")
    assert proc.returncode == 0 and undocumented == []
