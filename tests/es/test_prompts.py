"""Prompts in the engine: approvals cache (TTL, scope, persistence), coalescing, no-one-to-ask and deadlines."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from aw_runtime.approvals import Approval, ApprovalStore
from aw_runtime.engine import Engine, Event, Process, Reply
from helpers import policy_from_texts

POLICY = [
    ("project", 'fs { allow read "${WORKSPACE}"; prompt read "${WORKSPACE}/secrets"; prompt write literal "${WORKSPACE}/out.txt" }'),
    ("user", 'fs { prompt read "~/Documents" }'),
]
DOCS = "/home/agent/Documents"


class Person:
    """A prompter that records every question and answers from a fixed reply (or never)."""

    def __init__(self, reply: Reply | None):
        self.reply = reply
        self.questions = []

    def ask(self, question, budget):
        self.questions.append((question, budget))
        return self.reply


def read(path: str, t: float, deadline: float | None = 10.0, pid: int = 7) -> Event:
    return Event("ES_EVENT_TYPE_AUTH_OPEN", t, Process(pid, "/usr/bin/cat"), path=path, flags=("FREAD",),
                 deadline=deadline)


@pytest.fixture
def table(es_table):
    return es_table(policy_from_texts(*POLICY))


def one(engine: Engine, event: Event):
    (verdict,) = engine.decide(event)
    return verdict


def test_non_interactive_prompt_is_denied_and_counted(table):
    engine = Engine(table)  # no prompter: nobody to ask
    v = one(engine, read(f"{DOCS}/a.txt", 1))
    assert (v.effect, v.answer, v.reason) == ("prompt", "deny", "non-interactive")
    assert table["defaults"]["non_interactive"] == "deny"
    assert engine.counters.non_interactive_denials == 1 and engine.counters.prompts == 0
    # An allow rule is unaffected by the absence of a prompter.
    assert one(engine, read("/home/agent/workspace/x", 1)).answer == "allow"


def test_answer_in_time_allows_and_is_remembered_until_the_ttl(table):
    person = Person(Reply("allow", "session", after=1.0))
    engine = Engine(table, prompter=person)
    v = one(engine, read(f"{DOCS}/notes/a.md", 100))
    assert (v.answer, v.reason) == ("allow", "answered")
    assert person.questions[0][1] == pytest.approx(10.0 * table["defaults"]["deadline_fraction"])
    # After the answer arrived (t=101) it is an approval: no new question.
    v = one(engine, read(f"{DOCS}/notes/b.md", 102))
    assert (v.answer, v.reason) == ("allow", "approval")
    ttl = table["approvals"]["ttl_seconds"]["session"]
    v = one(engine, read(f"{DOCS}/notes/c.md", 101 + ttl - 1))
    assert v.reason == "approval"
    v = one(engine, read(f"{DOCS}/notes/d.md", 101 + ttl + 1))  # expired: asked again
    assert v.reason == "answered"
    assert len(person.questions) == 2
    assert engine.counters.approval_hits == 2


def test_an_approval_covers_its_directory_only(table):
    person = Person(Reply("allow", "session", after=0.5))
    engine = Engine(table, prompter=person)
    one(engine, read(f"{DOCS}/taxes/2025.pdf", 1))
    assert one(engine, read(f"{DOCS}/taxes/sub/x", 5)).reason == "approval"  # below the directory
    assert one(engine, read(f"{DOCS}/photos/y", 5)).reason == "answered"  # a sibling: its own question
    assert [q.subject for q, _ in person.questions] == [f"{DOCS}/taxes", f"{DOCS}/photos"]


def test_literal_prompt_rules_ask_about_the_path_itself(table):
    person = Person(Reply("deny", "session", after=0.1))
    engine = Engine(table, prompter=person)
    (v,) = engine.decide(Event("ES_EVENT_TYPE_AUTH_CREATE", 1, path="/home/agent/workspace/out.txt"))
    assert (v.answer, v.reason) == ("deny", "answered")
    assert person.questions[0][0].subject == "/home/agent/workspace/out.txt"


def test_many_events_under_one_directory_make_one_question(table):
    person = Person(Reply("allow", "session", after=3.0))
    engine = Engine(table, prompter=person)
    verdicts = [one(engine, read(f"{DOCS}/project/file{i}.txt", 10 + i * 0.1)) for i in range(20)]
    assert len(person.questions) == 1
    assert engine.counters.prompts == 1 and engine.counters.coalesced == 19
    assert all(v.answer == "allow" for v in verdicts)
    assert [v.coalesced for v in verdicts] == [False] + [True] * 19


def test_late_answer_denies_on_deadline_but_is_remembered(table):
    person = Person(Reply("allow", "session", after=60.0))
    engine = Engine(table, prompter=person)
    v = one(engine, read(f"{DOCS}/slow/x", 0, deadline=10))
    assert (v.answer, v.reason) == ("deny", "deadline")
    assert table["defaults"]["on_deadline"] == "deny"
    assert one(engine, read(f"{DOCS}/slow/y", 30, deadline=10)).reason == "deadline"  # still pending: joins it
    v = one(engine, read(f"{DOCS}/slow/z", 61, deadline=10))  # the answer came at t=60
    assert (v.answer, v.reason) == ("allow", "approval")
    assert len(person.questions) == 1 and engine.counters.deadline_denials == 2


def test_nobody_answering_is_a_deny(table):
    engine = Engine(table, prompter=Person(None))
    assert one(engine, read(f"{DOCS}/a", 0)).answer == "deny"


def test_denials_are_remembered_too(table):
    person = Person(Reply("deny", "session", after=0.0))
    engine = Engine(table, prompter=person)
    assert one(engine, read(f"{DOCS}/a", 0)).answer == "deny"
    v = one(engine, read(f"{DOCS}/b", 1))
    assert (v.answer, v.reason) == ("deny", "approval")


def test_scopes_decide_who_sees_an_approval(table, tmp_path):
    state = tmp_path / "state"
    person = Person(Reply("allow", "project", after=0.0))
    engine = Engine(table, {"WORKSPACE": "/home/agent/proj-a"}, prompter=person,
                    approvals=ApprovalStore(state, project="/home/agent/proj-a"))
    one(engine, read(f"{DOCS}/x/1", 0))
    one(engine, read("/tmp/nothing", 1))  # any later event lets the arrived answer be stored
    files = sorted(p.name for p in state.iterdir() if not p.name.endswith(".lock"))
    assert len(files) == 1 and files[0].startswith("approvals-project-")
    assert (state / files[0]).stat().st_mode & 0o777 == 0o600  # answers are private to the user
    saved = json.loads((state / files[0]).read_text())
    assert saved["project"] == "/home/agent/proj-a" and saved["approvals"][0]["answer"] == "allow"

    # The same project in a new session (a new engine) sees it; another project does not.
    same = Engine(table, {"WORKSPACE": "/home/agent/proj-a"}, prompter=Person(None),
                  approvals=ApprovalStore(state, project="/home/agent/proj-a"))
    assert one(same, read(f"{DOCS}/x/2", 5)).reason == "approval"
    other = Engine(table, {"WORKSPACE": "/home/agent/proj-b"}, prompter=Person(None),
                   approvals=ApprovalStore(state, project="/home/agent/proj-b"))
    assert one(other, read(f"{DOCS}/x/2", 5)).answer == "deny"

    # A session answer is never written down.
    session = Engine(table, prompter=Person(Reply("allow", "session", after=0.0)),
                     approvals=ApprovalStore(state, project="/home/agent/proj-c"))
    one(session, read(f"{DOCS}/y/1", 0))
    one(session, read("/tmp/nothing", 1))
    assert sorted(p.name for p in state.iterdir() if not p.name.endswith(".lock")) == files

    # A user answer reaches every project.
    user = Engine(table, prompter=Person(Reply("allow", "user", after=0.0)),
                  approvals=ApprovalStore(state, project="/home/agent/proj-d"))
    one(user, read(f"{DOCS}/z/1", 0))
    one(user, read("/tmp/nothing", 1))
    elsewhere = Engine(table, prompter=Person(None), approvals=ApprovalStore(state, project="/elsewhere"))
    assert one(elsewhere, read(f"{DOCS}/z/2", 2)).reason == "approval"


def test_persisted_approvals_expire_and_are_dropped(tmp_path):
    store = ApprovalStore(tmp_path, project="/p")
    store.remember(Approval("f1", "read", "/d", "allow", "user", expires=100.0), now=0.0)
    store.remember(Approval("f2", "read", "/e", "allow", "user", expires=500.0), now=200.0)  # f1 expired by now
    saved = json.loads((tmp_path / "approvals-user.json").read_text())
    assert [a["fingerprint"] for a in saved["approvals"]] == ["f2"]
    fresh = ApprovalStore(tmp_path, project="/p")
    assert fresh.lookup("f2", "read", "/e/x", now=499.0) is not None
    assert fresh.lookup("f2", "read", "/e/x", now=500.0) is None


def test_a_damaged_state_file_grants_nothing(tmp_path, table):
    (tmp_path / "approvals-user.json").write_text('{"format": "awpolicy.approvals/1", "approvals": [{"oops": 1}]}')
    store = ApprovalStore(tmp_path, project="/p")
    assert store.ignored_files == [str(tmp_path / "approvals-user.json")]
    engine = Engine(table, approvals=store)
    assert one(engine, read(f"{DOCS}/a", 0)).answer == "deny"


def test_approvals_are_keyed_by_rule_meaning(es_table):
    """Editing the prompt rule invalidates its approvals; an unrelated edit does not."""
    base = es_table(policy_from_texts(*POLICY))
    edited = es_table(policy_from_texts(POLICY[0], ("user", 'fs { prompt read "~/Documents/work" }')))
    unrelated = es_table(policy_from_texts(("project", POLICY[0][1] + '\nfs { allow read "/opt" }'), POLICY[1]))

    def fingerprint(table, pattern):
        return next(e["fingerprint"] for e in table["files"] if e["path"]["pattern"] == pattern)

    assert fingerprint(base, "${HOME}/Documents") == fingerprint(unrelated, "${HOME}/Documents")
    assert fingerprint(base, "${HOME}/Documents") != fingerprint(edited, "${HOME}/Documents/work")


WRITER = """
import sys
from aw_runtime.approvals import Approval, ApprovalStore
state, writer = sys.argv[1], sys.argv[2]
store = ApprovalStore(state, project="/p")
for i in range(25):
    store.remember(Approval(f"{writer}-{i}", "read", "/d", "allow", "user", expires=1e12), now=0.0)
"""


def test_engines_in_several_processes_lose_no_persisted_approval(tmp_path):
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), f"w{n}"]) for n in range(4)]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    saved = json.loads((tmp_path / "approvals-user.json").read_text())
    assert sorted(a["fingerprint"] for a in saved["approvals"]) == sorted(
        f"w{n}-{i}" for n in range(4) for i in range(25))
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]  # no temporary file left behind
