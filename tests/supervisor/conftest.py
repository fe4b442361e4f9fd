"""Fixtures for the prompt supervisor: real `awpolicy run` launches as root, answered over the socket API.

The machine: a temporary HOME with ``Documents/`` (the golden user layer says
``prompt read "~/Documents"``), a git workspace, a TMPDIR of its own. Each test
gets its own approvals state directory and audit log, so nothing is remembered
between tests. :class:`Answerer` is an IDE-like client of the socket API that
answers from a function and records every message it gets.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers import layered_bundles

SANDBOX_PYTHON = "/usr/bin/python3"


def _fanotify_ok() -> str | None:
    if os.geteuid() != 0:
        return "fanotify permission events need root"
    from aw_runtime.supervisor import fanotify_available

    return fanotify_available()


def pytest_configure(config):
    config.addinivalue_line("markers", "no_root: runs (and skips on its own terms) where fanotify is unavailable")


def pytest_collection_modifyitems(config, items):
    why = _fanotify_ok()
    if why:
        here = Path(__file__).parent
        for item in items:
            if Path(str(item.fspath)).is_relative_to(here) and "no_root" not in item.keywords:
                item.add_marker(pytest.mark.skip(reason=why))


@pytest.fixture(scope="session")
def bundle_with(tmp_path_factory):
    """The golden sources plus an optional session layer (DSL text), compiled once per text."""
    return layered_bundles(tmp_path_factory)


@dataclass
class Machine:
    root: Path
    home: Path
    ws: Path
    tmp: Path
    socket: Path
    audit: Path
    env: dict

    def run(self, bundle: Path, *cmd, env=None, timeout=60, opts=("--best-effort", "--discard-branch")):
        args = [sys.executable, "-m", "aw_policy", "run", *opts, str(bundle), "--", *map(str, cmd)]
        return subprocess.run(args, cwd=self.ws, env={**self.env, **(env or {})}, capture_output=True, text=True,
                              timeout=timeout, check=False, stdin=subprocess.DEVNULL)

    def py(self, bundle: Path, code: str, *args, **kwargs):
        return self.run(bundle, SANDBOX_PYTHON, "-I", "-S", "-c", code, *args, **kwargs)

    def audit_records(self) -> list[dict]:
        return [json.loads(line) for line in self.audit.read_text().splitlines()] if self.audit.exists() else []


@pytest.fixture
def machine(tmp_path) -> Machine:
    root = tmp_path / "m"
    home, ws, tmp = root / "home", root / "ws", root / "tmp"
    (home / "Documents").mkdir(parents=True)
    (home / "Documents" / "plan.txt").write_text("the plan\n")
    (home / "Documents" / "notes.txt").write_text("the notes\n")
    tmp.mkdir()
    ws.mkdir()
    subprocess.run(["git", "init", "-q", str(ws)], check=True)
    sock = tmp / "prompt.sock"
    audit = root / "audit.jsonl"
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(home), "TMPDIR": str(tmp),
           "AWPOLICY_PROMPT_SOCKET": str(sock), "AWPOLICY_PROMPT_DEADLINE": "4",
           "AWPOLICY_STATE_DIR": str(root / "state"), "AWPOLICY_AUDIT_LOG": str(audit)}
    return Machine(root, home, ws, tmp, sock, audit, env)


@dataclass
class Answerer:
    """A socket API client in a thread: connects as soon as the socket exists, answers each question."""

    path: Path
    decide: object  # question dict -> answer dict fields ({"answer": ..., "remember": ...}) or None (no answer)
    messages: list = field(default_factory=list)
    hello: dict | None = None

    def start(self) -> Answerer:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    @property
    def questions(self) -> list[dict]:
        return [m for m in self.messages if m["type"] == "question"]

    def _run(self) -> None:
        deadline = time.monotonic() + 30
        while not self.path.exists():
            if time.monotonic() > deadline:
                return
            time.sleep(0.005)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(str(self.path))
        self.sock = s
        with s.makefile("rwb") as f:
            for line in f:
                msg = json.loads(line)
                self.messages.append(msg)
                if msg["type"] == "hello":
                    self.hello = msg
                elif msg["type"] == "question":
                    reply = self.decide(msg)
                    if reply is not None:
                        f.write((json.dumps({"id": msg["id"], **reply}) + "\n").encode())
                        f.flush()

    def stop(self) -> None:
        sock = getattr(self, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.thread.join(timeout=5)


@pytest.fixture
def answerer(machine):
    started = []

    def start(decide) -> Answerer:
        a = Answerer(machine.socket, decide).start()
        started.append(a)
        return a

    yield start
    for a in started:
        a.stop()
