"""End to end: the golden bundle applied by `awpolicy run` to real processes on the real kernel.

One sandboxed probe (the system python) tries every operation and reports the
errno of each; the tests below read its report. The golden policy lists one
rule Linux cannot enforce exactly (a glob inside the workspace), so these runs
pass --best-effort (the refusal without it is tested in test_refusals.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

PROBE = r"""
import ctypes, errno, json, os, signal, socket, subprocess, sys
args = json.loads(sys.argv[1])
out = {}

def attempt(name, fn):
    try:
        fn()
        out[name] = "ok"
    except OSError as e:
        out[name] = errno.errorcode.get(e.errno, str(e.errno))

def write(path):
    with open(path, "w") as f:
        f.write("probe\n")

def loopback_roundtrip():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.create_connection(server.getsockname(), timeout=5)
    conn, _ = server.accept()
    client.sendall(b"ping")
    assert conn.recv(4) == b"ping"

def ptrace_traceme():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.ptrace(0, 0, None, None) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))

attempt("read_workspace", lambda: open(args["readme"]).read())
attempt("read_ssh_key", lambda: open(args["id_rsa"]).read())
attempt("list_ssh_dir", lambda: os.listdir(args["ssh_dir"]))
attempt("write_workspace", lambda: write("new.txt"))
attempt("write_home", lambda: write(os.path.join(args["home"], "planted")))
attempt("write_root", lambda: write("/awpolicy-probe-planted"))
attempt("read_hidden", lambda: open(args["dotenv"]).read())
attempt("write_nested_env", lambda: write(args["nested_env"]))
attempt("read_nested_env", lambda: open(args["nested_env"]).read())
attempt("write_git_hooks", lambda: write(os.path.join(args["hooks"], "pre-commit")))
attempt("exec_system", lambda: subprocess.run(["/bin/true"], check=True))
attempt("exec_workspace", lambda: subprocess.run([args["copied_true"]], check=True))
attempt("connect_loopback", loopback_roundtrip)
attempt("connect_outside", lambda: socket.create_connection(("192.0.2.1", 80), timeout=3))
attempt("kill_outside", lambda: os.kill(args["outside_pid"], signal.SIGTERM))
attempt("ptrace", ptrace_traceme)
attempt("read_key_through_workspace_link", lambda: open(args["key_link"]).read())
attempt("write_outside_through_workspace_link", lambda: write(os.path.join(args["home_link"], "planted-by-link")))
def link_made_inside():
    os.symlink(args["id_rsa"], "made-inside")
    open("made-inside").read()
attempt("read_key_through_link_made_inside", link_made_inside)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def probe(golden_bundle, module_machine):
    """The probe's report, the machine's listing before and after, and whether the outside process survived."""
    machine = module_machine
    shutil.copy("/bin/true", machine.ws / "mytrue")
    (machine.ws / "config").mkdir()
    (machine.ws / "config" / ".env").write_text("TOKEN=1\n")
    (machine.ws / "keylink").symlink_to(machine.home / ".ssh" / "id_rsa")  # a workspace entry pointing out
    (machine.ws / "homelink").symlink_to(machine.home)
    outside = subprocess.Popen(["sleep", "300"])
    try:
        args = {"readme": str(machine.ws / "README"), "id_rsa": str(machine.home / ".ssh" / "id_rsa"),
                "ssh_dir": str(machine.home / ".ssh"), "home": str(machine.home),
                "dotenv": str(machine.ws / ".env"), "copied_true": str(machine.ws / "mytrue"),
                "outside_pid": outside.pid, "nested_env": str(machine.ws / "config" / ".env"),
                "hooks": str(machine.ws / ".git" / "hooks"), "key_link": str(machine.ws / "keylink"),
                "home_link": str(machine.ws / "homelink")}
        before = machine.listing()
        result = machine.py(golden_bundle, PROBE, json.dumps(args), opts=("--best-effort", "--discard-branch"))
        after = machine.listing()
        alive = outside.poll() is None
    finally:
        outside.kill()
        outside.wait()
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return {"report": report, "before": before, "after": after, "outside_alive": alive, "stderr": result.stderr}


def test_reading_the_workspace_works(probe):
    assert probe["report"]["read_workspace"] == "ok"


def test_reading_the_ssh_key_fails_with_eacces(probe):
    assert probe["report"]["read_ssh_key"] == "EACCES"
    assert probe["report"]["list_ssh_dir"] == "EACCES"


def test_writing_the_workspace_works(probe):
    assert probe["report"]["write_workspace"] == "ok"


def test_writing_home_or_root_fails(probe):
    assert probe["report"]["write_home"] == "EACCES"
    assert probe["report"]["write_root"] == "EACCES"
    assert not os.path.exists("/awpolicy-probe-planted")


def test_hidden_path_is_absent(probe):
    assert probe["report"]["read_hidden"] in ("ENOENT", "EACCES")


def test_deny_carve_outs_inside_the_workspace_hold(probe):
    # `deny write glob "${WORKSPACE}/**/.env"` on a file that exists at launch; read stays allowed
    assert probe["report"]["read_nested_env"] == "ok"
    assert probe["report"]["write_nested_env"] in ("EACCES", "EROFS", "EPERM")
    # the branch's `readonly "${WORKSPACE}/.git/hooks"`
    assert probe["report"]["write_git_hooks"] in ("EACCES", "EROFS", "EPERM")


def test_exec_outside_allowed_exec_paths_fails(probe):
    assert probe["report"]["exec_system"] == "ok"  # the control: /bin is an allowed exec path
    assert probe["report"]["exec_workspace"] == "EACCES"


def test_loopback_works_and_the_outside_network_is_unreachable(probe):
    assert probe["report"]["connect_loopback"] == "ok"
    assert probe["report"]["connect_outside"] in ("ENETUNREACH", "EACCES")


def test_signals_cannot_reach_processes_outside(probe):
    assert probe["report"]["kill_outside"] in ("EPERM", "ESRCH")
    assert probe["outside_alive"]


def test_symlinks_in_the_workspace_do_not_reach_what_they_point_to(probe, module_machine):
    # Landlock checks the file the path resolves to, not the link's place in the workspace
    assert probe["report"]["read_key_through_workspace_link"] == "EACCES"
    assert probe["report"]["read_key_through_link_made_inside"] == "EACCES"
    assert probe["report"]["write_outside_through_workspace_link"] == "EACCES"
    assert not (module_machine.home / "planted-by-link").exists()


def test_ptrace_fails(probe):
    assert probe["report"]["ptrace"] == "EPERM"


def test_writes_land_in_a_discarded_branch_and_nothing_is_left_behind(probe, module_machine):
    # new.txt was written inside the sandbox; the base workspace, HOME and TMPDIR are exactly as before
    assert probe["after"] == probe["before"]
    assert not (module_machine.ws / "new.txt").exists()

