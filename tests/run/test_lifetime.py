"""Exit status, signals and process lifetime through `awpolicy run` (real processes)."""

from __future__ import annotations

import random
import signal
import subprocess

import pytest


def _marker() -> str:
    # a `sleep` argument no other process on the machine has: finds the sandboxed process from outside
    return f"{random.randint(10_000, 99_999)}.{random.randint(100_000, 999_999)}"


@pytest.mark.parametrize("code", [0, 1, 7, 255])
def test_exit_status_propagates(machine, golden_bundle, code):
    result = machine.run(golden_bundle, "/bin/sh", "-c", f"exit {code}", opts=("--best-effort", "--discard-branch"))
    assert result.returncode == code, result.stderr


def test_death_by_signal_is_128_plus_n(machine, golden_bundle):
    result = machine.run(golden_bundle, "/bin/sh", "-c", "kill -USR1 $$", opts=("--best-effort", "--discard-branch"))
    assert result.returncode == 128 + signal.SIGUSR1


def test_command_not_found_is_127(machine, golden_bundle):
    result = machine.run(golden_bundle, "/usr/bin/no-such-command", opts=("--best-effort", "--discard-branch"))
    assert result.returncode == 127
    assert "no-such-command" in result.stderr


@pytest.mark.parametrize("sig, expected", [(signal.SIGTERM, 42), (signal.SIGINT, 43), (signal.SIGHUP, 44)])
def test_signals_sent_to_the_launcher_reach_the_command(machine, golden_bundle, sig, expected):
    script = ("trap 'exit 42' TERM; trap 'exit 43' INT; trap 'exit 44' HUP; echo ready; "
              "while :; do sleep 0.05; done")
    launcher = machine.popen(golden_bundle, "/bin/sh", "-c", script, opts=("--best-effort", "--discard-branch"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert launcher.stdout.readline().strip() == "ready"
        launcher.send_signal(sig)
        assert launcher.wait(timeout=20) == expected
    finally:
        launcher.kill()
        launcher.wait()


def test_an_untrapped_signal_kills_the_command_and_is_reported(machine, golden_bundle):
    launcher = machine.popen(golden_bundle, "/bin/sh", "-c", "echo ready; exec sleep 300",
                             opts=("--best-effort", "--discard-branch"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert launcher.stdout.readline().strip() == "ready"
        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(timeout=20) == 128 + signal.SIGTERM
    finally:
        launcher.kill()
        launcher.wait()


def test_a_forked_daemon_does_not_outlive_the_session(machine, golden_bundle):
    marker = _marker()
    # started: the daemon was running when the command exited (so its absence afterwards means something)
    script = f"setsid sleep {marker} </dev/null >/dev/null 2>&1 & sleep 0.2; kill -0 $! && echo started"
    result = machine.run(golden_bundle, "/bin/sh", "-c", script, opts=("--best-effort", "--discard-branch"))
    try:
        assert result.returncode == 0 and result.stdout.strip() == "started", result.stderr
        assert machine.wait_until(lambda: not machine.processes_with(f"sleep {marker}"), timeout=5)
    finally:
        machine.kill_all(machine.processes_with(f"sleep {marker}"))


def test_sigkill_of_the_launcher_leaves_no_sandboxed_process(machine, golden_bundle):
    marker = _marker()
    # a daemon and a foreground child: neither may survive the launcher
    script = f"setsid sleep {marker} </dev/null >/dev/null 2>&1 & echo ready; exec sleep {marker}"
    launcher = machine.popen(golden_bundle, "/bin/sh", "-c", script, opts=("--best-effort", "--discard-branch"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert launcher.stdout.readline().strip() == "ready"
        assert machine.wait_until(lambda: len(machine.processes_with(f"sleep {marker}")) == 2, timeout=10)
        launcher.send_signal(signal.SIGKILL)
        launcher.wait(timeout=10)
        assert machine.wait_until(lambda: not machine.processes_with(f"sleep {marker}"), timeout=10), \
            machine.processes_with(f"sleep {marker}")
    finally:
        machine.kill_all(machine.processes_with(f"sleep {marker}"))
        launcher.kill()
        launcher.wait()


def test_sigkill_of_the_launcher_removes_a_discarded_branch(machine, golden_bundle):
    before = machine.listing()
    launcher = machine.popen(golden_bundle, "/bin/sh", "-c", "echo data > new.txt; echo ready; exec sleep 300",
                             opts=("--best-effort", "--discard-branch"), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    try:
        assert launcher.stdout.readline().strip() == "ready"
        launcher.send_signal(signal.SIGKILL)
        launcher.wait(timeout=10)
        assert machine.wait_until(lambda: machine.listing() == before, timeout=10), \
            set(machine.listing()) ^ set(before)
    finally:
        launcher.kill()
        launcher.wait()
