"""`awpolicy es replay`: a recorded session against its reviewed expected output, and bad input."""

from __future__ import annotations

import json
import shutil

import pytest
from helpers import run_cli

from aw_policy import ir, paths
from aw_policy.backends import es, macos_paths
from aw_policy.ir import Policy

EVENTS = "events.jsonl"
ANSWERS = "answers.jsonl"
EXPECTED = "decisions.jsonl"
#: The golden example's three layers without its presets, so the rule ids in the expected output never move.
SOURCES = ("org.awp", "project.awp", "user.awp.yaml")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, fixtures_dir):
    """The fixture policy copied next to a fresh bundle, so origins read ../src/FILE wherever tmp is."""
    base = tmp_path_factory.mktemp("replay")
    shutil.copytree(fixtures_dir / "policy", base / "src")
    result = run_cli("compile", *(f"src/{name}" for name in SOURCES), "-o", "bundle", cwd=base)
    assert result.returncode == 0, result.stderr
    return base / "bundle"


def replay(bundle, fixtures_dir, *extra, events=None):
    return run_cli("es", "replay", str(bundle), str(events or fixtures_dir / EVENTS), *extra)


def test_recorded_session_matches_its_reviewed_output(bundle, fixtures_dir, tmp_path):
    audit = tmp_path / "audit.jsonl"
    result = replay(bundle, fixtures_dir, "--answers", str(fixtures_dir / ANSWERS), "--audit-log", str(audit))
    assert result.returncode == 0, result.stderr
    assert result.stdout == (fixtures_dir / EXPECTED).read_text(encoding="utf-8")

    by_line = {d["line"]: d for d in map(json.loads, result.stdout.splitlines())}
    # A few decisions spelled out (the reasons they are right are in the policy sources):
    assert by_line[3]["answer"] == "allow"  # exec /usr/bin/git: linux-base allows /usr/bin
    assert by_line[6]["answer"] == "deny"  # open .env read+write: read allowed, write hits **/.env
    assert [r["answer"] for r in by_line[6]["requests"]] == ["allow", "deny"]
    assert by_line[7]["requests"][0]["origin"] == "../src/org.awp:7:27"  # ~/.ssh, org enforce
    assert by_line[9]["answer"] == "deny" and by_line[9]["requests"][1]["object"] == "/home/agent/.bashrc"
    assert by_line[11]["requests"][0]["object"] == "/private/tmp/build/out.o"  # /tmp resolved as macOS does
    assert by_line[12]["rule"] == "r1"  # exec outside every allow: the org's default deny
    assert (by_line[13]["reason"], by_line[14]["reason"], by_line[15]["reason"]) == ("answered", "answered", "approval")
    assert by_line[14]["requests"][0]["coalesced"] is True  # joined the question asked at line 13
    assert (by_line[16]["answer"], by_line[16]["reason"]) == ("deny", "answered")
    assert (by_line[17]["answer"], by_line[17]["reason"]) == ("deny", "deadline")  # answered after 60 s
    assert (by_line[18]["answer"], by_line[18]["reason"]) == ("allow", "approval")  # the late answer, remembered
    assert by_line[23]["answer"] == "deny"  # cloud metadata address: org enforce
    assert by_line[26]["reason"] == "answered"  # a week later the user-scope approval has expired
    assert all(not d["cacheable"] for d in by_line.values() if d["reason"] != "rule")

    # Every request agrees with decide() on the bundle's own IR (macOS-resolved paths).
    policy = Policy.from_json(json.loads((bundle / "policy.json").read_text()))
    canonical = es.canonical_policy(policy)
    for d in by_line.values():
        for r in d["requests"]:
            decision = ir.decide(canonical, ir.Request(r["op"], r["object"]),
                                 macos_paths.canonical_params(paths.resolve_params(policy.param_defaults())))
            assert (decision.rule.id, decision.effect) == (r["rule"], r["effect"])

    summary = json.loads(result.stderr.split("es replay: ", 1)[1])
    assert summary["prompts"] == 7 and summary["coalesced"] == 1 and summary["approval_hits"] == 2

    records = [json.loads(line) for line in audit.read_text().splitlines()]
    logged = {(r["time"], r["object"]) for r in records}
    for d in by_line.values():
        for r in d["requests"]:
            if r["answer"] == "deny" or r["effect"] == "prompt" or r["audit"]:
                assert (d["time"], r["object"]) in logged
    assert len(records) == sum(1 for d in by_line.values() for r in d["requests"]
                               if r["answer"] == "deny" or r["effect"] == "prompt" or r["audit"])


def test_without_answers_every_prompt_is_denied(bundle, fixtures_dir):
    result = replay(bundle, fixtures_dir)
    assert result.returncode == 0, result.stderr
    decisions = [json.loads(line) for line in result.stdout.splitlines()]
    prompted = [d for d in decisions if any(r["effect"] == "prompt" for r in d["requests"])]
    assert len(prompted) == 10
    assert all(d["answer"] == "deny" and d["reason"] == "non-interactive" for d in prompted)


def test_replay_is_deterministic(bundle, fixtures_dir):
    runs = [replay(bundle, fixtures_dir, "--answers", str(fixtures_dir / ANSWERS)).stdout for _ in range(2)]
    assert runs[0] == runs[1] and runs[0]


def test_user_approvals_persist_in_the_state_dir(bundle, fixtures_dir, tmp_path, write):
    events = write("e.jsonl", json.dumps({"event": "ES_EVENT_TYPE_AUTH_OPEN", "time": 1,
                                          "path": "/home/agent/Documents/notes/a.md"}) + "\n")
    answers = write("a.jsonl", '{"path": "/home/agent/Documents", "answer": "allow", "scope": "user"}\n')
    later = write("later.jsonl", json.dumps({"event": "ES_EVENT_TYPE_AUTH_OPEN", "time": 50,
                                             "path": "/home/agent/Documents/notes/b.md"}) + "\n")
    state = tmp_path / "state"
    first = replay(bundle, fixtures_dir, "--answers", str(answers), "--state-dir", str(state), events=events)
    assert json.loads(first.stdout)["reason"] == "answered"
    assert list(state.glob("approvals-user.json"))
    # A later replay with nobody to ask finds the user's answer.
    second = replay(bundle, fixtures_dir, "--state-dir", str(state), events=later)
    assert (json.loads(second.stdout)["answer"], json.loads(second.stdout)["reason"]) == ("allow", "approval")
    # Without the state dir it would have been denied.
    third = replay(bundle, fixtures_dir, events=later)
    assert json.loads(third.stdout)["reason"] == "non-interactive"


BAD_EVENTS = [
    ('{"event": "ES_EVENT_TYPE_AUTH_OPEN", "time": 1, "path": "/x"', 2, "not JSON"),
    ('{"event": "ES_EVENT_TYPE_AUTH_OPEN", "time": 1, "path": "/x", "colour": 1}', 2, "colour: unknown field"),
    ('{"event": "ES_EVENT_TYPE_AUTH_BOGUS", "time": 1, "path": "/x"}', 2, "not an AUTH event"),
    ('{"event": "ES_EVENT_TYPE_AUTH_OPEN", "time": -1, "path": "/x"}', 2, "time:"),
    ('{"event": "ES_EVENT_TYPE_AUTH_OPEN", "time": 1, "path": "relative/x"}', 2, "must be absolute"),
    ('{"event": "ES_EVENT_TYPE_AUTH_RENAME", "time": 1, "path": "/x"}', 2, "destination"),
    ('{"event": "ES_EVENT_TYPE_AUTH_SIGNAL", "time": 1, "target": "everyone"}', 2, "signal target"),
    ('{"event": "NET_CONNECT", "time": 1, "address": "example.com"}', 2, "host:port"),
    ('{"event": "ES_EVENT_TYPE_AUTH_OPEN", "time": 1, "path": "/x", "flags": ["FEXEC"]}', 2, "FEXEC"),
    ('[1, 2]', 2, "JSON object"),
]


@pytest.mark.parametrize("line,lineno,message", BAD_EVENTS, ids=[m for _, _, m in BAD_EVENTS])
def test_a_malformed_event_line_is_a_diagnostic_not_a_traceback(bundle, fixtures_dir, write, line, lineno, message):
    good = '{"event": "ES_EVENT_TYPE_AUTH_EXEC", "time": 0, "path": "/usr/bin/git"}'
    events = write("bad.jsonl", good + "\n" + line + "\n")
    result = replay(bundle, fixtures_dir, events=events)
    assert result.returncode == 2
    assert f"{events}:{lineno}:" in result.stderr and "AWP610" in result.stderr and message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""  # all or nothing: no decision printed before the bad line was found


def test_a_malformed_answer_line_is_a_diagnostic(bundle, fixtures_dir, write):
    answers = write("answers.jsonl", '{"path": "/x", "answer": "maybe"}\n')
    result = replay(bundle, fixtures_dir, "--answers", str(answers))
    assert result.returncode == 2 and f"{answers}:1:1" in result.stderr and "AWP611" in result.stderr


def test_a_tampered_bundle_is_refused(bundle, fixtures_dir, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    table = copy / "es-rules.json"
    table.write_text(table.read_text().replace('"decision": "deny"', '"decision": "allow"'))
    result = replay(copy, fixtures_dir)
    assert result.returncode == 2 and "es-rules.json" in result.stderr and "AWP625" in result.stderr
    assert result.stdout == ""


def test_a_missing_events_file_is_a_diagnostic(bundle, tmp_path, fixtures_dir):
    result = replay(bundle, fixtures_dir, events=tmp_path / "nope.jsonl")
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_an_unwritable_audit_log_is_a_clear_error(bundle, fixtures_dir, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = replay(bundle, fixtures_dir, "--audit-log", str(blocker / "audit.jsonl"))
    assert result.returncode == 2 and "cannot write" in result.stderr and "Traceback" not in result.stderr


def test_answers_may_name_paths_the_way_people_write_them(tmp_path, write):
    """The question is about /private/tmp/...; an answer written for /tmp/... still applies."""
    policy = write("p.awp", 'scope user\nfs { prompt read "/tmp/q" }\n')
    assert run_cli("compile", str(policy), "-o", str(tmp_path / "b")).returncode == 0
    events = write("e.jsonl", '{"event": "ES_EVENT_TYPE_AUTH_OPEN", "time": 1, "path": "/tmp/q/a"}\n')
    answers = write("a.jsonl", '{"path": "/tmp/q", "answer": "allow"}\n')
    result = run_cli("es", "replay", str(tmp_path / "b"), str(events), "--answers", str(answers))
    decision = json.loads(result.stdout)
    assert (decision["answer"], decision["reason"]) == ("allow", "answered")
    assert decision["requests"][0]["object"] == "/private/tmp/q/a"


def test_a_prompted_debugger_attach_is_answered_from_the_script(tmp_path, write):
    write("p.awp", 'scope project\ndebug { prompt same-sandbox }\n')
    assert run_cli("compile", "p.awp", "-o", "b", cwd=tmp_path).returncode == 0
    event = {"event": "ES_EVENT_TYPE_AUTH_GET_TASK", "time": 1, "process": {"pid": 7}}
    events = write("e.jsonl", "\n".join(json.dumps(dict(event, target=t)) for t in ("same-sandbox", "others")) + "\n")
    answers = write("a.jsonl", '{"path": "same-sandbox", "access": "debug", "answer": "allow"}\n')
    result = run_cli("es", "replay", str(tmp_path / "b"), str(events), "--answers", str(answers))
    assert result.returncode == 0, result.stderr
    same, others = map(json.loads, result.stdout.splitlines())
    assert (same["answer"], same["reason"]) == ("allow", "answered")
    assert (others["answer"], others["reason"]) == ("deny", "rule")  # debugging outside: default deny, never asked
