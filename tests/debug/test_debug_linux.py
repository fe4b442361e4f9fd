"""Debug mode on Linux, for real: a debugger-like ptrace attach inside the sandbox works, outside it fails.

Every test launches ``awpolicy run`` (the golden policy, as a user would) with
``ptrace_probe.py`` inside: it forks a child and attaches to it (PTRACE_ATTACH,
PEEKDATA, process_vm_readv), and tries PTRACE_SEIZE on other pids. The "outside"
targets are a process this test starts outside the sandbox (its host pid, raw,
and looked up through /proc) and the sandbox's PID 1 (the runtime's init: inside
the PID namespace, so nameable, but outside the Landlock domain).
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import GOLDEN_SOURCES, run_cli

PROBE = (Path(__file__).parent / "ptrace_probe.py").read_text(encoding="utf-8")
SANDBOX_PYTHON = "/usr/bin/python3"  # under /usr, which the golden policy lets run


def _landlock_abi() -> int:
    if sys.platform != "linux":
        return 0
    libc = ctypes.CDLL(None, use_errno=True)
    return max(libc.syscall(444, None, 0, 1), 0)  # landlock_create_ruleset(NULL, 0, VERSION)


pytestmark = [
    pytest.mark.skipif(sys.platform != "linux", reason="Linux enforcement"),
    pytest.mark.skipif(_landlock_abi() < 1, reason="debug mode needs Landlock to fence ptrace"),
    pytest.mark.skipif(not os.path.exists(SANDBOX_PYTHON), reason="needs the system python3 under /usr"),
]


def compile_bundle(out: Path, *extra: tuple[str, str]) -> Path:
    sources = [str(p) for p in GOLDEN_SOURCES]
    for i, (scope, text) in enumerate(extra):
        layer = out.parent / f"{scope}{i}.awp"
        layer.write_text(f"scope {scope}\n{text}", encoding="utf-8")
        sources.append(str(layer))
    result = run_cli("compile", *sources, "-o", str(out))
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    base = tmp_path_factory.mktemp("debug-bundles")
    (base / "plain").mkdir()
    (base / "rule").mkdir()
    (base / "locked").mkdir()
    return {
        "plain": compile_bundle(base / "plain" / "bundle"),
        "rule": compile_bundle(base / "rule" / "bundle", ("session", "debug { allow same-sandbox }\n")),
        "locked": compile_bundle(base / "locked" / "bundle", ("org", "debug { enforce deny same-sandbox }\n")),
    }


@pytest.fixture(scope="module")
def machine(tmp_path_factory):
    root = tmp_path_factory.mktemp("debug-machine")
    home, ws, tmp = root / "home", root / "ws", root / "tmp"
    for d in (home, ws, tmp):
        d.mkdir()
    subprocess.run(["git", "init", "-q", str(ws)], check=True)
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(home), "TMPDIR": str(tmp)}
    return ws, env


@pytest.fixture(scope="module")
def outsider():
    """A process outside the sandbox, started by the test: what no debugger inside may reach."""
    proc = subprocess.Popen(["sleep", "300"])
    yield proc.pid
    proc.kill()
    proc.wait()


def probe(machine, bundle: Path, outsider: int, *flags: str):
    ws, env = machine
    argv = [sys.executable, "-m", "aw_policy", "run", "--best-effort", *flags, str(bundle), "--",
            SANDBOX_PYTHON, "-I", "-S", "-c", PROBE, "child", "pid:1", f"pid:{outsider}"]
    result = subprocess.run(argv, cwd=ws, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    return answers["child"], answers["pid:1"], answers[f"pid:{outsider}"], result.stderr


def not_traced(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status").read_text()
    return "\nTracerPid:\t0\n" in status


def test_without_debug_mode_every_attach_fails(machine, bundles, outsider):
    child, init, outside, _ = probe(machine, bundles["plain"], outsider)
    assert child == {"attach": "EPERM", "vm_readv": "EPERM"}  # the system call filter refuses ptrace itself
    assert init == {"seize": "EPERM", "in_proc": True}
    assert outside == {"seize": "EPERM", "in_proc": False}
    assert not_traced(outsider)


@pytest.mark.parametrize("how", ["flag", "rule"])
def test_debug_mode_attaches_inside_and_never_outside(machine, bundles, outsider, how):
    bundle, flags = (bundles["plain"], ("--debug",)) if how == "flag" else (bundles["rule"], ())
    child, init, outside, _ = probe(machine, bundle, outsider, *flags)
    assert child == {"attach": "ok", "peek": "ok", "vm_readv": "ok"}  # attached, read the child's memory
    # PID 1 of the sandbox's namespace is the runtime's init, outside the Landlock domain:
    # nameable, yet Landlock refuses the attach.
    assert init == {"seize": "EPERM", "in_proc": True}
    # The outside process has no pid in the sandbox's namespace: neither the raw pid nor /proc finds it.
    assert outside == {"seize": "ESRCH", "in_proc": False}
    assert not_traced(outsider)


def test_enforced_org_deny_overrides_the_flag(machine, bundles, outsider):
    child, init, outside, stderr = probe(machine, bundles["locked"], outsider, "--debug")
    assert child == {"attach": "EPERM", "vm_readv": "EPERM"}
    assert init["seize"] == "EPERM" and outside["seize"] == "EPERM"
    assert "note: --debug cannot allow debug same-sandbox: enforce deny debug same-sandbox is enforced " \
           "by the org policy" in stderr


RUN_UNFENCED = """
import sys
from aw_runtime.linux import run
from aw_runtime.linux.plan import DEFAULT_SECCOMP_DENY, FsGrant, LinuxPlan, Network
plan = LinuxPlan(fs=(FsGrant("/", frozenset({"read", "exec"})),), masks=(), branch=None, network=Network(),
                 scopes=frozenset(), seccomp_deny=DEFAULT_SECCOMP_DENY, env={"PATH": "/usr/bin:/bin"}, cwd="/",
                 best_effort=True, debug=True)
sys.exit(run(plan, sys.argv[1:], _host={"root": False, "userns": False}).status)
"""


def test_without_namespaces_debug_mode_is_not_granted():
    """A plan asking for debug mode on a host where the command gets no PID namespace
    (simulated: unprivileged, no user namespaces) keeps ptrace blocked: fail closed."""
    result = subprocess.run([sys.executable, "-c", RUN_UNFENCED, SANDBOX_PYTHON, "-I", "-S", "-c", PROBE, "child"],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "namespaces" in result.stderr  # best effort names what it could not do
    assert json.loads(result.stdout.strip().splitlines()[-1])["child"] == {"attach": "EPERM", "vm_readv": "EPERM"}
