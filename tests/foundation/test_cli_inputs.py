"""Bad input gets a located, coded diagnostic and exit 2 — never a traceback."""

from __future__ import annotations

import json

import pytest
from helpers import GOLDEN_SOURCES, run_cli

from aw_policy import ir
from aw_policy.merge import compile_sources

BAD = {
    "unknown-keyword": ("p.awp", 'scope project\nfs {\n  alow read "/usr"\n}\n', "AWP003", "p.awp:3:3", "allow"),
    "bad-indentation": ("p.awp.yaml", "scope: project\nfs:\n  - allow: read\n   paths: ['/usr']\n", "AWP010", "p.awp.yaml:4:", "indentation"),
    "unterminated-string": ("p.awp", 'scope project\nfs { allow read "/usr }\n', "AWP002", "p.awp:2:17", "close the string"),
    "unknown-param": ("p.awp", 'scope project\nfs { allow read "${WORKSPAC}/x" }\n', "AWP020", "p.awp:2:17", "WORKSPACE"),
    "enforce-in-user-scope": ("p.awp", 'scope user\nfs { enforce deny read "/x" }\n', "AWP023", "p.awp:2:6", "org"),
    "non-utf8": ("p.awp", b'scope project\nfs { allow read "/caf\xe9" }\n', "AWP004", "p.awp:2:22", "UTF-8"),
    "empty-file": ("p.awp", "", "AWP005", "p.awp:1:1", "empty"),
    "five-mb-file": ("p.awp", "scope project\n" + "# padding\n" * 530_000, "AWP006", "p.awp:1:1", "limit"),
    "unknown-yaml-key": ("p.awp.yaml", "scope: project\nfs:\n  - allow: read\n    pahts: ['/usr']\n", "AWP011", "p.awp.yaml:4:5", "paths"),
    "relative-path": ("p.awp", 'scope project\nfs { allow read "src" }\n', "AWP025", "p.awp:2:17", "absolute"),
    "bad-host": ("p.awp", 'scope project\nnet { allow connect "localhost:99999" }\n', "AWP026", "p.awp:2:21", "1-65535"),
    "unknown-preset": ("p.awp", 'scope project\ninclude "agent-claud"\n', "AWP022", "p.awp:2:9", "agent-claude"),
    "param-without-value": ("p.awp", 'scope project\nparam DATA\nfs { allow read "${DATA}/x" }\n', "AWP020",
                            "p.awp:3:17", "--param"),
    "no-scope": ("p.awp", 'fs { allow read "/usr" }\n', "AWP024", "p.awp:1:1", "scope project"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_is_located_and_exits_2(name, tmp_path, write):
    filename, content, code, where, hint_word = BAD[name]
    write(filename, content)
    result = run_cli("compile", filename, "-o", "out", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert f"[{code}]" in result.stderr
    assert where in result.stderr
    assert hint_word in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_parameter_without_value_is_named_where_used_and_declared(tmp_path, write):
    write("p.awp", 'scope project\nparam DATA\nfs { allow read "${DATA}/x" }\n')
    for args in (("compile", "p.awp", "-o", "out"), ("explain", "p.awp", "read", "/srv/x")):
        result = run_cli(*args, cwd=tmp_path)
        assert result.returncode == 2 and "Traceback" not in result.stderr and "internal error" not in result.stderr
        assert "p.awp:3:17: error[AWP020]: parameter ${DATA} has no value" in result.stderr
        assert "p.awp:2:1: ${DATA} is declared here without a default" in result.stderr
    given = run_cli("explain", "p.awp", "read", "/srv/x", "--param", "DATA=/srv", cwd=tmp_path)
    assert given.returncode == 0 and "ALLOW" in given.stdout


def test_include_cycle_names_the_chain(tmp_path, write):
    write("a.awp", 'scope project\ninclude "b.awp"\n')
    write("b.awp", 'include "c.awp"\n')
    write("c.awp", 'include "a.awp"\n')
    result = run_cli("compile", "a.awp", "-o", "out", cwd=tmp_path)
    assert result.returncode == 2
    assert "[AWP021]" in result.stderr and "c.awp:1:9" in result.stderr
    assert "a.awp -> b.awp -> c.awp -> a.awp" in result.stderr


def test_missing_file_and_usage_errors_exit_2(tmp_path):
    missing = run_cli("compile", "nope.awp", "-o", "out", cwd=tmp_path)
    assert missing.returncode == 2 and "[AWP007]" in missing.stderr and "nope.awp" in missing.stderr
    usage = run_cli("explain", str(GOLDEN_SOURCES[0]), "frobnicate", "/x", cwd=tmp_path)
    assert usage.returncode == 2 and "unknown operation" in usage.stderr
    bad_param = run_cli("compile", str(GOLDEN_SOURCES[0]), "-o", "o", "--param", "nope", cwd=tmp_path)
    assert bad_param.returncode == 2 and "NAME=VALUE" in bad_param.stderr
    for result in (missing, usage, bad_param):
        assert "Traceback" not in result.stderr


def test_several_errors_are_reported_together(tmp_path, write):
    write("p.awp", 'scope user\nfs { enforce deny read "/x" }\nfs { allow read "rel" }\n')
    result = run_cli("compile", "p.awp", "-o", "out", cwd=tmp_path)
    assert "[AWP023]" in result.stderr and "[AWP025]" in result.stderr


def test_explain_json_matches_decide(tmp_path):
    params = {"HOME": "/home/dev", "WORKSPACE": "/home/dev/ws"}
    policy = compile_sources(GOLDEN_SOURCES).policy
    for op, obj in [("read", "/home/dev/.ssh/id_rsa"), ("write", "/home/dev/ws/a.py"), ("write", "/etc/passwd"),
                    ("connect", "api.github.com:443"), ("connect", "localhost:5432"), ("exec", "/usr/bin/git")]:
        args = [str(p) for p in GOLDEN_SOURCES] + [op, obj, "--format", "json"]
        args += [f"--param={k}={v}" for k, v in params.items()]
        result = run_cli("explain", *args)
        assert result.returncode == 0, result.stderr
        shown = json.loads(result.stdout)
        expected = ir.decide(policy, ir.normalize_request(op, obj), params)
        assert shown["effect"] == expected.effect
        assert shown["rule"] == expected.rule.to_json()
        assert shown["beaten"] == [r.to_json() for r in expected.beaten]


def test_explain_text_names_file_line_and_scope():
    result = run_cli("explain", *map(str, GOLDEN_SOURCES), "read", "~/.ssh/id_rsa")
    assert result.returncode == 0
    assert "DENY" in result.stdout
    assert "org" in result.stdout and "org.awp:7:" in result.stdout


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("awpolicy ")
