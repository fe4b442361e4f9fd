"""Run real sandboxed processes from plans the Linux backend renders.

A test writes a small policy, ``Sandbox.plan`` compiles it (backend ->
linux.json document -> ``bind_plan``) and ``Sandbox.probe`` runs the probe
script below inside the sandbox with ``python -m aw_runtime.linux`` (a real
launcher process), returning what each attempted operation gave: ``"ok"`` or
the errno name (``"EACCES"``, ``"EROFS"``...).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import policy_from_texts

NOBODY = 65534
SANDBOX_PYTHON = "/usr/bin/python3"
BASE = 'include "linux-base"\n'

#: Executed inside the sandbox (passed with -c, so no file of ours must be readable there).
PROBE = r'''
import ctypes, errno, json, os, socket, subprocess, sys
held = []
def attempt(step):
    op, *args = step
    try:
        if op == "read":
            p = args[0]
            if os.path.isdir(p):
                os.listdir(p)
            else:
                with open(p, "rb") as f:
                    f.read(1)
        elif op == "write":
            with open(args[0], "ab") as f:
                f.write(b"x")
        elif op == "mkdir":
            os.mkdir(args[0])
        elif op == "exists":
            return "yes" if os.path.lexists(args[0]) else "no"
        elif op == "exec":
            return "exit %d" % subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        elif op == "rename":
            os.rename(args[0], args[1])
        elif op == "listen":
            s = socket.socket()
            s.bind(("127.0.0.1", args[0]))
            s.listen()
            held.append(s)
        elif op == "connect":
            s = socket.create_connection((args[0], args[1]), timeout=3)
            s.close()
        elif op == "kill":
            os.kill(args[0], args[1])
        elif op == "ptrace":
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.ptrace(0, 0, None, None) != 0:  # PTRACE_TRACEME
                raise OSError(ctypes.get_errno(), "ptrace")
        elif op == "unshare":
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.unshare(0x10000000) != 0:  # CLONE_NEWUSER
                raise OSError(ctypes.get_errno(), "unshare")
        elif op == "daemon":
            subprocess.Popen([sys.executable, "-c", "import os, time; os.setsid(); time.sleep(300)", args[0]],
                             start_new_session=True)
        else:
            return "bad op " + op
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
print(json.dumps([attempt(s) for s in json.loads(sys.argv[1])]))
'''


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    def answers(self) -> list:
        assert self.returncode == 0, f"sandbox failed ({self.returncode}): {self.stderr}"
        return json.loads(self.stdout.strip().splitlines()[-1])


class Sandbox:
    """A world-readable scratch tree (so runs as nobody work too) and helpers to launch into it."""

    def __init__(self, root: Path):
        self.root = root
        self.ws = root / "ws"
        self.home = root / "home"
        self.tmp = root / "tmp"
        for d in (self.ws, self.home, self.tmp):
            d.mkdir()

    @property
    def params(self) -> dict[str, str]:
        return {"WORKSPACE": str(self.ws), "HOME": str(self.home), "TMPDIR": str(self.tmp)}

    def document(self, *layers: tuple[str, str] | str) -> dict:
        from aw_policy.backends import linux

        pairs = [("project", layer) if isinstance(layer, str) else layer for layer in layers]
        return linux.plan_document(policy_from_texts(*pairs), self.params)

    def plan(self, *layers, best_effort: bool = False, on_exit: str | None = None, doc: dict | None = None):
        from aw_runtime.linux import bind_plan

        doc = doc if doc is not None else self.document(*layers)
        return bind_plan(doc, self.params, env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
                         cwd=str(self.ws), best_effort=best_effort, branch_on_exit=on_exit)

    def launcher(self, plan, argv: list[str], *, abi: int | None = None, user: int | None = None) -> list[str]:
        from aw_runtime.linux import plan_to_dict

        fd, path = tempfile.mkstemp(dir=self.root, suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(plan_to_dict(plan), f)
        os.chmod(path, 0o644)
        cmd = [sys.executable, "-m", "aw_runtime.linux"] + (["--abi", str(abi)] if abi is not None else [])
        cmd += [path, "--", *argv]
        if user is not None:
            cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
        return cmd

    def run(self, plan, argv: list[str], *, abi: int | None = None, user: int | None = None,
            timeout: float = 60) -> Result:
        p = subprocess.run(self.launcher(plan, argv, abi=abi, user=user), capture_output=True, text=True,
                           timeout=timeout, cwd=self.root, check=False)
        return Result(p.returncode, p.stdout, p.stderr)

    def probe(self, plan, *steps, **kw) -> Result:
        return self.run(plan, [SANDBOX_PYTHON, "-I", "-c", PROBE, json.dumps(steps)], **kw)


def make_sandbox():
    root = Path(tempfile.mkdtemp(prefix="awp-linux-"))
    os.chmod(root, 0o755)
    return Sandbox(root)


def give_to(path: Path, uid: int) -> None:
    """chown -R (the unprivileged tests run as ``uid``)."""
    for dirpath, dirnames, filenames in os.walk(path):
        os.chown(dirpath, uid, uid)
        for name in filenames:
            os.chown(os.path.join(dirpath, name), uid, uid, follow_symlinks=False)


def landlock_abi() -> int:
    from aw_runtime.linux import kernel_abi

    return kernel_abi()


def unprivileged_userns() -> str | None:
    """None when an unprivileged user can make a user namespace here, else why not."""
    if os.geteuid() != 0:
        return "the tests switch to an unprivileged uid, which needs root to start"
    if shutil.which("setpriv") is None:
        return "setpriv (util-linux) is not installed"
    p = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                        "unshare", "--user", "--map-root-user", "true"], capture_output=True, text=True, check=False)
    if p.returncode != 0:
        return f"unprivileged user namespaces are disabled: {p.stderr.strip()}"
    p = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", sys.executable,
                        "-c", "import aw_policy, aw_runtime"], capture_output=True, text=True, check=False, cwd="/")
    if p.returncode != 0:
        import aw_policy

        return (f"uid {NOBODY} cannot import awpolicy with {sys.executable} from {Path(aw_policy.__file__).parent}: "
                "the venv, or the checkout an editable install points to, is under a directory other users "
                f"cannot enter (mode 0700?): {p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ''}")
    return None


needs_landlock = pytest.mark.skipif(landlock_abi() < 1, reason="this kernel has no Landlock")


def alive(token: str) -> list[int]:
    """Pids of the processes whose command line holds ``token``."""
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    if token.encode() in f.read():
                        pids.append(int(d))
            except OSError:
                pass
    return pids


def wait_gone(token: str, seconds: float = 10) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(token):
            return []
        time.sleep(0.05)
    return alive(token)


def sandboxed(token: str) -> list[int]:
    """Pids of the sandboxed commands (run with SANDBOX_PYTHON) that hold ``token``."""
    out = []
    for pid in alive(token):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if f.read().split(b"\0")[0] == SANDBOX_PYTHON.encode():
                    out.append(pid)
        except OSError:
            pass
    return out


def sigkill_leaves_nothing(box: Sandbox, plan, user: int | None = None) -> list[int]:
    """Start a long command in the sandbox, SIGKILL the launcher once it runs; return what survives."""
    token = f"awp-orphan-{os.getpid()}-{time.monotonic_ns()}"
    cmd = box.launcher(plan, [SANDBOX_PYTHON, "-c", "import time; time.sleep(300)", token], user=user)
    launcher = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not sandboxed(token) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sandboxed(token), "the sandboxed command never started"
        launcher.kill()
        launcher.wait()
        return wait_gone(token)
    finally:
        if launcher.poll() is None:
            launcher.kill()
        for pid in alive(token):
            os.kill(pid, 9)
