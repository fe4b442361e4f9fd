"""Cost of the prompt supervisor and of the domain proxy, each beside its peer in the same run.

    python benchmarks/bench_supervisor.py [--opens N] [--rounds R] [--json]

1. Opens (needs root: fanotify permission events). One ``awpolicy run`` of the
   golden bundle (``prompt read "~/Documents"``) with the socket API answered
   by a client in this process: the first open of ``~/Documents/plan.txt`` is
   asked (answered allow for the session), then the sandboxed command times N
   opens+closes of it (each one a permission event the supervisor answers from
   its approval cache) and N of an allowed file on the same watched mount
   (the interpreter's binary under /usr: no prompt rule, let through at once). Peer: the same N opens by the same
   interpreter outside any sandbox. Medians over R rounds of the per-open time.
2. Proxy (no root needed): the domain proxy in this process on loopback TCP,
   an echo server on loopback. CONNECT latency (connect to the proxy, CONNECT,
   200, one byte echoed back) beside a direct connection plus the same echo;
   throughput of a 64 MiB transfer through the tunnel beside direct.
   (The sandbox's relay adds one more loopback hop, not measured here.)

Figures are informative where no target is named; targets: a cached prompted
open adds under 250 us (FACTS: about 60 us per answered open), a CONNECT adds
under 5 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from report import Figure, emit

REPO = Path(__file__).resolve().parent.parent
GOLDEN_SOURCES = [REPO / "golden" / "agent-worktree" / "src" / n for n in ("org.awp", "project.awp", "user.awp.yaml")]
PY = sys.executable
SANDBOX_PY = "/usr/bin/python3"

TIMED_OPENS = r"""
import json, sys, time
prompted, plain, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
open(prompted).close()  # asked once (first round) or answered from the approval
def per_open(path):
    start = time.perf_counter()
    for _ in range(n):
        open(path).close()
    return (time.perf_counter() - start) / n * 1e6
print(json.dumps({"prompted": per_open(prompted), "plain": per_open(plain)}))
"""


def _answer_forever(path: Path, stop: threading.Event) -> None:
    while not path.exists() and not stop.is_set():
        time.sleep(0.002)
    if stop.is_set():
        return
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(path))
    with s, s.makefile("rwb") as f:
        for line in f:
            msg = json.loads(line)
            if msg["type"] == "question":
                f.write((json.dumps({"id": msg["id"], "answer": "allow", "remember": "session"}) + "\n").encode())
                f.flush()


def bench_opens(opens: int, rounds: int) -> list[Figure]:
    from aw_runtime.supervisor import fanotify_available

    why = fanotify_available()
    if why:
        print(f"skipping the supervised opens: {why}", file=sys.stderr)
        return []
    root = Path(tempfile.mkdtemp(prefix="awpolicy-bench-sup-"))
    home, ws, tmp = root / "home", root / "ws", root / "tmp"
    (home / "Documents").mkdir(parents=True)
    (home / "Documents" / "plan.txt").write_text("plan\n")
    tmp.mkdir()
    ws.mkdir()
    subprocess.run(["git", "init", "-q", str(ws)], check=True)
    (ws / "README").write_text("readme\n")
    bundle = root / "bundle"
    subprocess.run([PY, "-m", "aw_policy", "compile", *map(str, GOLDEN_SOURCES), "-o", str(bundle)],
                   check=True, capture_output=True)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "TMPDIR": str(tmp), "LANG": "C.UTF-8",
           "AWPOLICY_STATE_DIR": str(root / "state"), "AWPOLICY_AUDIT_LOG": str(root / "audit.jsonl")}
    # an allowed file on the mount the prompt path lives on (the root file system), so watched too
    watched = os.path.realpath(SANDBOX_PY)
    args = [str(home / "Documents" / "plan.txt"), watched, str(opens)]
    supervised, plain, bare = [], [], []
    for i in range(rounds):
        sock = tmp / f"prompt-{i}.sock"
        stop = threading.Event()
        client = threading.Thread(target=_answer_forever, args=(sock, stop), daemon=True)
        client.start()
        out = subprocess.run([PY, "-m", "aw_policy", "run", "--best-effort", "--discard-branch", str(bundle), "--",
                              SANDBOX_PY, "-I", "-S", "-c", TIMED_OPENS, *args], cwd=ws, capture_output=True,
                             text=True, env={**env, "AWPOLICY_PROMPT_SOCKET": str(sock)}, stdin=subprocess.DEVNULL,
                             check=False)
        stop.set()
        if out.returncode != 0:
            raise SystemExit(f"supervised run failed: {out.stderr}")
        inside = json.loads(out.stdout.strip().splitlines()[-1])
        supervised.append(inside["prompted"])
        plain.append(inside["plain"])
        peer = subprocess.run([SANDBOX_PY, "-I", "-S", "-c", TIMED_OPENS, *args], capture_output=True, text=True,
                              check=True)
        bare.append(json.loads(peer.stdout)["prompted"])
    s, p, b = (statistics.median(x) for x in (supervised, plain, bare))
    peer = "the same open outside any sandbox"
    return [
        Figure("open of a prompted path, answered from cache", s, "us", peer=peer, peer_value=b),
        Figure("  added by the supervisor (cached prompt)", s - b, "us", target="< 250", met=s - b < 250),
        Figure("open of an allowed path on a watched mount", p, "us", peer=peer, peer_value=b),
    ]


# --------------------------------------------------------------------------- proxy


def _echo_server() -> tuple[socket.socket, int]:
    server = socket.create_server(("127.0.0.1", 0))

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return

            def echo(conn=conn):
                with conn:
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    while data := conn.recv(1 << 20):
                        conn.sendall(data)

            threading.Thread(target=echo, daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return server, server.getsockname()[1]


def _tunnel(proxy_port: int, port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", proxy_port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(4096)
    if not head.startswith(b"HTTP/1.1 200"):
        raise SystemExit(f"proxy refused: {head!r}")
    return s


def _direct(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def _round_trip(s: socket.socket) -> None:
    s.sendall(b"x")
    if s.recv(1) != b"x":
        raise SystemExit("echo failed")


def _transfer_mib_s(s: socket.socket, total: int) -> float:
    chunk = b"\0" * (1 << 20)
    got = 0

    def drain():
        nonlocal got
        while got < total:
            data = s.recv(1 << 20)
            if not data:
                return
            got += len(data)

    reader = threading.Thread(target=drain)
    start = time.perf_counter()
    reader.start()
    for _ in range(total // len(chunk)):
        s.sendall(chunk)
    reader.join()
    return total / (1 << 20) / (time.perf_counter() - start)


def bench_proxy(rounds: int) -> list[Figure]:
    from aw_runtime.proxy import DomainProxy

    server, port = _echo_server()
    decisions = []
    proxy = DomainProxy(lambda host, p: ("allow", "r1"), on_decision=decisions.append)
    proxy_port = proxy.serve_tcp()
    via, direct = [], []
    for _ in range(max(rounds, 1) * 40):
        start = time.perf_counter()
        with _tunnel(proxy_port, port) as s:
            _round_trip(s)
        via.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        with _direct(port) as s:
            _round_trip(s)
        direct.append((time.perf_counter() - start) * 1000)
    total = 64 << 20
    with _tunnel(proxy_port, port) as s:
        through = _transfer_mib_s(s, total)
    with _direct(port) as s:
        plain = _transfer_mib_s(s, total)
    proxy.close()
    server.close()
    v, d = statistics.median(via), statistics.median(direct)
    peer = "direct loopback connection"
    return [
        Figure("proxy CONNECT + 1-byte echo", v, "ms", peer=peer, peer_value=d),
        Figure("  added by the proxy per connection", v - d, "ms", target="< 5", met=v - d < 5),
        Figure("proxy throughput, 64 MiB echoed", through, "MiB/s", peer=peer, peer_value=plain),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--opens", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = bench_opens(args.opens, args.rounds) + bench_proxy(args.rounds)
    return emit("prompt supervisor and domain proxy", figures, ["--json"] if args.json else [])


if __name__ == "__main__":
    os.environ.pop("AWPOLICY_PROMPT_SOCKET", None)
    sys.exit(main())
