"""awpolicy learn: recorded denials in, minimal explained rules out."""

from __future__ import annotations

import json

from helpers import GOLDEN_SOURCES, run_cli

from aw_policy.merge import compile_sources

HOME, WS = "/home/u", "/home/u/proj"
PARAMS = ["--param", f"HOME={HOME}", "--param", f"WORKSPACE={WS}", "--param", "TMPDIR=/tmp"]

DENIALS = [
    {"op": "read", "path": f"{WS}/data/a.csv"},
    {"op": "read", "path": f"{WS}/data/b.csv"},
    {"op": "read", "path": f"{WS}/data/c.csv"},
    {"op": "read", "path": f"{WS}/data/c.csv"},  # the same denial twice: one rule
    {"op": "read", "path": "/usr/share/dict/words"},
    {"op": "write", "path": f"{HOME}/.ssh/known_hosts"},
    {"op": "write", "path": f"{HOME}/.cache/pip/http/x"},
    {"op": "read", "path": f"{HOME}/one"},
    {"op": "read", "path": f"{HOME}/two"},
    {"op": "read", "path": f"{HOME}/three"},
    {"op": "connect", "object": "api.github.com:443"},
    {"op": "frobnicate", "object": "x"},
]


def rules_of(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("allow")]


def write_denials(tmp_path, records) -> str:
    path = tmp_path / "denials.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(path)


def test_proposes_exactly_the_minimal_rules_and_explains_each(tmp_path):
    result = run_cli("learn", write_denials(tmp_path, DENIALS), *PARAMS)
    assert result.returncode == 0, result.stderr
    assert rules_of(result.stdout) == [
        'allow read literal "~/one"',  # never widened to the home directory
        'allow read literal "~/three"',
        'allow read literal "~/two"',
        'allow read "${WORKSPACE}/data"',  # three files in one ordinary directory: one subtree
        'allow read literal "/usr/share/dict/words"',
        'allow write literal "~/.cache/pip/http/x"',
        'allow connect "api.github.com:443"',
    ]
    assert "#   /home/u/proj/data/a.csv" in result.stdout  # the subtree lists what it covers
    assert "kept literal: the directory is too broad to grant" in result.stdout
    assert "write /home/u/.ssh/known_hosts" in result.stdout and "secrets location" in result.stdout
    assert "'frobnicate' has no policy rule" in result.stdout


def test_the_proposal_compiles_and_lints_clean(tmp_path):
    out = tmp_path / "learned.awp"
    result = run_cli("learn", write_denials(tmp_path, DENIALS), *PARAMS, "--scope", "project", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "7 rule(s) proposed" in result.stderr
    compile_sources([out])  # raises on any error
    # Domain rules are the proxy's job: lint as a project that runs agents with it.
    (tmp_path / ".awpolicy.toml").write_text("proxy = true\n")
    lint = run_cli("lint", str(out), cwd=tmp_path)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_never_loosens_an_enforced_rule_and_drops_stale_denials(tmp_path):
    bundle = tmp_path / "bundle"
    assert run_cli("compile", *map(str, GOLDEN_SOURCES), "-o", str(bundle)).returncode == 0
    records = [{"op": "connect", "object": "169.254.169.254:80"},  # org enforce deny
               {"op": "read", "path": f"{WS}/src/main.py"}]  # the workspace is already readable
    result = run_cli("learn", write_denials(tmp_path, records), *PARAMS, "--bundle", str(bundle))
    assert result.returncode == 0, result.stderr
    assert rules_of(result.stdout) == []
    assert "enforced rule" in result.stdout and "src/org.awp" in result.stdout
    assert "already allowed by" in result.stdout


def test_reads_macos_sandbox_violation_lines(tmp_path):
    log = tmp_path / "sandbox.log"
    log.write_text(
        "2026-11-20 10:00:01.000 kernel: Sandbox: python3(4242) deny(1) file-read-data /opt/data/x.txt\n"
        "2026-11-20 10:00:02.000 kernel: Sandbox: python3(4242) deny(1) network-outbound 10.0.0.5:5432\n")
    result = run_cli("learn", str(log), *PARAMS)
    assert result.returncode == 0, result.stderr
    assert rules_of(result.stdout) == ['allow read literal "/opt/data/x.txt"', 'allow connect "10.0.0.5:5432"']


def test_malformed_denials_exit_2_with_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"op": "read", "path": "/x"}\n{not json\n')
    result = run_cli("learn", str(path))
    assert result.returncode == 2
    assert f"{path}:2:" in result.stderr and "AWP030" in result.stderr
    assert "Traceback" not in result.stderr
