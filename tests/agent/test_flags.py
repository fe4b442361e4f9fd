"""Capability flags: a session layer that changes decisions exactly as `explain` reports,
and that no flag can loosen an enforced rule."""

from __future__ import annotations

import json

import pytest
from agent_helpers import needs_sandbox, run_in
from helpers import GOLDEN_SOURCES, run_cli

from aw_policy import ir, session_layer
from aw_policy.bundle import load_policy
from aw_policy.merge import compile_sources
from aw_policy.session_layer import Flags

SOURCES = [str(p) for p in GOLDEN_SOURCES]

#: (flags as typed, flags as values, request): each one changes, or tries to change, a decision.
CASES = [
    (["--allow-fs-read", "/data"], Flags(allow_fs_read=("/data",)), ("read", "/data/x")),
    (["--allow-fs-rw", "/data"], Flags(allow_fs_rw=("/data",)), ("write", "/data/x")),
    (["--allow-fs-rw", "~"], Flags(allow_fs_rw=("~",)), ("write", "/home/agent/.ssh/id_rsa")),
    (["--allow-fs-rw", "~"], Flags(allow_fs_rw=("~",)), ("write", "/home/agent/notes")),
    (["--allow-network"], Flags(network="allow"), ("connect", "example.com:443")),
    (["--allow-network"], Flags(network="allow"), ("connect", "169.254.169.254:80")),
    (["--block-network"], Flags(network="block"), ("connect", "localhost:8080")),
    (["--block-exec", "/usr/local/bin"], Flags(block_exec=("/usr/local/bin",)), ("exec", "/usr/local/bin/tool")),
    (["--allow-exec", "/opt/tool"], Flags(allow_exec=("/opt/tool",)), ("exec", "/opt/tool")),
    (["--profile", "agent-codex"], Flags(profiles=("agent-codex",)), ("write", "/home/agent/.codex/auth.json")),
    (["--profile", "host-tools,agent-claude"], Flags(profiles=("host-tools", "agent-claude")),
     ("read", "/home/agent/.claude/settings.json")),
]


def cli(*args: str):
    """The CLI in this process (click's runner): the same command code as `awpolicy`, without a
    fresh interpreter per call. Returns (exit code, stdout, stderr)."""
    from click.testing import CliRunner

    from aw_policy.cli import main

    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def explain(*args: str) -> dict:
    code, out, err = cli("explain", *SOURCES, *args, "--format", "json")
    assert code == 0, err
    return json.loads(out)


@pytest.fixture(scope="module")
def golden():
    return compile_sources(SOURCES).policy


@pytest.mark.parametrize("typed,flags,request_", CASES, ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_explain_reports_the_decision_the_session_layer_makes(golden, typed, flags, request_):
    op, obj = request_
    combined = session_layer.apply_flags(golden, flags)
    expected = ir.decide(combined, ir.normalize_request(op, obj))
    reported = explain(*typed, op, obj)
    assert reported["effect"] == expected.effect
    assert reported["rule"]["origin"] == expected.rule.to_json()["origin"]
    assert reported["rule"]["scope"] == expected.rule.scope
    without = ir.decide(golden, ir.normalize_request(op, obj))
    if expected.rule.enforce:
        assert expected.effect == without.effect  # a flag never changes what enforce decides
        assert reported["overridden_flags"], "explain must say the flag was overridden"
    else:
        assert expected.rule.scope in ("session", "project", "org", "user")
        assert reported["overridden_flags"] == []


def test_flag_rules_carry_the_flag_as_their_origin(golden):
    combined = session_layer.apply_flags(golden, Flags(allow_fs_rw=("/data",), network="block"))
    added = [r for r in combined.rules if r.scope == "session"]
    assert {r.origin.file for r in added} == {"--allow-fs-rw /data", "--block-network"}
    assert all(r.id.startswith("s") for r in added)
    assert combined.rules[: len(golden.rules)] == golden.rules


def test_flags_cannot_override_an_org_enforce(golden):
    combined = session_layer.apply_flags(golden, Flags(allow_fs_rw=("~",), network="allow"))
    blocked = session_layer.blocked(ir.bind(combined))
    objects = {(b.flag_rule.origin.file, b.obj) for b in blocked}
    assert ("--allow-fs-rw ~", "/home/agent/.ssh") in objects
    assert ("--allow-network", "169.254.169.254:443") in objects
    for b in blocked:
        assert b.enforced.enforce and b.enforced.scope == "org"
        assert ir.decide(combined, ir.normalize_request(b.flag_rule.op, b.obj)).rule == b.enforced
    text = run_cli("explain", *SOURCES, "--allow-fs-rw", "~", "write", "~/.ssh/id_rsa")
    assert text.returncode == 0
    assert "DENY" in text.stdout and "the flag --allow-fs-rw ~ cannot loosen this enforced rule" in text.stdout


def test_relative_flag_paths_are_taken_from_the_current_directory(golden, tmp_path):
    combined = session_layer.apply_flags(golden, Flags(allow_fs_read=("sub/dir",)), cwd=str(tmp_path))
    assert ir.decide(combined, ir.Request("read", str(tmp_path / "sub/dir/f"))).effect == "allow"


@pytest.mark.parametrize("args,message", [
    (["--allow-fs-read", "/a*b"], "--allow-fs-read /a*b"),
    (["--profile", "nope"], "--profile nope: unknown preset 'nope'"),
    (["--profile", "a,,b"], "--profile: an empty name"),
])
def test_bad_flags_are_usage_errors_naming_the_flag(args, message):
    code, _, err = cli("explain", *SOURCES, *args, "read", "/x")
    assert code == 2
    assert message in err


# --------------------------------------------------------------------------- real runs


ORG = 'fs { enforce deny read,write "${WORKSPACE}/secrets" }\n'
PROJECT = 'include "linux-base"\nfs { allow read,write "${WORKSPACE}" }\n'


@needs_sandbox
def test_flags_change_a_real_run_as_explain_says(repo, bundle, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "data.txt").write_text("data\n")
    (repo / "secrets").mkdir()
    (repo / "secrets" / "key").write_text("k\n")
    b = bundle(PROJECT, org=ORG)
    probe = f"cat {outside}/data.txt >/dev/null && echo read-ok || echo read-denied; " \
            f"cat {repo}/secrets/key >/dev/null && echo secret-ok || echo secret-denied; " \
            f"echo x > {outside}/new && echo write-ok || echo write-denied"
    for flags in ([], ["--allow-fs-read", str(outside)], ["--allow-fs-rw", str(outside)],
                  ["--allow-fs-rw", str(repo)], ["--allow-fs-read", str(repo / "secrets")]):
        result = run_in(repo, "run", str(b), *flags, "--", "sh", "-c", probe)
        assert result.returncode == 0, result.stderr
        seen = result.stdout.split()
        policy = session_layer.apply_flags(load_policy(b)[1], Flags.from_options(_options(flags)))
        bound = ir.bind(policy, {"WORKSPACE": str(repo), "HOME": str(tmp_path / "home")})
        expected = []
        for op, path, label in (("read", f"{outside}/data.txt", "read"), ("read", f"{repo}/secrets/key", "secret"),
                                ("write", f"{outside}/new", "write")):
            effect = ir.decide(bound, ir.normalize_request(op, path)).effect  # what explain prints
            expected.append(f"{label}-{'ok' if effect == 'allow' else 'denied'}")
        assert seen == expected, (flags, result.stderr)
        if "secrets" in " ".join(flags) or flags == ["--allow-fs-rw", str(repo)]:
            assert "enforced" in result.stderr  # the run names the flag the org rule overrides
    (outside / "new").unlink(missing_ok=True)


def _options(flags: list[str]) -> dict:
    options: dict = {}
    for name, value in zip(flags[::2], flags[1::2]):
        options.setdefault(name.lstrip("-").replace("-", "_"), []).append(value)
    return options
