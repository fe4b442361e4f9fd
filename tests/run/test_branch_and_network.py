"""The copy-on-write branch kept, and TCP port rules, through `awpolicy run`."""

from __future__ import annotations

import json
import re
from pathlib import Path

NET_PROBE = r"""
import errno, json, socket
out = {}
servers = []
for port in (5432, 5433):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(1)
    servers.append(s)
for port in (5432, 5433):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        out[port] = "ok"
    except OSError as e:
        out[port] = errno.errorcode.get(e.errno, str(e.errno))
print(json.dumps(out))
"""


def _kept_upper(stderr: str) -> str:
    match = re.search(r"kept in (\S+)", stderr)
    assert match, stderr
    return match.group(1)


def test_kept_branch_holds_the_writes_and_the_base_is_untouched(machine, golden_bundle):
    readme = (machine.ws / "README").read_text()
    result = machine.run(golden_bundle, "/bin/sh", "-c", "echo kept > new.txt; echo changed >> README",
                         opts=("--best-effort", "--keep-branch"))
    assert result.returncode == 0, result.stderr
    upper = _kept_upper(result.stderr)
    assert upper.startswith(str(machine.home))  # ${HOME}/.local/state/awpolicy/branches/...
    assert Path(upper, "new.txt").read_text() == "kept\n"
    assert not (machine.ws / "new.txt").exists()
    assert (machine.ws / "README").read_text() == readme

    # the next session on the same workspace sees the kept branch
    again = machine.run(golden_bundle, "/bin/cat", "new.txt", opts=("--best-effort", "--keep-branch"))
    assert again.returncode == 0 and again.stdout == "kept\n", again.stderr


def test_the_policy_default_on_exit_is_used_without_a_flag(machine, golden_bundle):
    assert json.loads((golden_bundle / "linux.json").read_text())["branch"]["on_exit"] == "keep"
    result = machine.run(golden_bundle, "/bin/sh", "-c", "echo x > default.txt")
    assert result.returncode == 0, result.stderr
    assert Path(_kept_upper(result.stderr), "default.txt").read_text() == "x\n"
    assert not (machine.ws / "default.txt").exists()


def test_allowed_loopback_port_connects_and_another_does_not(machine, extra_bundle):
    # the golden user layer allows localhost:5432; this session layer denies every other loopback port
    bundle = extra_bundle('net { deny connect "localhost:*" }\n')
    assert json.loads((bundle / "linux.json").read_text())["network"]["tcp_connect_ports"] == [5432]
    result = machine.py(bundle, NET_PROBE, opts=("--best-effort", "--discard-branch"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"5432": "ok", "5433": "EACCES"}
