"""Asking a person: the terminal and a local unix socket API, behind the engine's Prompter.

The supervisor's engine calls :meth:`LivePrompter.ask` when a ``prompt`` rule
decides a request and no approval covers it. The question goes to every
channel at once; the first valid answer wins; with no answer before the
budget runs out, ``ask`` returns None and the engine denies (``deadline``).

Socket API (JSON lines, UTF-8, one object per line), for an IDE or agent host:

* on connect the server sends
  ``{"type": "hello", "version": 1, "supervisor_pid": N}`` and then every
  question still open;
* a question::

    {"type": "question", "id": "q1", "pid": 4242, "executable": "/usr/bin/cat",
     "path": "/home/me/Documents/plan.txt", "access": "read",
     "subject": "/home/me/Documents", "rule": "r150",
     "origin": "../src/user.awp.yaml:9:13", "scope": "user",
     "remember": "user", "deadline": 12.0}

  ``path`` is the object asked about (a path, or ``host:port`` for
  ``connect``); ``subject`` is what an answer covers (the engine coalesces
  questions by directory); ``remember`` the scope used when the answer names
  none; ``deadline`` the seconds left before the request is denied;
* an answer: ``{"id": "q1", "answer": "allow" | "deny", "remember":
  "session" | "user" | "project" | "org"}`` (``remember`` optional); the
  server replies ``{"type": "ack", "id": "q1"}`` or ``{"type": "error",
  "id": "q1", "message": "..."}``;
* when a question closes (answered here or elsewhere, or at its deadline)
  every client gets ``{"type": "closed", "id": "q1", "answer": "allow" |
  "deny", "reason": "answered" | "deadline"}``.

A client is refused when ``peer_ok(pid)`` says no: the supervisor refuses the
sandbox's own processes, which must never answer their own questions. The
socket file is created mode 0600 and removed on close.

Stdlib only.
"""

from __future__ import annotations

import json
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from itertools import count

from aw_runtime.approvals import SCOPES
from aw_runtime.engine import Question, Reply

API_VERSION = 1
MAX_LINE = 64 * 1024


def question_json(qid: str, question: Question, remember: str, budget: float,
                  show: Callable[[str], str] = str) -> dict:
    rule = question.rule
    return {
        "type": "question", "id": qid, "pid": question.process.pid, "executable": question.process.executable,
        "path": show(question.example), "access": question.access, "subject": show(question.subject),
        "rule": rule.id,
        "origin": "built-in" if rule.scope == "builtin" else str(rule.origin), "scope": rule.scope,
        "remember": remember, "deadline": round(budget, 3),
    }


def parse_answer(line: bytes) -> tuple[str, str, str | None]:
    """(question id, answer, remember scope or None) of one answer line; ValueError says what is wrong."""
    try:
        data = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        data = {}  # reported below as a missing id
    qid, answer, remember = data.get("id"), data.get("answer"), data.get("remember")
    if not isinstance(qid, str) or not qid:
        raise ValueError("id: required, the id of an open question")
    if answer not in ("allow", "deny"):
        raise ValueError("answer: required, \"allow\" or \"deny\"")
    if remember is not None and remember not in SCOPES:
        raise ValueError(f"remember: one of {', '.join(SCOPES)}")
    return qid, answer, remember


class _Client:
    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buffer = b""


class LivePrompter:
    """Questions to the terminal (``tty``) and to clients of a unix socket (``socket_path``)."""

    def __init__(self, socket_path: str | None = None, *, tty: bool = False,
                 peer_ok: Callable[[int], bool] = lambda pid: True,
                 remember_for: Callable[[Question], str] = lambda q: "session",
                 show: Callable[[str], str] = str):
        self.socket_path = socket_path
        self.show = show  # how a path is shown (the engine's paths are macOS-resolved)
        self.peer_ok = peer_ok
        self.remember_for = remember_for
        self._ids = count(1)
        self._cond = threading.Condition()
        self._open: dict[str, dict] = {}  # id -> question JSON
        self._answers: dict[str, tuple[str, str | None]] = {}
        self._clients: list[_Client] = []
        self._listener: socket.socket | None = None
        self._wake_r, self._wake_w = os.pipe()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.tty_fd = _open_tty() if tty else None

    # ----------------------------------------------------------------- lifetime

    def start(self) -> None:
        """Listen on the socket (replacing a stale socket file, never any other file)."""
        if self.socket_path is None:
            return
        path = self.socket_path
        # Bound under another name and renamed once listening: a client that connects as soon
        # as the path exists is never refused (a unix socket path holds at most 107 bytes).
        staged = path + ".new" if len(os.fsencode(path)) <= 103 else path
        for name in {path, staged}:  # what an earlier, killed supervisor left
            if os.path.lexists(name):
                import stat

                if not stat.S_ISSOCK(os.lstat(name).st_mode):
                    raise OSError(17, f"{name} exists and is not a socket; choose another AWPOLICY_PROMPT_SOCKET")
                os.unlink(name)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            listener.bind(staged)
        finally:
            os.umask(old)
        listener.listen(16)
        if staged != path:
            os.rename(staged, path)
        self._listener = listener
        self._thread = threading.Thread(target=self._serve, name="awpolicy-prompt-api", daemon=True)
        self._thread.start()

    def close(self) -> None:
        with self._cond:
            self._stopping = True
        os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._listener is not None:
            self._listener.close()
            try:
                os.unlink(self.socket_path)
            except OSError:
                pass
        for c in self._clients:
            c.sock.close()
        for fd in (self._wake_r, self._wake_w, self.tty_fd):
            if fd is not None:
                os.close(fd)
        self.tty_fd = None

    @property
    def interactive(self) -> bool:
        return self._listener is not None or self.tty_fd is not None

    # ----------------------------------------------------------------- asking

    def ask(self, question: Question, budget: float) -> Reply | None:
        qid = f"q{next(self._ids)}"
        remember = self.remember_for(question)
        data = question_json(qid, question, remember, budget, self.show)
        start = time.monotonic()
        with self._cond:
            self._open[qid] = data
            self._broadcast(data)
        if self.tty_fd is not None:
            _tty_write(self.tty_fd, _tty_question(data))
        line = b""
        answer: str | None = None
        scope: str | None = None
        try:
            while True:
                left = budget - (time.monotonic() - start)
                with self._cond:
                    if qid in self._answers:
                        answer, scope = self._answers.pop(qid)
                        break
                    if left <= 0:
                        answer = None
                        break
                    if self.tty_fd is None:
                        self._cond.wait(left)
                        continue
                # the terminal: poll it in short slices so a socket answer is seen too
                ready, _, _ = select.select([self.tty_fd], [], [], min(left, 0.05))
                if ready:
                    chunk = os.read(self.tty_fd, 256)
                    line += chunk
                    if b"\n" in line or not chunk:
                        parsed = _tty_answer(line.split(b"\n")[0])
                        line = b""
                        if parsed is not None:
                            answer, scope = parsed
                            if scope == "default":
                                scope = remember
                            break
                        _tty_write(self.tty_fd, "  please type y, a, n or d: ")
        finally:
            with self._cond:
                self._open.pop(qid, None)
                self._answers.pop(qid, None)
                self._broadcast({"type": "closed", "id": qid, "answer": answer or "deny",
                                 "reason": "answered" if answer else "deadline"})
        if answer is None:
            if self.tty_fd is not None:
                _tty_write(self.tty_fd, "\r\n  no answer in time: denied\r\n")
            return None
        return Reply(answer, scope or remember, time.monotonic() - start)

    # ----------------------------------------------------------------- socket API

    def _broadcast(self, data: dict) -> None:
        """Send to every client (caller holds the lock); a client that cannot take it is dropped."""
        line = (json.dumps(data, sort_keys=True) + "\n").encode("utf-8")
        for c in list(self._clients):
            if not self._send(c, line):
                self._drop(c)

    @staticmethod
    def _send(c: _Client, line: bytes) -> bool:
        try:
            c.sock.sendall(line)
            return True
        except OSError:
            return False

    def _drop(self, c: _Client) -> None:
        if c in self._clients:
            self._clients.remove(c)
        c.sock.close()

    def _serve(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
                socks = [c.sock for c in self._clients]
            ready, _, _ = select.select([self._listener, self._wake_r, *socks], [], [])
            if self._wake_r in ready:
                return
            if self._listener in ready:
                self._accept()
            for c in list(self._clients):
                if c.sock in ready:
                    self._read(c)

    def _accept(self) -> None:
        try:
            sock, _ = self._listener.accept()
        except OSError:
            return
        sock.settimeout(2.0)
        pid = _peer_pid(sock)
        c = _Client(sock)
        if pid is None or not self.peer_ok(pid):
            self._send(c, b'{"message": "refused: the sandbox cannot answer its own questions", '
                          b'"type": "error"}\n')
            sock.close()
            return
        hello = {"type": "hello", "version": API_VERSION, "supervisor_pid": os.getpid()}
        with self._cond:
            self._clients.append(c)
            self._broadcast_to(c, [hello, *self._open.values()])

    def _broadcast_to(self, c: _Client, items: list[dict]) -> None:
        for data in items:
            if not self._send(c, (json.dumps(data, sort_keys=True) + "\n").encode("utf-8")):
                self._drop(c)
                return

    def _read(self, c: _Client) -> None:
        try:
            chunk = c.sock.recv(65536)
        except OSError:
            chunk = b""
        with self._cond:
            if not chunk:
                self._drop(c)
                return
            c.buffer += chunk
            if len(c.buffer) > MAX_LINE and b"\n" not in c.buffer:
                self._send(c, b'{"message": "line too long", "type": "error"}\n')
                self._drop(c)
                return
            while b"\n" in c.buffer:
                line, c.buffer = c.buffer.split(b"\n", 1)
                if line.strip():
                    self._answer(c, line)

    def _answer(self, c: _Client, line: bytes) -> None:
        """One answer line (caller holds the lock)."""
        try:
            qid, answer, remember = parse_answer(line)
        except ValueError as exc:
            self._broadcast_to(c, [{"type": "error", "message": str(exc)}])
            return
        if qid not in self._open or qid in self._answers:
            self._broadcast_to(c, [{"type": "error", "id": qid, "message": f"question {qid} is not open "
                                    "(answered already, or denied at its deadline)"}])
            return
        self._answers[qid] = (answer, remember)
        self._broadcast_to(c, [{"type": "ack", "id": qid}])
        self._cond.notify_all()


def _peer_pid(sock: socket.socket) -> int | None:
    import struct

    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return None
    pid, _, _ = struct.unpack("3i", creds)
    return pid or None


# --------------------------------------------------------------------------- terminal


def _open_tty() -> int | None:
    try:
        return os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        return None


def _tty_write(fd: int, text: str) -> None:
    try:
        os.write(fd, text.encode("utf-8", "replace"))
    except OSError:
        pass


def _tty_question(q: dict) -> str:
    who = f"{os.path.basename(q['executable']) or 'process'} (pid {q['pid']})"
    return (f"\r\nawpolicy: {who} asks to {q['access']} {q['path']}\r\n"
            f"  rule {q['rule']} at {q['origin']} ({q['scope']}) covers {q['subject']}\r\n"
            f"  [y] allow for this session  [a] allow ({q['remember']})  "
            f"[n] deny for this session  [d] deny ({q['remember']})\r\n"
            f"  {q['deadline']:.0f} s to answer, then denied: ")


def _tty_answer(line: bytes) -> tuple[str, str] | None:
    key = line.strip().lower()[:1]
    return {b"y": ("allow", "session"), b"a": ("allow", "default"),
            b"n": ("deny", "session"), b"d": ("deny", "default")}.get(key)
