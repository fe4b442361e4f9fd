"""`awpolicy run` imports only what a launch needs (measured with python -X importtime)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("lark", "pydantic", "jsonschema", "rich", "jinja2", "yaml", "cryptography", "aw_policy.lang",
         "aw_policy.lint", "aw_policy.sbpl", "hypothesis")
#: Standard modules a launch does without, each a cost of every launch: OpenSSL through hashlib and
#: hmac (a bundle of a few hundred kB is hashed with CPython's own SHA-256), bisect, and
#: collections.abc (for annotations only).
AVOIDED = ("hashlib", "_hashlib", "hmac", "bisect", "collections.abc")


def _imported(stderr: str) -> set[str]:
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


def _heavy(names: set[str]) -> list[str]:
    return sorted(n for n in names if any(n == h or n.startswith(h + ".") for h in HEAVY))


def test_a_launch_imports_nothing_heavy(machine, golden_bundle):
    args = machine.run_args(golden_bundle, ["/bin/true"], ("--best-effort", "--discard-branch"))
    result = subprocess.run([args[0], "-X", "importtime", *args[1:]], cwd=machine.ws, env=machine.env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    names = _imported(result.stderr)
    assert {"aw_runtime.launcher", "aw_runtime.linux", "aw_runtime.linux.landlock"} <= names  # it saw the launch
    assert _heavy(names) == []
    assert sorted(names & set(AVOIDED)) == []


def test_the_runtime_package_stands_without_the_compiler():
    code = ("import aw_runtime.launcher, aw_runtime.envfilter, aw_runtime.macos, aw_runtime.verify, "
            "aw_runtime.linux.launch, aw_runtime.linux.bind")
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    names = _imported(result.stderr)
    assert _heavy(names) == []
    assert "click" not in names
