"""``awpolicy run --trace``: record every denial of a session in ``.awpolicy/logs/denials.jsonl``.

Linux
    Landlock (ABI 7) writes an audit record for each denial when the sandbox
    asks it to (the plan's ``audit`` flag: log denials after exec too). As
    root, :class:`LinuxTrace` turns the kernel's audit subsystem on for the
    session (and back off after, if it was off), listens on the audit
    netlink socket's read-only multicast group, and keeps the denials of
    Landlock domains created by this session's processes. The listener is a
    forked child: the launcher must stay single-threaded, and whether a domain
    belongs to the session is checked while its process is alive (its
    ancestry leads to the launcher).
macOS
    Seatbelt reports denials to the unified log as ``Sandbox: NAME(PID)
    deny(N) OPERATION TARGET``; :func:`parse_macos_log` reads those lines from
    captured text (``log stream --style syslog``, see :data:`MACOS_LOG_STREAM`).

Every record: ``op`` (read, write, exec, connect, bind, signal, mach or the
raw operation), ``path`` or ``object``, ``pid``, ``process``, ``source``, and
what the platform said (``blockers`` / ``operation``).
"""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import struct
import time
from pathlib import Path

LOG_RELATIVE = Path(".awpolicy") / "logs" / "denials.jsonl"

NETLINK_AUDIT = 9
AUDIT_GET, AUDIT_SET = 1000, 1001
AUDIT_SYSCALL, AUDIT_EOE = 1300, 1320
AUDIT_LANDLOCK_ACCESS, AUDIT_LANDLOCK_DOMAIN = 1423, 1424
AUDIT_NLGRP_READLOG = 1
AUDIT_STATUS_ENABLED = 1
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2
_NLMSG = struct.Struct("=IHHII")
QUIET_SECONDS = 0.2  # after the session: stop once the kernel has been quiet this long
DRAIN_LIMIT = 3.0

#: Landlock's blocker names -> our operation names.
BLOCKER_OPS = {
    "fs.execute": "exec", "fs.read_file": "read", "fs.read_dir": "read",
    "net.connect_tcp": "connect", "net.bind_tcp": "bind",
    "scope.signal": "signal", "scope.abstract_unix_socket": "connect",
}


class TraceUnavailable(Exception):
    """Denials cannot be recorded here; the message says why."""


def log_path(workspace: str | os.PathLike) -> Path:
    return Path(workspace) / LOG_RELATIVE


def blocker_op(blockers: list[str]) -> str:
    for name in blockers:
        if name in BLOCKER_OPS:
            return BLOCKER_OPS[name]
    return "write" if any(b.startswith("fs.") for b in blockers) else (blockers[0] if blockers else "unknown")


# --------------------------------------------------------------------------- audit record text

_RECORD = re.compile(r"audit\((?P<time>\d+\.\d+):(?P<serial>\d+)\):\s?(?P<body>.*)", re.DOTALL)
_FIELD = re.compile(r'([a-z_-]+)=("[^"]*"|\S*)')
_UNTRUSTED = ("path", "comm", "exe", "name", "proctitle")


def _value(key: str, raw: str) -> str:
    if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
        return raw[1:-1]
    if key in _UNTRUSTED and raw and len(raw) % 2 == 0 and re.fullmatch(r"[0-9A-F]+", raw):
        # the kernel writes a name with spaces, quotes or control characters in hex
        return bytes.fromhex(raw).decode("utf-8", "surrogateescape").encode("utf-8", "backslashreplace").decode()
    return raw


def parse_audit_text(text: str) -> tuple[float, int, dict[str, str]] | None:
    """'audit(T:SERIAL): k=v ...' -> (time, serial, fields); None for what is not a record."""
    match = _RECORD.match(text.rstrip("\x00\n"))
    if match is None:
        return None
    fields = {key: _value(key, raw) for key, raw in _FIELD.findall(match["body"])}
    return float(match["time"]), int(match["serial"]), fields


class Collector:
    """Joins the records of each audit event and keeps the session's Landlock denials.

    ``ours(pid)`` says whether a live process belongs to the session; it is
    asked as records arrive, because by the end of the session they are gone.
    """

    def __init__(self, ours):
        self.ours = ours
        self.domains: dict[str, bool] = {}
        self.events: dict[int, dict] = {}

    def add(self, rtype: int, text: str) -> None:
        parsed = parse_audit_text(text)
        if parsed is None:
            return
        when, serial, fields = parsed
        event = self.events.setdefault(serial, {"time": when})
        if rtype == AUDIT_LANDLOCK_ACCESS:
            event["access"] = fields
        elif rtype == AUDIT_LANDLOCK_DOMAIN and fields.get("status") == "allocated" and "pid" in fields:
            self.domains.setdefault(fields.get("domain", ""), self._ours(fields["pid"]))
        elif rtype == AUDIT_SYSCALL:
            event["syscall"] = fields
            event["ours"] = self._ours(fields.get("pid")) or self._ours(fields.get("ppid"))

    def _ours(self, pid: str | None) -> bool:
        return bool(pid and pid.isdigit() and self.ours(int(pid)))

    def denials(self) -> list[dict]:
        out = []
        for serial in sorted(self.events):
            event = self.events[serial]
            access = event.get("access")
            if access is None:
                continue
            domain = access.get("domain", "")
            if not (self.domains.get(domain) or event.get("ours")):
                continue
            if event.get("ours"):
                self.domains[domain] = True
            out.append(denial_record(event["time"], serial, access, event.get("syscall", {})))
        return out


def denial_record(when: float, serial: int, access: dict, syscall: dict) -> dict:
    blockers = [b for b in access.get("blockers", "").split(",") if b]
    record = {
        "source": "landlock-audit", "time": when, "serial": serial, "op": blocker_op(blockers),
        "blockers": blockers, "domain": access.get("domain", ""),
        "pid": int(syscall["pid"]) if syscall.get("pid", "").isdigit() else None,
        "process": syscall.get("comm", ""), "exe": syscall.get("exe", ""),
    }
    if "path" in access:
        record["path"] = access["path"]
    elif "daddr" in access or "dest" in access or "src" in access:
        record["object"] = f"{access.get('daddr', '*')}:{access.get('dest', access.get('src', '*'))}"
    else:
        extra = {k: v for k, v in access.items() if k not in ("domain", "blockers")}
        if extra:
            record["object"] = " ".join(f"{k}={v}" for k, v in sorted(extra.items()))
    return record


# --------------------------------------------------------------------------- the netlink side


def _request(sock: socket.socket, mtype: int, payload: bytes = b"") -> bytes:
    sock.send(_NLMSG.pack(_NLMSG.size + len(payload), mtype, NLM_F_REQUEST | NLM_F_ACK, 1, 0) + payload)
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        ready, _, _ = select.select([sock], [], [], 0.5)
        if not ready:
            continue
        data = sock.recv(65536)
        length, rtype, _, _, _ = _NLMSG.unpack_from(data)
        if rtype == NLMSG_ERROR:
            errno = -struct.unpack_from("=i", data, _NLMSG.size)[0]
            if errno:
                raise OSError(errno, os.strerror(errno))
            if mtype != AUDIT_GET:
                return b""
            continue
        if rtype == mtype:
            return data[_NLMSG.size:length]
    raise OSError("no answer from the kernel's audit socket")


def _audit_status(sock: socket.socket) -> bool:
    payload = _request(sock, AUDIT_GET)
    return struct.unpack_from("=II", payload)[1] != 0


def _set_enabled(sock: socket.socket, enabled: bool) -> None:
    _request(sock, AUDIT_SET, struct.pack("=8I", AUDIT_STATUS_ENABLED, int(enabled), 0, 0, 0, 0, 0, 0))


def _ancestry_check(root_pid: int):
    cache: dict[int, bool] = {}

    def ours(pid: int) -> bool:
        chain, result = [], False
        while pid > 1:
            if pid in cache:
                result = cache[pid]
                break
            if pid == root_pid:
                result = True
                break
            chain.append(pid)
            try:
                with open(f"/proc/{pid}/stat", "rb") as f:
                    stat = f.read()
                pid = int(stat[stat.rindex(b")") + 2 :].split()[1])
            except (OSError, ValueError, IndexError):
                return False  # gone: decide nothing from it (do not cache)
        for p in chain:
            cache[p] = result
        return result

    return ours


class LinuxTrace:
    """Kernel audit listener for one session: ``start()`` before launch, ``stop()`` after.

    ``stop()`` returns the denials and appends them to ``log``."""

    def __init__(self, log: Path, session: str | None = None):
        self.log = Path(log)
        self.session = session
        self.child = -1
        self.result_fd = -1
        self.enabled_by_us = False

    def start(self) -> LinuxTrace:
        if os.geteuid() != 0:
            raise TraceUnavailable("reading the kernel's audit records needs root")
        try:
            control = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_AUDIT)
        except OSError as exc:
            raise TraceUnavailable(f"the kernel audit socket cannot be opened: {exc.strerror or exc}") from None
        try:
            control.bind((0, 0))
            if not _audit_status(control):
                _set_enabled(control, True)
                self.enabled_by_us = True
            listener = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_AUDIT)
            listener.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE: bursts of denials
            listener.bind((0, AUDIT_NLGRP_READLOG))
        except OSError as exc:
            self._restore(control)
            control.close()
            raise TraceUnavailable(f"kernel audit is unavailable: {exc.strerror or exc}") from None
        control.close()
        rfd, wfd = os.pipe()
        launcher = os.getpid()
        self.child = os.fork()
        if self.child == 0:  # pragma: no cover - runs in the forked listener
            os.close(rfd)
            code = 0
            try:
                _listen(listener, wfd, launcher)
            except BaseException:  # noqa: BLE001 - a forked child must never return into the caller
                code = 1
            finally:
                # the listener puts the audit switch back, so it is restored even when
                # the launcher was SIGKILLed (the listener then gets SIGTERM and drains)
                self._restore_switch()
            os._exit(code)
        listener.close()
        os.close(wfd)
        self.result_fd = rfd
        self.enabled_by_us = False  # the listener owns the switch now
        return self

    def stop(self) -> list[dict]:
        import json

        if self.child <= 0:
            return []
        os.kill(self.child, signal.SIGTERM)
        chunks = []
        while True:
            chunk = os.read(self.result_fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(self.result_fd)
        os.waitpid(self.child, 0)
        self.child = -1
        denials = [json.loads(line) for line in b"".join(chunks).decode().splitlines() if line]
        if self.session:
            for d in denials:
                d["session"] = self.session
        write_denials(self.log, denials)
        return denials

    def _restore_switch(self) -> None:
        try:
            control = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_AUDIT)
            control.bind((0, 0))
            self._restore(control)
            control.close()
        except OSError:
            pass

    def _restore(self, control: socket.socket) -> None:
        if self.enabled_by_us:
            try:
                _set_enabled(control, False)
            except OSError:
                pass
            self.enabled_by_us = False


def _die_with(parent: int) -> None:  # pragma: no cover - child
    """SIGTERM this process when ``parent`` dies (prctl PR_SET_PDEATHSIG)."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # it died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _listen(listener: socket.socket, out_fd: int, launcher: int) -> None:  # pragma: no cover - child
    import json

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(time.monotonic()))
    _die_with(launcher)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    collector = Collector(_ancestry_check(launcher))
    last = time.monotonic()
    while True:
        now = time.monotonic()
        if stopping and (now - last > QUIET_SECONDS or now - stopping[0] > DRAIN_LIMIT):
            break
        try:
            ready, _, _ = select.select([listener], [], [], 0.05)
        except InterruptedError:
            continue
        if not ready:
            continue
        data = listener.recv(1 << 16)
        offset = 0
        while offset + _NLMSG.size <= len(data):
            length, rtype, _, _, _ = _NLMSG.unpack_from(data, offset)
            if length < _NLMSG.size:
                break
            if rtype in (AUDIT_LANDLOCK_ACCESS, AUDIT_LANDLOCK_DOMAIN, AUDIT_SYSCALL):
                collector.add(rtype, data[offset + _NLMSG.size : offset + length].decode("utf-8", "replace"))
            offset += (length + 3) & ~3
        last = time.monotonic()
    payload = "".join(json.dumps(d, sort_keys=True) + "\n" for d in collector.denials()).encode()
    view = memoryview(payload)
    while view:
        view = view[os.write(out_fd, view):]
    os.close(out_fd)


def write_denials(log: Path, denials: list[dict]) -> None:
    """Append to the JSONL log (one whole line per write; the audit log's guarantees)."""
    if not denials:
        return
    from aw_runtime.audit import AuditLog

    log.parent.mkdir(parents=True, exist_ok=True)
    with AuditLog(log) as out:
        for d in denials:
            out.write(d)


# --------------------------------------------------------------------------- macOS unified log

#: What captures the lines on macOS (Seatbelt's kernel reports carry "Sandbox:").
MACOS_LOG_STREAM = ("/usr/bin/log", "stream", "--style", "syslog", "--predicate",
                    'sender == "Sandbox" OR eventMessage CONTAINS "Sandbox: "')

_MACOS_LINE = re.compile(
    r"(?:(?P<stamp>\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d{2}:?\d{2})?)\s.*?)?"
    r"Sandbox: (?P<process>.+?)\((?P<pid>\d+)\) (?P<action>deny|allow)(?:\((?P<count>\d+)\))? "
    r"(?P<operation>[a-z0-9*-]+)(?: (?P<target>.*?))?\s*$"
)

SBPL_OPS = (
    ("file-read", "read"), ("file-write", "write"), ("process-exec", "exec"),
    ("network-outbound", "connect"), ("network-bind", "bind"), ("mach-lookup", "mach"), ("signal", "signal"),
)


def parse_macos_log(text: str) -> list[dict]:
    """Seatbelt denials from captured unified-log text, one record per 'deny' line."""
    out = []
    for line in text.splitlines():
        match = _MACOS_LINE.search(line)
        if match is None or match["action"] != "deny":
            continue
        operation = match["operation"]
        op = next((ours for prefix, ours in SBPL_OPS if operation.startswith(prefix)), operation)
        target = (match["target"] or "").strip()
        record = {"source": "seatbelt-log", "op": op, "operation": operation, "pid": int(match["pid"]),
                  "process": match["process"], "count": int(match["count"] or 1)}
        if match["stamp"]:
            record["time"] = match["stamp"]
        if target.startswith("/"):
            record["path"] = target
        elif target:
            record["object"] = target
        out.append(record)
    return out
