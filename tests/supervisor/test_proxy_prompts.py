"""`prompt connect` asks through the supervisor's prompter; every proxy decision lands in the audit log."""

from __future__ import annotations

import http.server
import json
import threading

import pytest
from helpers import run_cli
from http_helpers import hello_handler

FETCH = r"""
import json, sys, urllib.request, urllib.error
port = int(sys.argv[1])
out = []
for host in sys.argv[2:]:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/hi", timeout=20) as r:
            out.append(f"{r.status} {r.read().decode()}")
    except urllib.error.HTTPError as e:
        out.append(str(e.code))
    except OSError as e:
        out.append(e.__class__.__name__)
print(json.dumps(out))
"""


_Hello = hello_handler(lambda h: f"hello from {h.server.server_address[0]}")


@pytest.fixture
def port():
    """One port, served on 127.0.0.2 and 127.0.0.3 (hosts the sandbox reaches only through the proxy)."""
    first = http.server.ThreadingHTTPServer(("127.0.0.2", 0), _Hello)
    number = first.server_address[1]
    second = http.server.ThreadingHTTPServer(("127.0.0.3", number), _Hello)
    for server in (first, second):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield number
    for server in (first, second):
        server.shutdown()
        server.server_close()


def test_prompt_connect_is_asked_and_every_decision_is_audited(machine, bundle_with, answerer, port):
    bundle = bundle_with(f'net {{ prompt connect "127.0.0.2:{port}"; prompt connect "127.0.0.3:{port}" }}\n')
    by_host = {"127.0.0.2": "allow", "127.0.0.3": "deny"}
    client = answerer(lambda q: {"answer": by_host[q["path"].split(":")[0]], "remember": "session"})
    result = machine.py(bundle, FETCH, port, "127.0.0.2", "127.0.0.3", "127.0.0.2", "127.0.0.4")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out == ["200 hello from 127.0.0.2", "403", "200 hello from 127.0.0.2", "403"]
    # asked once per host: the second 127.0.0.2 request was answered from the session's approval
    assert sorted((q["path"], q["access"]) for q in client.questions) == [
        (f"127.0.0.2:{port}", "connect"), (f"127.0.0.3:{port}", "connect")]

    records = [r for r in machine.audit_records() if r["op"] == "connect"]
    seen = sorted((r["object"], r["answer"], r["effect"], r["reason"]) for r in records)
    assert seen == sorted([
        (f"127.0.0.2:{port}", "allow", "prompt", "answered"),
        (f"127.0.0.3:{port}", "deny", "prompt", "answered"),
        (f"127.0.0.2:{port}", "allow", "prompt", "approval"),
        (f"127.0.0.4:{port}", "deny", "deny", "rule"),  # no rule names it: the default, from the proxy
    ])
    summary = run_cli("audit", str(machine.audit), "--format", "json")
    assert summary.returncode == 0, summary.stderr
    doc = json.loads(summary.stdout)
    assert doc["records"] == len(machine.audit_records())
    asked = {r["rule"]: (r["allowed"], r["denied"], r["asked"]) for r in doc["rules"] if r["asked"]}
    assert sorted(asked.values()) == [(0, 1, 1), (2, 0, 2)]
    default = [r for r in doc["rules"] if not r["asked"] and r["denied"]]
    assert default and any(f"127.0.0.4:{port}" in e for r in default for e in r["examples"])


def test_without_anyone_to_ask_prompt_connect_is_refused(machine, bundle_with, port):
    bundle = bundle_with(f'net {{ prompt connect "127.0.0.2:{port}"; allow connect "127.0.0.3:{port}" }}\n')
    result = machine.py(bundle, FETCH, port, "127.0.0.3", "127.0.0.2", env={"AWPOLICY_PROMPT_SOCKET": ""})
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out == ["200 hello from 127.0.0.3", "403"]
    records = {r["object"]: r for r in machine.audit_records()}
    assert records[f"127.0.0.2:{port}"]["reason"] == "non-interactive"
    assert records[f"127.0.0.2:{port}"]["answer"] == "deny"
    assert records[f"127.0.0.3:{port}"]["answer"] == "allow"
