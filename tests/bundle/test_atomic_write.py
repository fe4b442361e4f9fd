"""A bundle is replaced as a whole or not at all: killed compiles, concurrent compiles, failing writes.

Real processes: each compile is `awpolicy compile` (or write_tree in a child
process) killed with SIGKILL at a random moment; afterwards the output must
verify and be byte-identical to either the previous bundle or the new one.
"""

from __future__ import annotations

import os
import random
import resource
import signal
import subprocess
import sys
import time

import pytest
from aw_runtime.verify import verify_bundle
from helpers import run_cli
from integrity_helpers import bundle_files, tree

from aw_policy.bundle import write_tree

#: Rounds of kills and of concurrent compiles (raise for a local soak).
KILLS = int(os.environ.get("AWPOLICY_KILL_ROUNDS", "4"))
ROUNDS = max(1, KILLS // 4)


def big_policy(path, rules: int) -> None:
    lines = ["scope project", "fs {"]
    for i in range(rules // 2):
        lines.append(f'  allow read "/data/d{i}/sub"')
        lines.append(f'  deny write glob "/data/d{i}/**/*.key"')
    path.write_text("\n".join(lines + ["}", ""]))


def compile_cmd(source, out) -> list[str]:
    return [sys.executable, "-m", "aw_policy", "compile", str(source), "-o", str(out)]


def leftovers(parent) -> list[str]:
    return sorted(p for p in os.listdir(parent) if p.startswith("."))


@pytest.fixture(scope="module")
def two_policies(tmp_path_factory):
    """A small policy compiled into ``out`` (the bundle in place) and a big one's tree (the replacement).
    Each test using it leaves the small policy's bundle in place."""
    tmp_path = tmp_path_factory.mktemp("two")
    small, big, out = tmp_path / "small.awp", tmp_path / "big.awp", tmp_path / "out" / "bundle"
    small.write_text('scope project\nfs {\n  allow read "/etc"\n}\n')
    big_policy(big, 800)
    started = time.monotonic()
    assert run_cli("compile", str(big), "-o", str(out)).returncode == 0
    duration = time.monotonic() - started
    new = tree(out)
    assert run_cli("compile", str(small), "-o", str(out)).returncode == 0
    old = tree(out)
    assert old != new
    return small, big, out, old, new, duration


def test_compile_killed_at_a_random_moment_leaves_a_complete_bundle(two_policies):
    small, big, out, old, new, duration = two_policies
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    outcomes = []
    for _ in range(KILLS):
        child = subprocess.Popen(compile_cmd(big, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, duration * 1.1))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
        verify_bundle(out)  # raises if anything is torn
        now = tree(out)
        assert now in (old, new), f"seed {seed}: the bundle is neither the old nor the new one"
        outcomes.append("new" if now == new else "old")
        if now == new:
            assert run_cli("compile", str(small), "-o", str(out)).returncode == 0
    assert "old" in outcomes, f"seed {seed}: no kill landed before the swap ({outcomes})"
    # The next compile removes what the killed ones left (their pids are gone).
    assert run_cli("compile", str(small), "-o", str(out)).returncode == 0
    assert leftovers(out.parent) == []
    assert tree(out) == old


# A child that has the files in memory, says so, then writes them: the parent kills
# it while write_tree is writing, the phase where a torn bundle could appear.
WRITER = """
import sys
from pathlib import Path
from aw_policy.bundle import dumps, sha256, write_tree
files = {f"part{i:03d}.json": dumps({"i": i, "pad": "x" * (1 << 18)}) for i in range(int(sys.argv[2]))}
manifest = {"format": "awpolicy.bundle/1", "artifacts": [
    {"path": p, "kind": "test", "sha256": sha256(d)} for p, d in sorted(files.items())]}
files["manifest.json"] = dumps(manifest)
print("ready", flush=True)
write_tree(Path(sys.argv[1]), files)
print("done", flush=True)
"""


def test_write_tree_killed_while_writing_leaves_the_previous_bundle(tmp_path):
    out = tmp_path / "bundle"
    subprocess.run([sys.executable, "-c", WRITER, str(out), "2"], check=True, capture_output=True)
    old = tree(out)
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", WRITER, str(tmp_path / "timing"), "40"], check=True, capture_output=True)
    duration = time.monotonic() - started
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    for _ in range(KILLS):
        child = subprocess.Popen([sys.executable, "-c", WRITER, str(out), "40"], stdout=subprocess.PIPE)
        assert child.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0, duration / 2))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
        verified = verify_bundle(out)
        if len(verified.files) == 2:
            assert tree(out) == old, f"seed {seed}"
        else:  # the child finished before the kill: the new bundle, complete
            assert len(verified.files) == 40, f"seed {seed}"
            subprocess.run([sys.executable, "-c", WRITER, str(out), "2"], check=True, capture_output=True)
    subprocess.run([sys.executable, "-c", WRITER, str(out), "2"], check=True, capture_output=True)
    assert sorted(os.listdir(tmp_path)) == ["bundle", "timing"], "stale temporaries were removed"


def test_concurrent_compiles_end_with_one_complete_bundle(tmp_path):
    sources = []
    for i in range(3):
        src = tmp_path / f"p{i}.awp"
        src.write_text(f'scope project\nfs {{\n  allow read "/data/{i}"\n}}\n')
        sources.append(src)
    out = tmp_path / "out" / "bundle"
    expected = []
    for src in sources:
        write_tree(out, bundle_files([src], out))
        expected.append(tree(out))
    for _ in range(ROUNDS):
        children = [subprocess.Popen(compile_cmd(src, out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                    for src in sources * 2]
        for child in children:
            _, err = child.communicate(timeout=120)
            assert child.returncode == 0, err.decode()
        verify_bundle(out)
        assert tree(out) in expected
        assert leftovers(out.parent) == [], "temporary directories were cleaned up"


def _limit_file_size():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write over the limit fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 10, 64 << 10))


def test_a_failing_write_exits_2_and_keeps_the_previous_bundle(two_policies):
    """Disk full, simulated with RLIMIT_FSIZE: the big policy's IR cannot be written."""
    _, big, out, old, _, _ = two_policies
    result = subprocess.run(compile_cmd(big, out), capture_output=True, text=True, timeout=120,
                            preexec_fn=_limit_file_size, check=False)
    assert result.returncode == 2, result.stderr
    assert "cannot write bundle" in result.stderr and "Traceback" not in result.stderr
    assert tree(out) == old
    verify_bundle(out)
    assert leftovers(out.parent) == []


def test_output_that_is_a_file_is_refused_and_kept(tmp_path):
    target = tmp_path / "bundle"
    target.write_text("precious\n")
    src = tmp_path / "p.awp"
    src.write_text('scope project\nfs {\n  allow read "/etc"\n}\n')
    result = run_cli("compile", str(src), "-o", str(target))
    assert result.returncode == 2 and "is a file" in result.stderr and "Traceback" not in result.stderr
    assert target.read_text() == "precious\n"


def test_a_directory_that_is_not_a_bundle_is_never_replaced(tmp_path):
    """`compile src/p.awp -o src` must not swap the sources away."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "p.awp").write_text('scope project\nfs {\n  allow read "/etc"\n}\n')
    result = run_cli("compile", "src/p.awp", "-o", "src", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "AWP601" in result.stderr and "not a bundle" in result.stderr and "Traceback" not in result.stderr
    assert os.listdir(src) == ["p.awp"] and leftovers(tmp_path) == []
    (tmp_path / "empty").mkdir()
    assert run_cli("compile", "src/p.awp", "-o", "empty", cwd=tmp_path).returncode == 0
    verify_bundle(tmp_path / "empty")


def test_only_temporaries_of_dead_compiles_are_removed(tmp_path):
    src, out = tmp_path / "p.awp", tmp_path / "bundle"
    src.write_text('scope project\nfs {\n  allow read "/etc"\n}\n')
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    stale = tmp_path / f".bundle.tmp-{dead.stdout.strip()}-abc"
    live = tmp_path / f".bundle.tmp-{os.getpid()}-abc"  # this test process: a compile still writing
    other = tmp_path / ".other.tmp-1-abc"
    for path in (stale, live, other):
        path.mkdir()
        (path / "x").write_text("partial")
    assert run_cli("compile", str(src), "-o", str(out)).returncode == 0
    assert not stale.exists() and live.exists() and other.exists()
