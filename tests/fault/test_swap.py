"""Swaps between verification and launch: the bundle's files, the bundle directory, the workspace.

The launcher verifies the bundle once and from then on uses only the verified
bytes (runtime/launcher.py). Two kinds of proof: the launcher's own steps
called in order with the swap done between them (deterministic), and real
`awpolicy run` processes raced by a swapper thread (many launches).
"""

from __future__ import annotations

import io
import os
import shutil
import threading
from pathlib import Path

import pytest
from aw_runtime import launcher

SECRET_RULE = 'fs { deny read "${WORKSPACE}/secret.txt" }\n'
#: exit 10: the secret was read; 20: it was not (the strict bundle's decision)
PROBE = ("/bin/sh", "-c", "cat secret.txt >/dev/null 2>&1 && exit 10 || exit 20")
READ, DENIED = 10, 20


@pytest.fixture
def strict(extra_bundle) -> Path:
    """The golden policy plus a deny on ${WORKSPACE}/secret.txt."""
    return extra_bundle(SECRET_RULE)


@pytest.fixture
def secret(machine) -> Path:
    path = machine.ws / "secret.txt"
    path.write_text("the secret\n")
    return path


def _request(bundle) -> launcher.RunRequest:
    return launcher.RunRequest(bundle=str(bundle), argv=PROBE, best_effort=True, branch_on_exit="discard")


def _steps(machine, bundle, between=lambda: None, cwd=None) -> tuple[int, str]:
    """prepare (verify, bind, recheck), then ``between()``, then the Linux launch; (status, stderr)."""
    cwd = str(cwd or machine.ws)
    req = _request(bundle)
    prep = launcher.prepare(req, machine.env, cwd)
    between()
    err = io.StringIO()
    try:
        status = launcher.run_linux(prep, req, cwd, err)
    except launcher.Refused as exc:
        return launcher.EXIT_REFUSED, exc.text
    return status, err.getvalue()


def _replace_contents(target: Path, source: Path) -> None:
    """Make directory ``target`` hold exactly ``source``'s files (each replaced in place)."""
    for name in os.listdir(target):
        os.unlink(target / name)
    for name in os.listdir(source):
        shutil.copyfile(source / name, target / name)


def _point(link: Path, target: Path) -> None:
    """Retarget symlink ``link`` atomically."""
    tmp = link.with_name(link.name + ".new")
    os.symlink(target, tmp)
    os.replace(tmp, link)


# --------------------------------------------------------------------------- the launcher's steps


def test_the_probe_tells_the_two_bundles_apart(machine, strict, golden_bundle, secret):
    assert _steps(machine, golden_bundle)[0] == READ
    assert _steps(machine, strict)[0] == DENIED


def test_bundle_files_replaced_after_verification_are_never_used(machine, strict, golden_bundle, secret, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(strict, bundle)
    status, err = _steps(machine, bundle, between=lambda: _replace_contents(bundle, golden_bundle))
    assert status == DENIED, err
    assert (bundle / "linux.json").read_bytes() == (golden_bundle / "linux.json").read_bytes()  # the swap happened


def test_a_bundle_symlink_retargeted_after_verification_is_never_followed(machine, strict, golden_bundle, secret,
                                                                          tmp_path):
    link = tmp_path / "current"
    os.symlink(strict, link)
    status, err = _steps(machine, link, between=lambda: _point(link, golden_bundle))
    assert status == DENIED, err
    assert os.readlink(link) == str(golden_bundle)


# --------------------------------------------------------------------------- real launches, raced


def _frankenstein(strict: Path, permissive: Path, where: Path) -> Path:
    """The strict bundle's manifest with the permissive bundle's plan and IR: must never verify."""
    shutil.copytree(strict, where)
    for name in ("linux.json", "policy.json"):
        shutil.copyfile(permissive / name, where / name)
    return where


def _race(machine, bundle_arg: Path, flip, rounds: int = 12) -> dict[int, int]:
    """Launch ``rounds`` real `awpolicy run`s while a thread calls ``flip()`` as fast as it can."""
    stop = threading.Event()

    def swapper():
        while not stop.is_set():
            flip()

    thread = threading.Thread(target=swapper, daemon=True)
    thread.start()
    outcomes: dict[int, int] = {}
    try:
        for _ in range(rounds):
            result = machine.run(bundle_arg, *PROBE, opts=("--best-effort", "--discard-branch"), timeout=60)
            assert "Traceback" not in result.stderr, result.stderr
            outcomes[result.returncode] = outcomes.get(result.returncode, 0) + 1
    finally:
        stop.set()
        thread.join()
    return outcomes


def test_raced_bundle_symlink_is_either_refused_or_enforced_never_mixed(machine, strict, golden_bundle, secret,
                                                                         tmp_path):
    mixed = _frankenstein(strict, golden_bundle, tmp_path / "mixed")
    link = tmp_path / "current"
    os.symlink(strict, link)
    state = {"n": 0}

    def flip():
        state["n"] += 1
        _point(link, mixed if state["n"] % 2 else strict)

    outcomes = _race(machine, link, flip)
    assert set(outcomes) <= {DENIED, launcher.EXIT_REFUSED}, outcomes
    assert state["n"] > 10  # the swapper really ran during the launches


def test_raced_plan_file_is_either_refused_or_enforced_never_mixed(machine, strict, golden_bundle, secret, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(strict, bundle)
    versions = [(bundle / "linux.json").read_bytes(), (golden_bundle / "linux.json").read_bytes()]
    state = {"n": 0}

    def flip():
        state["n"] += 1
        tmp = bundle.parent / "linux.json.tmp"
        tmp.write_bytes(versions[state["n"] % 2])
        os.replace(tmp, bundle / "linux.json")

    outcomes = _race(machine, bundle, flip)
    assert set(outcomes) <= {DENIED, launcher.EXIT_REFUSED}, outcomes
    assert state["n"] > 10


# --------------------------------------------------------------------------- the workspace itself

PRIVATE_PROBE = "cat '{private}' >/dev/null 2>&1 && exit 10 || exit 20"


def _swap_for_symlink(path: Path, target: Path) -> None:
    """What an attacker with write access to ``path``'s parent does: move it aside, link it elsewhere."""
    os.rename(path, path.with_name(path.name + ".moved"))
    os.symlink(target, path)


def _private_file(machine, component: str) -> Path:
    """A file outside every grant, reached through the workspace's path once ``component`` is swapped."""
    if component == "workspace":  # WS -> HOME
        private = machine.home / "notes.txt"
    else:  # MACHINE -> OUT, so MACHINE/ws is OUT/ws
        private = machine.root.with_name("out") / "ws" / "notes.txt"
        private.parent.mkdir(parents=True)
    private.write_text("private notes\n")
    return private


def _swap(machine, component: str) -> None:
    if component == "workspace":
        _swap_for_symlink(machine.ws, machine.home)
    else:
        _swap_for_symlink(machine.root, machine.root.with_name("out"))


def _request_reading(bundle, private: Path) -> launcher.RunRequest:
    return launcher.RunRequest(bundle=str(bundle), argv=("/bin/sh", "-c", PRIVATE_PROBE.format(private=private)),
                               best_effort=True, branch_on_exit="discard")


def test_the_private_file_is_unreadable_without_a_swap(machine, golden_bundle):
    for component in ("workspace", "its parent"):
        private = _private_file(machine, component)
        status, err = _steps_with(machine, _request_reading(golden_bundle, private))
        assert status == DENIED, err


def _steps_with(machine, req) -> tuple[int, str]:
    prep = launcher.prepare(req, machine.env, str(machine.ws))
    err = io.StringIO()
    return launcher.run_linux(prep, req, str(machine.ws), err), err.getvalue()


@pytest.mark.parametrize("component", ["workspace", "its parent"])
def test_workspace_swapped_for_a_symlink_after_binding_is_refused(machine, golden_bundle, component):
    """WORKSPACE is bound (resolved) first; then it, or a directory above it, is replaced by a symlink
    to a place outside the grants. The launch must not grant that place as if it were the workspace."""
    private = _private_file(machine, component)
    cwd = str(machine.ws)
    req = _request_reading(golden_bundle, private)
    prep = launcher.prepare(req, machine.env, cwd)
    assert prep.params["WORKSPACE"] == cwd
    _swap(machine, component)
    with pytest.raises(launcher.Refused) as info:
        launcher.run_linux(prep, req, cwd, io.StringIO())
    assert info.value.code == launcher.BAD_PARAMS
    assert f"WORKSPACE={cwd} now resolves to" in info.value.text, info.value.text


@pytest.mark.parametrize("component", ["workspace", "its parent"])
def test_workspace_swapped_after_the_plan_is_bound_is_refused_inside_the_sandbox(machine, golden_bundle, component):
    """The plan is bound (its paths resolved), then the workspace's path is made to lead elsewhere before the
    sandbox mounts the branch and applies Landlock: those would land elsewhere. The launch is refused."""
    from aw_runtime.linux import LaunchError, run

    private = _private_file(machine, component)
    cwd = str(machine.ws)
    req = _request_reading(golden_bundle, private)
    prep = launcher.prepare(req, machine.env, cwd)
    plan = launcher._bind_linux_plan(prep, req, cwd)
    _swap(machine, component)
    with pytest.raises(LaunchError) as info:
        run(plan, list(req.argv))
    assert cwd in info.value.message, info.value


def test_without_a_branch_the_landlock_rule_itself_refuses_a_swapped_path(machine, tmp_path):
    """No overlay to mount: the Landlock rule would be the first to follow the symlink. It is refused."""
    from aw_runtime.linux import LaunchError, run
    from helpers import compile_bundle

    source = tmp_path / "nobranch.awp"
    source.write_text('scope project\ninclude "linux-base"\ndefault deny\nfs { allow read,write "${WORKSPACE}" }\n')
    bundle = compile_bundle(tmp_path / "bundle", source)
    private = _private_file(machine, "its parent")
    cwd = str(machine.ws)
    req = _request_reading(bundle, private)
    prep = launcher.prepare(req, machine.env, cwd)
    plan = launcher._bind_linux_plan(prep, req, cwd)
    assert plan.branch is None
    assert _steps_with(machine, req)[0] == DENIED  # unswapped, the private file is out of reach
    _swap(machine, "its parent")
    with pytest.raises(LaunchError) as info:
        run(plan, list(req.argv))
    assert info.value.stage == "landlock" and f"{cwd} now leads to {private.parent}" in info.value.message
