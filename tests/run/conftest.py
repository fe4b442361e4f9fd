"""Fixtures for `awpolicy run`: bundles compiled into tmp, a fake machine layout, a CLI runner.

The machine: a temporary HOME holding a fake ``~/.ssh/id_rsa``, a git
workspace, and a TMPDIR of its own (so the policy's ``${TMPDIR}`` grant does
not cover HOME). The launcher runs as a user would run it: ``python -m
aw_policy run ...`` in the workspace, with an environment that also holds
credential-like variables.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import GOLDEN_SOURCES, compile_bundle, layered_bundles

#: The interpreter used *inside* the sandbox: the system one, under /usr (allowed to
#: execute by the golden policy), unlike the venv's.
SANDBOX_PYTHON = "/usr/bin/python3"

SECRETS = {
    "AWS_SECRET_ACCESS_KEY": "aws-secret", "AWS_ACCESS_KEY_ID": "AKIA0000", "GITHUB_TOKEN": "ghp_secret",
    "GH_TOKEN": "gh-secret", "OPENAI_API_KEY": "sk-secret", "NPM_TOKEN": "npm-secret",
    "DB_PASSWORD": "hunter2", "SSH_AUTH_SOCK": "/tmp/ssh-agent.sock",
}



@pytest.fixture(scope="session")
def golden_bundle(tmp_path_factory) -> Path:
    """The golden sources compiled into tmp (never the committed bundle)."""
    return compile_bundle(tmp_path_factory.mktemp("golden") / "bundle", *GOLDEN_SOURCES)


@pytest.fixture(scope="session")
def extra_bundle(tmp_path_factory):
    """The golden sources plus one more session-scope layer given as DSL text, compiled once per text."""
    return layered_bundles(tmp_path_factory)


@dataclass
class Machine:
    root: Path
    home: Path
    ws: Path
    tmp: Path
    env: dict
    secrets = SECRETS

    def run_args(self, bundle: Path, cmd, opts=()) -> list[str]:
        return [sys.executable, "-m", "aw_policy", "run", *opts, str(bundle), "--", *map(str, cmd)]

    def run(self, bundle: Path, *cmd, opts=("--best-effort",), env=None, timeout=60, cwd=None):
        """`awpolicy run [opts] BUNDLE -- CMD`, in the workspace; a CompletedProcess (text)."""
        return subprocess.run(self.run_args(bundle, cmd, opts), cwd=cwd or self.ws, env={**self.env, **(env or {})},
                              capture_output=True, text=True, timeout=timeout, check=False)

    def popen(self, bundle: Path, *cmd, opts=("--best-effort",), **kwargs):
        return subprocess.Popen(self.run_args(bundle, cmd, opts), cwd=self.ws, env=self.env, text=True, **kwargs)

    def py(self, bundle: Path, code: str, *args, opts=("--best-effort",), **kwargs):
        """Python code run inside the sandbox by the system interpreter."""
        return self.run(bundle, SANDBOX_PYTHON, "-I", "-S", "-c", code, *args, opts=opts, **kwargs)

    def listing(self) -> dict[str, bytes | None]:
        """Every entry under the machine's root (HOME, workspace, TMPDIR), with file contents."""
        out = {}
        for dirpath, dirnames, filenames in os.walk(self.root):
            for name in dirnames:
                out[os.path.relpath(os.path.join(dirpath, name), self.root) + "/"] = None
            for name in filenames:
                p = os.path.join(dirpath, name)
                out[os.path.relpath(p, self.root)] = Path(p).read_bytes() if not os.path.islink(p) else b"->"
        return out

    @staticmethod
    def processes_with(marker: str) -> list[int]:
        """PIDs (host namespace) whose command line contains ``marker``."""
        pids = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                cmdline = Path(f"/proc/{d}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if marker in cmdline and "pytest" not in cmdline:
                pids.append(int(d))
        return pids

    @staticmethod
    def wait_until(predicate, timeout: float = 10.0, step: float = 0.05) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(step)
        return predicate()

    @staticmethod
    def kill_all(pids) -> None:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def make_machine(root: Path) -> Machine:
    home, ws, tmp = root / "home", root / "ws", root / "tmp"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("-----BEGIN FAKE PRIVATE KEY-----\n", encoding="utf-8")
    tmp.mkdir()
    ws.mkdir()
    subprocess.run(["git", "init", "-q", str(ws)], check=True)
    (ws / "README").write_text("hello from the workspace\n", encoding="utf-8")
    (ws / ".env").write_text("SECRET=1\n", encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(home), "TMPDIR": str(tmp),
           "FAVOURITE_COLOUR": "blue", **SECRETS}
    return Machine(root, home, ws, tmp, env)


@pytest.fixture
def machine(tmp_path) -> Machine:
    return make_machine(tmp_path / "machine")


@pytest.fixture(scope="module")
def module_machine(tmp_path_factory) -> Machine:
    """One machine shared by a module's tests (for a probe run once and read by many tests)."""
    return make_machine(tmp_path_factory.mktemp("machine"))
