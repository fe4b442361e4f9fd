"""`awpolicy skills run`: really sandboxed, the contract in the environment, the --json envelope.

Every run is a real sandboxed launch (`python -m aw_policy skills run ...` in a
subprocess). The probe skill is a Python script run by the system interpreter
(under /usr, which linux-base lets run); its first argument says what to do.
"""

from __future__ import annotations

import json
import sys

import pytest
from agent_helpers import SANDBOX_PYTHON, needs_sandbox
from helpers import REPO, run_cli

pytestmark = needs_sandbox

PROBE = r'''
import json, os, sys
op, args = sys.argv[1], sys.argv[2:]
result = os.environ["AWPOLICY_RESULT_PATH"]
if op == "env":
    with open(result, "w") as fh:
        json.dump({"env": dict(os.environ), "cwd": os.getcwd(), "argv": sys.argv[1:],
                   "result_existed": False}, fh)
    print("hello out")
    print("hello err", file=sys.stderr)
elif op == "exit":
    print("failing")
    sys.exit(int(args[0]))
elif op == "big":
    sys.stdout.write("x" * int(args[0]))
    sys.stderr.write("y" * int(args[1]))
elif op == "raw-result":
    with open(result, "w") as fh:
        fh.write(args[0])
elif op == "write":
    try:
        with open(args[0], "w") as fh:
            fh.write("escaped")
    except OSError as exc:
        print("denied", exc.errno)
        sys.exit(13)
    print("wrote")
'''


@pytest.fixture
def probe(skill):
    return skill("probe", {"name": "probe", "description": "test probe",
                           "command": [SANDBOX_PYTHON, "${SKILL_DIR}/probe.py"],
                           "env": {"MY_TOKEN": "from-manifest", "WHERE": "${WORKTREE}/x"}},
                 files={"probe.py": PROBE})


def skills_run(repo, *args, env=None):
    return run_cli("skills", "run", *args, cwd=repo, env=env)


def envelope_of(result, schema) -> dict:
    data = json.loads(result.stdout)
    schema.validate(data)
    return data


def test_plain_run_passes_output_through_and_exits_with_the_skills_code(repo, probe, policy_bundle):
    result = skills_run(repo, "probe", "--bundle", str(policy_bundle), "--", "exit", "7")
    assert result.returncode == 7, result.stderr
    assert result.stdout == "failing\n"


def test_json_success_envelope_carries_output_contract_and_result(repo, probe, policy_bundle, envelope_schema):
    result = skills_run(repo, "probe", "--bundle", str(policy_bundle), "--json", "--", "env", "a b", "--c",
                        env={"GITHUB_TOKEN": "host-secret"})
    assert result.returncode == 0, result.stderr
    data = envelope_of(result, envelope_schema)
    assert data["ok"] is True and data["exit_code"] == 0 and data["error"] is None
    assert data["sandbox"] == "launched" and data["bundle"] == str(policy_bundle)
    assert data["skill"] == {"name": "probe", "scope": "committed", "dir": str(probe),
                             "manifest": str(probe / "skill.json")}
    assert data["worktree"] == str(repo) and data["args"] == ["env", "a b", "--c"]
    assert data["command"] == [SANDBOX_PYTHON, f"{probe}/probe.py", "env", "a b", "--c"]
    assert data["stdout"] == {"text": "hello out\n", "bytes": 10, "truncated": False}
    assert data["stderr"] == {"text": "hello err\n", "bytes": 10, "truncated": False}

    seen = data["result"]
    assert seen["present"] is True and seen["error"] is None and seen["format"] == "json"
    assert seen["path"] == f"{repo}/.awpolicy/skill-results/{data['session']}.json"
    assert seen["value"]["argv"] == ["env", "a b", "--c"] and seen["value"]["cwd"] == str(probe)
    env = seen["value"]["env"]
    assert {k: v for k, v in env.items() if k.startswith("AWPOLICY_")} == {
        "AWPOLICY_SKILL_CONTRACT": "1", "AWPOLICY_WORKTREE": str(repo), "AWPOLICY_SKILL": "probe",
        "AWPOLICY_SKILL_SCOPE": "committed", "AWPOLICY_SKILL_DIR": str(probe), "AWPOLICY_SESSION": data["session"],
        "AWPOLICY_SKILL_ARGS_JSON": json.dumps(["env", "a b", "--c"]), "AWPOLICY_RESULT_PATH": seen["path"],
        "AWPOLICY_RESULT_FORMAT": "json", "AWPOLICY_SANDBOX": "1"}
    assert env["MY_TOKEN"] == "from-manifest" and env["WHERE"] == f"{repo}/x"  # the manifest's own env
    assert "GITHUB_TOKEN" not in env  # the caller's credentials are still filtered out
    assert not (repo / ".awpolicy" / "skill-results" / f"{data['session']}.json").exists()  # carried, removed


def test_json_failure_envelope_and_exit_code(repo, probe, policy_bundle, envelope_schema):
    result = skills_run(repo, "probe", "--bundle", str(policy_bundle), "--json", "--", "exit", "3")
    assert result.returncode == 3
    data = envelope_of(result, envelope_schema)
    assert (data["ok"], data["exit_code"], data["error"]) == (False, 3, None)
    assert data["stdout"]["text"] == "failing\n"
    assert data["result"]["present"] is False and data["result"]["value"] is None


def test_a_result_that_is_not_json_is_reported_not_fatal(repo, probe, policy_bundle, envelope_schema):
    result = skills_run(repo, "probe", "--bundle", str(policy_bundle), "--json", "--", "raw-result", "{oops")
    data = envelope_of(result, envelope_schema)
    assert result.returncode == 0 and data["ok"] is True
    assert data["result"]["present"] is True and data["result"]["value"] is None
    assert data["result"]["error"].startswith("the result file is not JSON: ")


def test_result_option_keeps_the_file_where_asked(repo, probe, policy_bundle, envelope_schema):
    result = skills_run(repo, "probe", "--bundle", str(policy_bundle), "--json", "--result", "out/r.json", "--",
                        "raw-result", '{"n": 1}')
    data = envelope_of(result, envelope_schema)
    assert data["result"]["value"] == {"n": 1} and data["result"]["path"] == str(repo / "out" / "r.json")
    assert json.loads((repo / "out" / "r.json").read_text()) == {"n": 1}
    bad = skills_run(repo, "probe", "--bundle", str(policy_bundle), "--result", "../elsewhere.json", "--", "env")
    assert bad.returncode == 2 and "not a file inside the worktree" in bad.stderr


def test_output_beyond_the_cap_is_counted_and_flagged(repo, probe, policy_bundle, envelope_schema):
    result = skills_run(repo, "probe", "--bundle", str(policy_bundle), "--json", "--max-output", "100", "--",
                        "big", "200000", "30")
    data = envelope_of(result, envelope_schema)
    assert data["stdout"] == {"text": "x" * 100, "bytes": 200000, "truncated": True}
    assert data["stderr"] == {"text": "y" * 30, "bytes": 30, "truncated": False}


def test_malformed_manifest_gives_a_located_error_and_exit_2(repo, skill, policy_bundle, envelope_schema):
    skill("broken", '{\n  "name": "broken",\n  "description": "x",\n  "command": "make"\n}\n')
    result = skills_run(repo, "broken", "--bundle", str(policy_bundle), "--json")
    assert result.returncode == 2
    data = envelope_of(result, envelope_schema)
    assert data["ok"] is False and data["exit_code"] == 2 and data["skill"] is None and data["sandbox"] is None
    [diag] = data["error"]["diagnostics"]
    assert diag["code"] == "AWP041" and diag["message"] == "command must be an array, not a string"
    assert (diag["span"]["line"], diag["span"]["col"]) == (4, 14)
    assert diag["span"]["file"] == str(repo / "skills" / "broken" / "skill.json")
    assert "skill.json:4:14: error[AWP041]" in result.stderr  # for the human too

    plain = skills_run(repo, "broken", "--bundle", str(policy_bundle))
    assert plain.returncode == 2 and plain.stdout == ""
    assert "skills/broken/skill.json:4:14: error[AWP041]: command must be an array" in plain.stderr


def test_the_skill_is_sandboxed_it_cannot_write_outside_the_worktree(repo, probe, policy_bundle, tmp_path):
    outside = tmp_path / "outside.txt"
    denied = skills_run(repo, "probe", "--bundle", str(policy_bundle), "--", "write", str(outside))
    assert denied.returncode == 13 and denied.stdout.startswith("denied"), denied.stdout + denied.stderr
    assert not outside.exists()
    allowed = skills_run(repo, "probe", "--bundle", str(policy_bundle), "--", "write", str(repo / "inside.txt"))
    assert allowed.returncode == 0 and (repo / "inside.txt").read_text() == "escaped"


def test_the_default_bundle_sandboxes_too(repo, probe, tmp_path, envelope_schema):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "TMPDIR": str(tmpdir), "AWPOLICY_BUNDLE": ""}
    outside = tmp_path / "outside.txt"
    result = skills_run(repo, "probe", "--json", "--", "write", str(outside), env=env)
    data = envelope_of(result, envelope_schema)
    assert result.returncode == 13 and data["bundle"].startswith(str(tmp_path / "cache" / "awpolicy" / "bundles"))
    assert not outside.exists()


def test_a_missing_bundle_refuses_to_start(repo, probe, tmp_path, envelope_schema):
    result = skills_run(repo, "probe", "--bundle", str(tmp_path / "nope"), "--json", "--", "env")
    data = envelope_of(result, envelope_schema)
    assert result.returncode == 2 and data["ok"] is False and "no such directory" in data["error"]["message"]
    assert data["sandbox"] is None and data["stdout"]["bytes"] == 0


def test_a_policy_setting_beats_the_manifest_env(repo, skill, tmp_path, envelope_schema):
    base = tmp_path / "envpolicy"
    base.mkdir()
    (base / "p.awp").write_text('scope project\ninclude "linux-base"\nfs { allow read,write "${WORKSPACE}" }\n'
                                'env { SKILL_VAR = "from-policy" }\n')
    assert run_cli("compile", str(base / "p.awp"), "-o", str(base / "b")).returncode == 0
    skill("show", {"name": "show", "description": "prints SKILL_VAR",
                   "command": ["/bin/sh", "-c", 'printf %s "$SKILL_VAR"'], "env": {"SKILL_VAR": "from-manifest"}})
    result = skills_run(repo, "show", "--bundle", str(base / "b"), "--json")
    data = envelope_of(result, envelope_schema)
    assert data["stdout"]["text"] == "from-policy"
    assert "env.SKILL_VAR of" in data["runtime"] and "ignored: the policy sets it" in data["runtime"]


def test_inside_a_sandbox_the_skill_runs_directly_and_stays_confined(repo, probe, tmp_path, envelope_schema):
    """`awpolicy run BUNDLE -- awpolicy skills run ...`: the inner run sees the launcher's marker and the
    kernel's no_new_privs, so it does not nest a sandbox; the outer one still confines the skill."""
    base = tmp_path / "outer"
    base.mkdir()
    runtime = f'"{sys.base_prefix}" "{sys.prefix}" "{REPO}"'
    (base / "p.awp").write_text('scope project\ninclude "linux-base"\n'
                                f'fs {{ allow read,write "${{WORKSPACE}}"; allow read,exec {runtime} }}\n'
                                f'exec {{ allow {runtime} }}\n')
    compiled = run_cli("compile", str(base / "p.awp"), "-o", str(base / "b"))
    assert compiled.returncode == 0, compiled.stderr
    outside = tmp_path / "outside.txt"
    result = run_cli("run", str(base / "b"), "--", sys.executable, "-m", "aw_policy", "skills", "run", "probe",
                     "--json", "--", "write", str(outside), cwd=repo)
    assert result.returncode == 13, result.stdout + result.stderr
    data = envelope_of(result, envelope_schema)
    assert data["sandbox"] == "inherited" and data["bundle"] is None
    assert data["stdout"]["text"].startswith("denied")
    assert not outside.exists()


def test_the_marker_alone_is_not_trusted(repo, probe, policy_bundle, tmp_path):
    """AWPOLICY_SANDBOX=1 outside any sandbox: refused, never run unsandboxed."""
    outside = tmp_path / "outside.txt"
    result = skills_run(repo, "probe", "--bundle", str(policy_bundle), "--", "write", str(outside),
                        env={"AWPOLICY_SANDBOX": "1"})
    assert result.returncode == 2 and "is not sandboxed" in result.stderr
    assert not outside.exists()


def test_a_skill_made_by_init_runs_and_reports_its_result(repo, policy_bundle, envelope_schema):
    made = run_cli("skills", "init", "hello", "--local", cwd=repo)
    assert made.returncode == 0, made.stderr
    result = skills_run(repo, "hello", "--bundle", str(policy_bundle), "--json", "--", "one", 'two "2"')
    data = envelope_of(result, envelope_schema)
    assert result.returncode == 0 and data["ok"], data
    directory = repo / ".awpolicy" / "skills" / "hello"
    assert data["skill"]["scope"] == "local"
    assert data["stdout"]["text"].startswith(f"hello from {directory}: skill hello, session {data['session']}, "
                                             "2 argument(s)")
    assert data["result"]["value"] == {"skill": "hello", "args": ["one", 'two "2"']}


def test_a_skill_killed_by_a_signal_exits_128_plus_n(repo, skill, policy_bundle, envelope_schema):
    skill("die", {"name": "die", "description": "kills itself", "command": ["/bin/sh", "-c", "kill -TERM $$"]})
    assert skills_run(repo, "die", "--bundle", str(policy_bundle)).returncode == 143
    result = skills_run(repo, "die", "--bundle", str(policy_bundle), "--json")
    assert result.returncode == 143 and envelope_of(result, envelope_schema)["exit_code"] == 143
