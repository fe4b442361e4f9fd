"""The network domain proxy: where `connect "host:port"` rules on names are enforced.

Neither Landlock nor Seatbelt can filter by domain name (Landlock knows TCP
ports; SBPL host filters accept only ``*`` and ``localhost``), so a sandbox
whose network is loopback-only reaches the outside world through this proxy,
which runs outside the sandbox:

* ``CONNECT host:port`` (HTTPS and any TCP tunnel) and absolute-form plain HTTP
  requests (``GET http://host/...``) are checked with the policy's decide()
  for ``connect host:port`` before anything is resolved or dialled;
* the proxy, not the sandboxed process, resolves names, so DNS from inside is
  never needed (and impossible in an empty network namespace);
* ``prompt`` asks ``ask(host, port, rule)``; without an answerer it is deny;
* every decision goes to ``on_decision`` (the audit log).

Inside the sandbox, :func:`relay` listens on a loopback TCP port and forwards
each connection to the proxy's unix socket, which is the only path out.

Standard library only: the runtime imports this on launch.
"""

from __future__ import annotations

import os
import socket
import socketserver
import threading
from collections.abc import Callable
from dataclasses import dataclass

MAX_HEAD = 64 * 1024
IO_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class ProxyDecision:
    host: str
    port: int
    effect: str  # allow | deny | prompt (as decided), answered prompts become allow/deny in `final`
    final: str  # allow | deny
    rule: str  # deciding rule id ("" when the request was malformed)
    method: str  # CONNECT or the HTTP method
    reason: str = ""  # why a request was refused before any rule could decide it
    asked: bool = False  # a prompt went to the answerer (else: nobody to ask, deny)

    def audit_record(self, when: float) -> dict:
        """The decision in the audit log's format (runtime/engine.py's records), for `awpolicy audit`."""
        if self.reason:
            why = self.reason
        elif self.effect == "prompt":
            why = "answered" if self.asked else "non-interactive"
        else:
            why = "rule"
        return {"time": when, "event": f"proxy.{self.method}", "pid": 0, "executable": "", "op": "connect",
                "object": f"{self.host}:{self.port}", "answer": self.final, "effect": self.effect,
                "reason": why, "rule": self.rule}


Check = Callable[[str, int], tuple[str, str]]  # (host, port) -> (effect, rule id)
Ask = Callable[[str, int, str], bool]  # (host, port, rule id) -> allowed?
Dial = Callable[[str, int], socket.socket]


def policy_check(bound) -> Check:
    """A Check over a bound IR policy (aw_policy.ir.bind): decide() on `connect host:port`."""
    from aw_policy import ir

    def check(host: str, port: int) -> tuple[str, str]:
        decision = ir.decide(bound, ir.normalize_request("connect", f"{host}:{port}"))
        return decision.effect, decision.rule.id

    return check


def direct_dial(host: str, port: int) -> socket.socket:
    return socket.create_connection((host, port), timeout=IO_TIMEOUT_S)


class _BadRequest(Exception):
    pass


def _read_head(conn: socket.socket) -> tuple[bytes, bytes]:
    """The request head (through the blank line) and whatever body bytes followed it."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(8192)
        if not chunk:
            raise _BadRequest("connection closed before the request head ended")
        data += chunk
        if len(data) > MAX_HEAD:
            raise _BadRequest("request head larger than 64 KiB")
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _split_authority(authority: str, default_port: int) -> tuple[str, int]:
    host, sep, port = authority.rpartition(":")
    if not sep or "]" in port:  # no port, or an IPv6 literal without one
        host, port = authority, str(default_port)
    host = host.strip("[]").lower().rstrip(".")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise _BadRequest(f"bad authority {authority!r}")
    return host, int(port)


def parse_request(head: bytes) -> tuple[str, str, int, bytes]:
    """(method, host, port, head to send upstream) of a proxy request; raises _BadRequest."""
    try:
        text = head.decode("latin-1")
        request_line, _, headers = text.partition("\r\n")
        method, target, version = request_line.split(" ")
    except ValueError:
        raise _BadRequest("malformed request line") from None
    if not version.startswith("HTTP/1."):
        raise _BadRequest(f"unsupported protocol {version!r}")
    if method == "CONNECT":
        host, port = _split_authority(target, 443)
        return method, host, port, b""
    if not target.lower().startswith("http://"):
        raise _BadRequest("only CONNECT and absolute http:// requests go through the proxy")
    rest = target[len("http://"):]
    authority, slash, path = rest.partition("/")
    host, port = _split_authority(authority, 80)
    kept = [h for h in headers.split("\r\n") if h and not h.lower().startswith(("proxy-", "connection:"))]
    upstream = "\r\n".join([f"{method} /{path if slash else ''} {version}", *kept, "Connection: close"])
    return method, host, port, (upstream + "\r\n\r\n").encode("latin-1")


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while chunk := src.recv(65536):
            dst.sendall(chunk)
    except OSError:
        pass
    finally:
        for s in (dst,):
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass


def splice(a: socket.socket, b: socket.socket) -> None:
    """Copy both directions until both sides close."""
    other = threading.Thread(target=_pipe, args=(b, a), daemon=True)
    other.start()
    _pipe(a, b)
    other.join()


class DomainProxy:
    """A filtering HTTP proxy; serve on a unix socket (the sandbox's relay) or loopback TCP."""

    def __init__(self, check: Check, *, ask: Ask | None = None, dial: Dial = direct_dial,
                 on_decision: Callable[[ProxyDecision], None] | None = None):
        self.check, self.ask, self.dial = check, ask, dial
        self.on_decision = on_decision or (lambda d: None)
        self._servers: list[socketserver.BaseServer] = []

    # -- decisions ---------------------------------------------------------------------
    def decide(self, method: str, host: str, port: int) -> ProxyDecision:
        try:
            effect, rule = self.check(host, port)
        except Exception as exc:  # noqa: BLE001 - an unparsable name: nothing to allow
            return ProxyDecision(host, port, "deny", "deny", "", method, f"invalid destination: {exc}")
        final = effect
        if effect == "prompt":
            try:
                final = "allow" if self.ask is not None and self.ask(host, port, rule) else "deny"
            except Exception:  # noqa: BLE001 - an answerer that fails never means allow
                final = "deny"
        asked = effect == "prompt" and self.ask is not None
        return ProxyDecision(host, port, effect, final, rule, method, asked=asked)

    # -- one connection ----------------------------------------------------------------
    def handle(self, conn: socket.socket) -> None:
        conn.settimeout(IO_TIMEOUT_S)
        try:
            head, rest = _read_head(conn)
            method, host, port, upstream_head = parse_request(head)
        except (_BadRequest, OSError) as exc:
            self._reply(conn, 400, "Bad Request", str(exc))
            return
        decision = self.decide(method, host, port)
        self.on_decision(decision)
        if decision.final != "allow":
            why = decision.reason or f"denied by rule {decision.rule or 'default'}"
            self._reply(conn, 403, "Forbidden", f"awpolicy: connect {host}:{port} {why}")
            return
        try:
            upstream = self.dial(host, port)
        except OSError as exc:
            self._reply(conn, 502, "Bad Gateway", f"cannot reach {host}:{port}: {exc.strerror or exc}")
            return
        with upstream:
            upstream.settimeout(None)
            conn.settimeout(None)
            if method == "CONNECT":
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                upstream.sendall(upstream_head)
            if rest:
                upstream.sendall(rest)
            splice(conn, upstream)

    @staticmethod
    def _reply(conn: socket.socket, code: int, text: str, body: str) -> None:
        data = body.encode("utf-8", "replace") + b"\n"
        try:
            conn.sendall(f"HTTP/1.1 {code} {text}\r\nContent-Type: text/plain\r\nContent-Length: {len(data)}\r\n"
                         "Connection: close\r\n\r\n".encode() + data)
        except OSError:
            pass

    # -- serving -----------------------------------------------------------------------
    def _serve(self, server_cls, address) -> socketserver.BaseServer:
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                proxy.handle(self.request)

        server = server_cls(address, Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True, name="awpolicy-proxy").start()
        self._servers.append(server)
        return server

    def serve_unix(self, path: str) -> str:
        if os.path.lexists(path):
            os.unlink(path)
        self._serve(socketserver.ThreadingUnixStreamServer, path)
        return path

    def serve_tcp(self, host: str = "127.0.0.1", port: int = 0) -> int:
        server = self._serve(socketserver.ThreadingTCPServer, (host, port))
        return server.server_address[1]

    def close(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers.clear()


def relay(listen: socket.socket, unix_path: str, stop: threading.Event | None = None) -> None:
    """Forward each connection accepted on ``listen`` (inside the sandbox) to the proxy socket."""
    stop = stop or threading.Event()
    listen.settimeout(0.2)
    while not stop.is_set():
        try:
            conn, _ = listen.accept()
        except TimeoutError:
            continue
        except OSError:
            return

        def forward(conn=conn):
            with conn:
                try:
                    out = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    out.connect(unix_path)
                except OSError:
                    return  # proxy gone: the connection just closes; nothing leaks out
                with out:
                    splice(conn, out)

        threading.Thread(target=forward, daemon=True).start()


def proxy_environment(port: int) -> dict[str, str]:
    """What the sandboxed command is told: every client library's proxy variables."""
    url = f"http://127.0.0.1:{port}"
    names = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
    env = {name: url for name in names}
    env["NO_PROXY"] = env["no_proxy"] = "localhost,127.0.0.1,::1"
    return env
