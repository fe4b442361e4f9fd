"""Domain rules under `awpolicy run`: the proxy outside, the relay inside, nothing else out."""

from __future__ import annotations

import http.server
import json
import threading

import pytest
from http_helpers import hello_handler

ORIGIN_HOST = "127.0.0.2"  # not localhost: on the host, reachable only through the proxy

INSIDE = r"""
import json, os, socket, sys, urllib.request, urllib.error
port = int(sys.argv[1])
out = {"proxy_env": os.environ.get("HTTP_PROXY")}
def fetch(host):
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/hello", timeout=10) as r:
            return f"{r.status} {r.read().decode()}"
    except urllib.error.HTTPError as e:
        return str(e.code)
    except OSError as e:
        return e.__class__.__name__
out["allowed"] = fetch("127.0.0.2")
out["denied"] = fetch("127.0.0.3")
try:
    socket.create_connection(("127.0.0.2", port), timeout=3)
    out["direct"] = "connected"
except OSError as e:
    out["direct"] = e.__class__.__name__
try:
    socket.getaddrinfo("example.com", 80)
    out["dns"] = "resolved"
except OSError:
    out["dns"] = "failed"
print(json.dumps(out))
"""


_Hello = hello_handler(lambda h: f"hello {h.path}")


@pytest.fixture
def origin():
    server = http.server.ThreadingHTTPServer((ORIGIN_HOST, 0), _Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_an_allowed_host_is_reached_through_the_proxy_and_nothing_else_is(machine, extra_bundle, origin):
    bundle = extra_bundle(f'net {{ allow connect "{ORIGIN_HOST}:{origin}" }}\n')
    plan = json.loads((bundle / "linux.json").read_text())
    assert [e["rule"] for e in plan["network"]["proxy"]]  # the rule went to the proxy, not to "unenforced"
    result = machine.py(bundle, INSIDE, str(origin), opts=("--best-effort", "--discard-branch"))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["proxy_env"] == "http://127.0.0.1:3128"
    assert report["allowed"] == "200 hello /hello"
    assert report["denied"] == "403"
    assert report["direct"] in ("OSError", "PermissionError", "ConnectionRefusedError")  # only the relay is reachable
    assert report["dns"] == "failed"
