"""The sandboxed command killed by every signal, through a real `awpolicy run`.

For each signal whose default action ends a process, the command (a shell that
first starts a background `sleep`) sends it to itself: `awpolicy run` must exit
128+N, and nothing of the session may remain: no process, no mount, no branch
directory. The signals whose default action is to stop, continue or ignore must
neither end the session nor hang the launcher.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

#: Default action "ignore" or "stop"/"continue": they never end a process.
NOT_FATAL = {signal.SIGCHLD, signal.SIGCONT, signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU,
             signal.SIGURG, signal.SIGWINCH}
FATAL = [s for s in range(1, 32) if s not in NOT_FATAL]
STOPPING = [signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU]
IGNORED = [signal.SIGCHLD, signal.SIGURG, signal.SIGWINCH, signal.SIGCONT]
OPTS = ("--best-effort", "--discard-branch")


def _marker() -> str:
    return f"{random.randint(10_000, 99_999)}.{random.randint(100_000, 999_999)}"


def _mounts_mentioning(root: Path) -> list[str]:
    """Host mount table lines naming anything under ``root`` (other sessions' mounts are not ours)."""
    text = Path("/proc/self/mountinfo").read_text()
    return [line for line in text.splitlines() if str(root) in line or "awpolicy-branch-" in line]


def _session_leftovers(machine) -> list[str]:
    return sorted(p for p in os.listdir(machine.tmp) if p.startswith("awpolicy-"))


def _name(sig: int) -> str:
    return signal.Signals(sig).name


@pytest.mark.parametrize("sig", FATAL, ids=_name)
def test_the_command_killed_by_a_signal_is_128_plus_n_and_leaves_nothing(machine, golden_bundle, sig):
    marker = _marker()
    mounts = _mounts_mentioning(machine.root)
    # The daemon was running when the command died: its absence afterwards is the session's doing.
    script = f"sleep {marker} </dev/null >/dev/null 2>&1 & kill -0 $! && kill -{sig} $$; echo survived"
    try:
        result = machine.run(golden_bundle, "/bin/sh", "-c", script, opts=OPTS, timeout=30)
        assert result.returncode == 128 + sig, (result.returncode, result.stdout, result.stderr)
        assert "survived" not in result.stdout
        assert "Traceback" not in result.stderr
        assert machine.wait_until(lambda: not machine.processes_with(f"sleep {marker}"), timeout=5), \
            machine.processes_with(f"sleep {marker}")
        assert _mounts_mentioning(machine.root) == mounts
        assert _session_leftovers(machine) == []
    finally:
        machine.kill_all(machine.processes_with(f"sleep {marker}"))


def _command_pids(marker: str) -> list[int]:
    """Host PIDs of the sandboxed shell itself (not the launcher, whose argv also holds the script)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            argv = Path(f"/proc/{d}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[0] == b"/bin/sh" and any(marker.encode() in a for a in argv):
            out.append(int(d))
    return out


def _state(pid: int) -> str:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rfind(")") + 2]


@pytest.mark.parametrize("sig", STOPPING, ids=_name)
def test_a_command_stopped_by_a_signal_resumes_on_sigcont_and_its_status_is_its_own(machine, golden_bundle, sig):
    """SIGSTOP always stops. TSTP/TTIN/TTOU stop too unless the process group is orphaned (as under a
    launcher with no job control), where the kernel discards them: then the command simply goes on."""
    marker = _marker()
    script = f": {marker}; kill -{sig} $$; echo resumed; exit 3"
    launcher = machine.popen(golden_bundle, "/bin/sh", "-c", script, opts=OPTS,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def stopped() -> bool:
        return any(_state(p) == "T" for p in _command_pids(marker))

    try:
        assert machine.wait_until(lambda: stopped() or launcher.poll() is not None, timeout=10)
        if sig == signal.SIGSTOP:
            assert stopped()
        if stopped():
            time.sleep(0.2)
            assert launcher.poll() is None  # a stop is not an end: the launcher keeps waiting
            for pid in _command_pids(marker):
                os.kill(pid, signal.SIGCONT)
        out, err = launcher.communicate(timeout=10)
        assert launcher.returncode == 3, err
        assert out == "resumed\n"
    finally:
        launcher.kill()
        launcher.wait()


@pytest.mark.parametrize("sig", IGNORED, ids=_name)
def test_a_signal_ignored_by_default_does_not_end_the_command(machine, golden_bundle, sig):
    result = machine.run(golden_bundle, "/bin/sh", "-c", f"kill -{sig} $$; echo alive; exit 5", opts=OPTS,
                         timeout=30)
    assert (result.returncode, result.stdout) == (5, "alive\n"), result.stderr


def test_the_launcher_stopped_and_continued_still_reports_the_command(machine, golden_bundle):
    """SIGSTOP then SIGCONT to `awpolicy run` itself (a shell's Ctrl-Z and `fg`): no hang, no lost status."""
    launcher = machine.popen(golden_bundle, "/bin/sh", "-c", "echo ready; sleep 0.5; exit 9", opts=OPTS,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert launcher.stdout.readline() == "ready\n"
        launcher.send_signal(signal.SIGSTOP)
        time.sleep(1.0)  # the command ends while the launcher is stopped
        assert _state(launcher.pid) == "T"
        launcher.send_signal(signal.SIGCONT)
        assert launcher.wait(timeout=10) == 9, launcher.stderr.read()
    finally:
        launcher.kill()
        launcher.wait()
