"""The domain proxy killed while the sandboxed command is connected through it.

How `awpolicy run` wires it (runtime/launcher.py, runtime/linux/launch.py):
the proxy runs in the launcher's own process, outside the sandbox, on a
private unix socket; inside, a relay process (a child of the sandbox's PID 1,
not the command) carries 127.0.0.1:3128 to that socket. So there are two
things to kill:

* the launcher, and the proxy with it: the session ends (its processes die
  with it) and nothing reaches the origin afterwards;
* the relay: the command's open connection breaks, later connects are
  refused, a direct connection still has no route; the session continues and
  the command's own exit status is reported.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import threading
from pathlib import Path

import pytest

ORIGIN_HOST = "127.0.0.2"
OPTS = ("--best-effort", "--discard-branch")
FIRST = 1000

INSIDE = r"""
import json, socket, sys, urllib.request, urllib.error
port, first_size = int(sys.argv[1]), int(sys.argv[2])  # sys.argv[3]: a marker to find this process by
out = {}
with urllib.request.urlopen(f"http://127.0.0.2:{port}/slow", timeout=30) as r:
    first = r.read(first_size)
    print("streaming", len(first), flush=True)
    try:
        rest = r.read()
        out["stream"] = f"completed {len(rest)}"
    except Exception as e:
        out["stream"] = f"broken {e.__class__.__name__}"
try:
    urllib.request.urlopen(f"http://127.0.0.2:{port}/later", timeout=10).read()
    out["later"] = "reached"
except urllib.error.URLError as e:
    out["later"] = f"failed {getattr(e, 'reason', e).__class__.__name__}"
except OSError as e:
    out["later"] = f"failed {e.__class__.__name__}"
try:
    socket.create_connection(("127.0.0.2", port), timeout=3)
    out["direct"] = "connected"
except OSError as e:
    out["direct"] = f"failed {e.__class__.__name__}"
print(json.dumps(out), flush=True)
"""


class _Origin(http.server.BaseHTTPRequestHandler):
    """/slow sends FIRST bytes, then waits until the test releases it; every request is recorded."""

    def do_GET(self):
        self.server.seen.append(self.path)
        if self.path != "/slow":
            body = b"hello"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(2 * FIRST))
        self.end_headers()
        self.wfile.write(b"a" * FIRST)
        self.wfile.flush()
        self.server.release.wait(30)
        try:
            self.wfile.write(b"b" * FIRST)
        except OSError:
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def origin():
    server = http.server.ThreadingHTTPServer((ORIGIN_HOST, 0), _Origin)
    server.daemon_threads = True
    server.seen = []
    server.release = threading.Event()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


def _children(pid: int) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = Path(f"/proc/{d}/stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rfind(")") + 2:].split()[1]) == pid:
            out.append(int(d))
    return out


def _cmdline(pid: int) -> list[bytes]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def _relay(launcher_pid: int) -> int:
    """launcher -> session keeper -> PID 1 -> {relay, command}: the relay is PID 1's child that is
    still the launcher's program (the command exec'd the sandbox's python)."""
    (keeper,) = _children(launcher_pid)
    (init,) = _children(keeper)
    launcher_argv = _cmdline(launcher_pid)
    relays = [p for p in _children(init) if _cmdline(p) == launcher_argv]
    assert len(relays) == 1, relays
    return relays[0]


@pytest.fixture
def proxied(machine, extra_bundle, origin):
    port = origin.server_address[1]
    bundle = extra_bundle(f'net {{ allow connect "{ORIGIN_HOST}:{port}" }}\n')
    marker = f"marker-{os.getpid()}-{port}"
    launcher = machine.popen(bundle, "/usr/bin/python3", "-I", "-S", "-c", INSIDE, str(port), str(FIRST), marker,
                             opts=OPTS,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = launcher.stdout.readline()
        assert line == f"streaming {FIRST}\n", (line, launcher.stderr.read() if launcher.poll() is not None else "")
        yield launcher, marker
    finally:
        launcher.kill()
        launcher.wait()
        machine.kill_all(machine.processes_with(marker))


def test_relay_killed_mid_stream_breaks_it_and_every_later_connect_fails(proxied, origin):
    launcher, _ = proxied
    os.kill(_relay(launcher.pid), signal.SIGKILL)
    out, err = launcher.communicate(timeout=60)
    assert launcher.returncode == 0, err  # the session went on: the command's own status
    report = json.loads(out.strip().splitlines()[-1])
    assert report["stream"].startswith("broken"), report
    assert report["later"].startswith("failed"), report  # nothing listens on the relay's port any more
    assert report["direct"].startswith("failed"), report  # and there is no other way out
    assert origin.seen == ["/slow"]


def test_launcher_and_its_proxy_killed_mid_stream_end_the_session(proxied, origin, machine):
    launcher, marker = proxied
    assert machine.processes_with(marker)
    launcher.send_signal(signal.SIGKILL)
    launcher.wait(timeout=10)
    assert machine.wait_until(lambda: not machine.processes_with(marker), timeout=10), \
        machine.processes_with(marker)
    origin.release.set()  # the origin finishes its answer: there is nobody left to take it
    assert origin.seen == ["/slow"]
