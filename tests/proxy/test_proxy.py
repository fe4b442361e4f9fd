"""The domain proxy against a real local HTTP server, with names mapped to it by the dialer."""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import pytest
from aw_runtime.proxy import DomainProxy, ProxyDecision, policy_check, proxy_environment, relay
from helpers import REPO, policy_from_texts
from http_helpers import hello_handler

from aw_policy import ir

POLICY = """
default deny
net {
  allow connect "*.allowed.test:*"
  allow connect "api.example.test:80"
  deny connect "evil.allowed.test:*"
  prompt connect "ask.example.test:80"
}
"""


_Hello = hello_handler(lambda h: f"hello {h.headers.get('Host')} {h.path}")


@pytest.fixture(scope="module")
def origin():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def make_proxy(origin_port: int, decisions: list, ask=None) -> DomainProxy:
    bound = ir.bind(policy_from_texts(("project", POLICY)), {})

    def dial(host: str, port: int) -> socket.socket:  # every name resolves to the local origin
        return socket.create_connection(("127.0.0.1", origin_port), timeout=5)

    return DomainProxy(policy_check(bound), ask=ask, dial=dial, on_decision=decisions.append)


def fetch(proxy_port: int, url: str) -> tuple[int, str]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": f"http://127.0.0.1:{proxy_port}"}))
    try:
        with opener.open(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def connect_tunnel(proxy_port: int, authority: str) -> tuple[bytes, socket.socket]:
    sock = socket.create_connection(("127.0.0.1", proxy_port), timeout=5)
    sock.sendall(f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    return head, sock


def test_allowed_domain_is_reached_and_denied_one_refused(origin):
    decisions: list[ProxyDecision] = []
    proxy = make_proxy(origin, decisions)
    port = proxy.serve_tcp()
    try:
        assert fetch(port, "http://api.example.test/x?y=1") == (200, "hello api.example.test /x?y=1")
        status, body = fetch(port, "http://other.example.test/")
        assert status == 403 and "denied by rule" in body
        status, body = fetch(port, "http://evil.allowed.test/")  # the more specific deny wins
        assert status == 403
    finally:
        proxy.close()
    assert [(d.host, d.final) for d in decisions] == [
        ("api.example.test", "allow"), ("other.example.test", "deny"), ("evil.allowed.test", "deny")]
    by_id = {r.id: r for r in policy_from_texts(("project", POLICY)).rules}
    assert (by_id[decisions[1].rule].kind, by_id[decisions[1].rule].cls) == ("default", "net")  # named for audit
    assert by_id[decisions[2].rule].pattern == "evil.allowed.test:*"
    record = decisions[1].audit_record(12.5)
    assert (record["op"], record["object"], record["answer"], record["rule"]) == (
        "connect", "other.example.test:80", "deny", decisions[1].rule)


def test_connect_tunnel_carries_bytes_only_when_allowed(origin):
    proxy = make_proxy(origin, [])
    port = proxy.serve_tcp()
    try:
        head, sock = connect_tunnel(port, "www.allowed.test:443")
        with sock:
            assert head.startswith(b"HTTP/1.1 200")
            sock.sendall(b"GET /tunnel HTTP/1.0\r\nHost: www.allowed.test\r\n\r\n")
            reply = b"".join(iter(lambda: sock.recv(4096), b""))
        assert reply.endswith(b"hello www.allowed.test /tunnel")
        head, sock = connect_tunnel(port, "www.example.test:443")
        sock.close()
        assert head.startswith(b"HTTP/1.1 403")
    finally:
        proxy.close()


def test_prompt_is_deny_without_an_answerer_and_asks_when_there_is_one(origin):
    asked = []
    for ask, expected in ((None, 403), (lambda h, p, r: asked.append((h, p)) or True, 200),
                          (lambda h, p, r: 1 / 0, 403)):
        proxy = make_proxy(origin, [], ask=ask)
        port = proxy.serve_tcp()
        try:
            assert fetch(port, "http://ask.example.test/")[0] == expected
        finally:
            proxy.close()
    assert asked == [("ask.example.test", 80)]


@pytest.mark.parametrize("raw", [
    b"GARBAGE\r\n\r\n",
    b"GET /relative HTTP/1.1\r\nHost: x\r\n\r\n",  # origin-form: not a proxy request
    b"CONNECT host:99999 HTTP/1.1\r\n\r\n",
    b"CONNECT a b c d\r\n\r\n",
    b"GET http://x/ SPDY/3\r\n\r\n",
])
def test_malformed_requests_get_400_and_nothing_is_dialled(raw, origin):
    dialled = []
    proxy = make_proxy(origin, [])
    proxy.dial = lambda h, p: dialled.append((h, p))
    port = proxy.serve_tcp()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(raw)
            assert sock.recv(100).startswith(b"HTTP/1.1 400")
    finally:
        proxy.close()
    assert dialled == []


def test_relay_forwards_to_the_unix_socket_and_fails_closed_when_the_proxy_is_gone(origin, tmp_path):
    proxy = make_proxy(origin, [])
    path = proxy.serve_unix(str(tmp_path / "proxy.sock"))
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    threading.Thread(target=relay, args=(listener, path, stop), daemon=True).start()
    relay_port = listener.getsockname()[1]
    try:
        assert fetch(relay_port, "http://api.example.test/")[0] == 200
        proxy.close()
        os.unlink(path)
        with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
            fetch(relay_port, "http://api.example.test/")
    finally:
        stop.set()
        listener.close()


def test_proxy_environment_names_every_client_convention():
    env = proxy_environment(3128)
    assert env["HTTPS_PROXY"] == env["http_proxy"] == env["ALL_PROXY"] == "http://127.0.0.1:3128"
    assert "127.0.0.1" in env["NO_PROXY"]


INSIDE = r"""
import socket, sys, threading, urllib.request
sys.path.insert(0, sys.argv[3])
from aw_runtime.proxy import relay
try:
    socket.getaddrinfo("api.example.test", 80)
    print("dns: resolved")
except OSError:
    print("dns: failed")
try:
    socket.create_connection(("1.1.1.1", 80), timeout=2)
    print("direct: connected")
except OSError:
    print("direct: failed")
listener = socket.create_server(("127.0.0.1", 0))
threading.Thread(target=relay, args=(listener, sys.argv[1]), daemon=True).start()
port = listener.getsockname()[1]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": f"http://127.0.0.1:{port}"}))
for host in ("api.example.test", "other.example.test"):
    try:
        print(host, opener.open(f"http://{host}/", timeout=5).status)
    except urllib.error.HTTPError as e:
        print(host, e.code)
"""


@pytest.mark.skipif(not (shutil.which("unshare") and shutil.which("ip")), reason="needs util-linux unshare and ip")
def test_from_an_empty_network_namespace_only_the_proxy_reaches_out(origin, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("creating a network namespace with unshare -n needs root here")
    proxy = make_proxy(origin, [])
    path = proxy.serve_unix(str(tmp_path / "proxy.sock"))
    script = tmp_path / "inside.py"
    script.write_text(INSIDE)
    try:
        out = subprocess.run(["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh",
                              sys.executable, str(script), path, "unused", str(REPO / "runtime" / "..")],
                             check=False, capture_output=True, text=True, timeout=60,
                             env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    finally:
        proxy.close()
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["dns: failed", "direct: failed", "api.example.test 200",
                                       "other.example.test 403"]
