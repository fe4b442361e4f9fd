"""`prompt` rules under `awpolicy run` as root: asked through the socket API, answered, cached, never fail open."""

from __future__ import annotations

import json
import os
import signal
import time

from helpers import run_cli

READ = r"""
import errno, json, sys
out = []
for name in sys.argv[1:]:
    try:
        with open(name) as f:
            out.append(f.read().strip())
    except OSError as e:
        out.append(errno.errorcode.get(e.errno, str(e.errno)))
print(json.dumps(out))
"""


def allow(question):
    return {"answer": "allow", "remember": "session"}


def deny(question):
    return {"answer": "deny", "remember": "session"}


def report(result) -> list:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_an_allowed_prompt_reads_and_the_cached_answer_is_not_asked_again(machine, bundle_with, answerer):
    client = answerer(allow)
    docs = machine.home / "Documents"
    result = machine.py(bundle_with(), READ, docs / "plan.txt", docs / "notes.txt", docs / "plan.txt")
    assert report(result) == ["the plan", "the notes", "the plan"]
    # one question for the directory: the other two opens were answered from the approval cache
    assert len(client.questions) == 1, client.questions
    q = client.questions[0]
    assert q["path"] == str(docs / "plan.txt")
    assert q["subject"] == str(docs)
    assert q["access"] == "read" and q["rule"] == "r150" and q["origin"].endswith("user.awp.yaml:9:13")
    assert q["executable"].startswith("/usr/bin/python3") and q["pid"] > 0
    assert {"type": "closed", "id": q["id"], "answer": "allow", "reason": "answered"} in client.messages
    # the approval is kept for its scope (session: in memory only, nothing persisted)
    assert not list((machine.root / "state").glob("approvals-*.json"))


def test_a_denied_prompt_fails_with_a_permission_error(machine, bundle_with, answerer):
    client = answerer(deny)
    outside = machine.ws / "README"
    outside.write_text("readme\n")
    result = machine.py(bundle_with(), READ, machine.home / "Documents" / "plan.txt", outside)
    assert report(result)[0] in ("EPERM", "EACCES")
    assert report(result)[1] == "readme"  # the workspace is not a prompt path: never asked
    assert len(client.questions) == 1


def test_no_answer_before_the_deadline_is_deny(machine, bundle_with, answerer):
    client = answerer(lambda q: None)  # connected, never answers
    start = time.monotonic()
    result = machine.py(bundle_with(), READ, machine.home / "Documents" / "plan.txt",
                        env={"AWPOLICY_PROMPT_DEADLINE": "1.5"})
    took = time.monotonic() - start
    assert report(result)[0] in ("EPERM", "EACCES")
    assert len(client.questions) == 1
    assert {"type": "closed", "id": client.questions[0]["id"], "answer": "deny", "reason": "deadline"} \
        in client.messages
    assert 1.0 < took < 15  # denied at 80% of the 1.5 s deadline, not after the default 15 s


def test_with_no_client_on_the_socket_the_prompt_is_denied(machine, bundle_with):
    result = machine.py(bundle_with(), READ, machine.home / "Documents" / "plan.txt",
                        env={"AWPOLICY_PROMPT_DEADLINE": "1"})
    assert report(result)[0] in ("EPERM", "EACCES")
    assert not machine.socket.exists()  # the supervisor removed its socket


def test_non_interactive_runs_do_not_supervise_and_deny(machine, bundle_with):
    env = {"AWPOLICY_PROMPT_SOCKET": ""}  # no socket, no terminal (stdin is /dev/null)
    result = machine.run(bundle_with(), "/usr/bin/python3", "-I", "-S", "-c", READ,
                         machine.home / "Documents" / "plan.txt", env=env, opts=("--best-effort", "-v"))
    assert report(result)[0] == "EACCES"  # carved out by Landlock, nobody asked
    assert "prompt rules are denied, nobody to ask" in result.stderr and "r150" in result.stderr


def test_a_write_prompt_asks_for_writes_only(machine, bundle_with, answerer):
    notes = machine.home / "Notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("old\n")
    client = answerer(allow)
    bundle = bundle_with('fs { allow read "~/Notes"; prompt write "~/Notes" }\n')
    code = r"""
import sys
path = sys.argv[1]
print(open(path).read().strip())          # read: allowed by rule, never asked
with open(path, "a") as f:                # write: asked
    f.write("new\n")
print(open(path).read().split())
"""
    result = machine.py(bundle, code, notes / "todo.txt")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == "old"
    assert [q["access"] for q in client.questions] == ["write"]
    assert (notes / "todo.txt").read_text() == "old\nnew\n"


def test_the_sandbox_cannot_answer_its_own_question(machine, bundle_with):
    # The command itself connects to the socket (it lies in TMPDIR, which it may write) and says allow.
    code = r"""
import json, os, socket, sys, threading, errno
sock_path, target = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX)
s.connect(sock_path)
first = json.loads(s.makefile("rb").readline())
try:
    open(target).read()
    result = "read"
except OSError as e:
    result = errno.errorcode[e.errno]
print(json.dumps([first["type"], first.get("message", ""), result]))
"""
    result = machine.py(bundle_with(), code, machine.socket, machine.home / "Documents" / "plan.txt",
                        env={"AWPOLICY_PROMPT_DEADLINE": "1"})
    kind, message, outcome = report(result)
    assert kind == "error" and "cannot answer its own questions" in message
    assert outcome in ("EPERM", "EACCES")


def test_killing_the_supervisor_ends_the_session_and_nothing_is_let_through(machine, bundle_with, answerer):
    client = answerer(allow)
    marker = machine.root / "second-read"
    code = r"""
import sys, time
first, marker = sys.argv[1], sys.argv[2]
print(open(first).read().strip(), flush=True)
time.sleep(1.5)                         # the supervisor is killed meanwhile
data = open(first).read()               # blocks: nobody answers; the session is ended
open(marker, "w").write(data)           # never reached
print("second read", flush=True)
"""

    def kill_supervisor():
        assert client.hello is not None
        os.kill(client.hello["supervisor_pid"], signal.SIGKILL)

    import threading

    killer = threading.Timer(0.9, kill_supervisor)
    # the first read is asked and answered, then the supervisor dies while the command sleeps
    killer.start()
    result = machine.py(bundle_with(), code, machine.home / "Documents" / "plan.txt", marker)
    killer.join()
    assert result.stdout.strip() == "the plan"
    assert result.returncode == 128 + signal.SIGKILL
    assert "error[AWP634]" in result.stderr and "prompt supervisor" in result.stderr \
        and "was killed by SIGKILL" in result.stderr and "session was ended" in result.stderr
    assert not marker.exists()
    assert not machine.socket.exists()  # the launcher removed what the killed supervisor left


def test_supervisor_decisions_are_in_the_audit_log_and_summarized(machine, bundle_with, answerer):
    answers = iter([allow, deny])
    client = answerer(lambda q: next(answers)(q))
    other = machine.home / "Documents" / "sub"
    other.mkdir()
    (other / "x.txt").write_text("x\n")
    # an answer covers its directory and below: the deeper one first, so both are asked
    result = machine.py(bundle_with(), READ, other / "x.txt", machine.home / "Documents" / "plan.txt")
    assert report(result)[0] == "x" and report(result)[1] in ("EPERM", "EACCES")
    assert len(client.questions) == 2
    records = [r for r in machine.audit_records() if r["rule"] == "r150"]
    assert [(r["answer"], r["reason"], r["object"]) for r in records] == [
        ("allow", "answered", str(other / "x.txt")),
        ("deny", "answered", str(machine.home / "Documents" / "plan.txt")),
    ]
    summary = run_cli("audit", str(machine.audit), "--format", "json")
    assert summary.returncode == 0, summary.stderr
    rules = {r["rule"]: r for r in json.loads(summary.stdout)["rules"]}
    assert (rules["r150"]["allowed"], rules["r150"]["denied"], rules["r150"]["asked"]) == (1, 1, 2)


def test_a_bad_deadline_setting_is_refused_before_anything_runs(machine, bundle_with):
    result = machine.run(bundle_with(), "/bin/echo", "RAN", env={"AWPOLICY_PROMPT_DEADLINE": "soon"})
    assert result.returncode == 2 and "RAN" not in result.stdout
    assert "AWPOLICY_PROMPT_DEADLINE='soon'" in result.stderr and "seconds" in result.stderr
