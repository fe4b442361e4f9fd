"""Disk full, read-only and permission denied while writing a bundle or the audit log.

Real filesystems: a 64 KiB tmpfs mounted for the test (full after a small
bundle), the same tmpfs remounted read-only, and a directory the compiler may
not write because it runs without the capabilities that let root ignore file
modes. Whatever fails, the previous bundle stays byte for byte, nothing is left
behind, the command exits 2 naming the path and the errno; the audit log never
keeps a torn line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aw_runtime.audit import AuditLog
from aw_runtime.verify import verify_bundle
from helpers import REPO, run_cli
from integrity_helpers import tree

SMALL = 'scope project\nfs {\n  allow read "/etc"\n}\n'
PAGE = 4096


def _big_policy(rules: int = 400) -> str:
    lines = ["scope project", "fs {"]
    for i in range(rules // 2):
        lines += [f'  allow read "/data/d{i}/sub"', f'  deny write glob "/data/d{i}/**/*.key"']
    return "\n".join(lines + ["}", ""])


@pytest.fixture
def small_disk(tmp_path):
    """A 64 KiB tmpfs of our own (unmounted afterwards)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", str(disk)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.fixture
def sources(tmp_path):
    small, big = tmp_path / "small.awp", tmp_path / "big.awp"
    small.write_text(SMALL)
    big.write_text(_big_policy())
    return small, big


def _compile(source, out, **kwargs):
    return run_cli("compile", str(source), "-o", str(out), **kwargs)


def _assert_refused_and_kept(result, out, before, error: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert f"cannot write bundle {out}" in result.stderr, result.stderr
    assert error in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert tree(out) == before
    verify_bundle(out)
    assert [n for n in os.listdir(out.parent) if n.startswith(".")] == []  # no temporary left


def test_compile_onto_a_full_disk_keeps_the_previous_bundle(small_disk, sources):
    small, big = sources
    out = small_disk / "bundle"
    assert _compile(small, out).returncode == 0
    before = tree(out)
    _assert_refused_and_kept(_compile(big, out), out, before, "No space left on device (ENOSPC)")


def test_compile_into_a_read_only_filesystem_keeps_the_previous_bundle(small_disk, sources):
    small, big = sources
    out = small_disk / "bundle"
    assert _compile(small, out).returncode == 0
    before = tree(out)
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    _assert_refused_and_kept(_compile(big, out), out, before, "Read-only file system (EROFS)")
    missing = small_disk / "sub" / "bundle"  # a parent that would have to be created
    result = _compile(small, missing)
    assert result.returncode == 2 and "Read-only file system (EROFS)" in result.stderr, result.stderr
    assert not missing.parent.exists()


def _without_capabilities():
    """In the child before exec: root, but without the capabilities that bypass file modes."""
    from aw_runtime.linux import caps

    caps.drop_all()


def test_compile_into_a_directory_it_may_not_write_keeps_the_previous_bundle(tmp_path, sources):
    if os.geteuid() != 0:
        pytest.skip("needs root, to drop its capabilities")
    small, big = sources
    parent = tmp_path / "locked"
    parent.mkdir()
    out = parent / "bundle"
    assert _compile(small, out).returncode == 0
    before = tree(out)
    os.chmod(parent, 0o555)
    try:
        result = subprocess.run([sys.executable, "-m", "aw_policy", "compile", str(big), "-o", str(out)],
                                capture_output=True, text=True, timeout=120, preexec_fn=_without_capabilities,
                                check=False)
        _assert_refused_and_kept(result, out, before, "Permission denied (EACCES)")
    finally:
        os.chmod(parent, 0o755)


# --------------------------------------------------------------------------- the audit log


def _fill(disk: Path, leave: int) -> Path:
    """Fill ``disk`` up, then give back ``leave`` bytes (whole pages on tmpfs)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"\0" * PAGE):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    size = filler.stat().st_size
    os.truncate(filler, size - leave)
    return filler


def _records(path: Path) -> list[dict]:
    """Every line of the log parsed (a torn line raises); a line may start with blanks."""
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n"), data[-80:]
    return [json.loads(line) for line in data.splitlines()]


def test_audit_log_on_a_full_disk_keeps_no_torn_line_and_names_the_log(small_disk):
    log_path = small_disk / "audit.jsonl"
    _fill(small_disk, PAGE)
    written = 0
    with AuditLog(log_path) as log, pytest.raises(OSError) as info:
        for written in range(1000):  # 300-byte records: one page holds 12, the 13th is cut at 4096 bytes
            log.write({"n": written, "pad": "x" * 300})
    assert info.value.errno == 28 and info.value.filename == str(log_path)
    records = _records(log_path)
    assert [r["n"] for r in records] == list(range(written)) and written > 0
    # room again: the next record lands on a line of its own
    os.unlink(small_disk / "filler")
    with AuditLog(log_path) as log:
        log.write({"n": "after"})
    assert [r["n"] for r in _records(log_path)] == [*range(written), "after"]


def test_es_replay_audit_log_on_a_full_disk_exits_2_and_keeps_whole_lines(small_disk, tmp_path):
    fixtures = REPO / "tests" / "es" / "fixtures"
    base = tmp_path / "replay"
    base.mkdir()
    subprocess.run(["cp", "-r", str(fixtures / "policy"), str(base / "src")], check=True)
    compiled = run_cli("compile", "src/org.awp", "src/project.awp", "src/user.awp.yaml", "-o", "bundle", cwd=base)
    assert compiled.returncode == 0, compiled.stderr
    log_path = small_disk / "audit.jsonl"
    earlier = {"answer": "deny", "note": "written before the disk filled"}
    log_path.write_bytes(json.dumps(earlier).encode() + b"\n")
    _fill(small_disk, 0)  # the log keeps the rest of its one page, about 4 KiB; the replay audits more
    result = run_cli("es", "replay", str(base / "bundle"), str(fixtures / "events.jsonl"),
                     "--answers", str(fixtures / "answers.jsonl"), "--audit-log", str(log_path))
    assert result.returncode == 2, (result.stdout[-300:], result.stderr)
    assert f"{log_path}: error: cannot write: No space left on device (ENOSPC)" in result.stderr
    assert "Traceback" not in result.stderr
    records = _records(log_path)
    assert records[0] == earlier and len(records) > 1  # the old line stays, whole new lines follow


WRITER = r"""
import resource, signal, sys
from aw_runtime.audit import AuditLog
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # over the limit: EFBIG instead of death
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]), int(sys.argv[2])))
try:
    AuditLog(sys.argv[1]).write({"answer": "deny", "who": "limited", "pad": "y" * 300})
except OSError as e:
    print(e.errno, e.filename, file=sys.stderr)
    sys.exit(2)
"""


def test_a_torn_line_another_writer_appended_after_is_blanked_out(tmp_path):
    """Writer A is cut short by its file size limit; writer B appends after A's piece before A can take it
    back (B holds the lock A needs): A blanks its piece out, and every line still parses."""
    import fcntl

    log_path = tmp_path / "audit.jsonl"
    with AuditLog(log_path) as log:
        log.write({"answer": "allow", "who": "first"})
    start = log_path.stat().st_size
    lock = os.open(str(log_path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_SH)  # A may append (shared) but not repair (exclusive) until we let go
        a = subprocess.Popen([sys.executable, "-c", WRITER, str(log_path), str(start + 100)],
                             stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 20
        while log_path.stat().st_size < start + 100 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert log_path.stat().st_size == start + 100  # A's piece is there, A waits for the lock
        time.sleep(0.2)
        assert a.poll() is None
        with AuditLog(log_path) as b:
            b.write({"answer": "allow", "who": "second"})
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        os.close(lock)
    assert a.wait(timeout=20) == 2
    assert a.stderr.read().split() == ["27", str(log_path)]  # EFBIG, naming the log
    assert [r["who"] for r in _records(log_path)] == ["first", "second"]
    assert log_path.read_bytes().count(b" " * 100) == 1


def test_a_torn_line_at_the_end_is_truncated_away(tmp_path):
    log_path = tmp_path / "audit.jsonl"
    with AuditLog(log_path) as log:
        log.write({"answer": "allow", "who": "first"})
    size = log_path.stat().st_size
    a = subprocess.run([sys.executable, "-c", WRITER, str(log_path), str(size + 100)], capture_output=True,
                       text=True, timeout=60, check=False)
    assert a.returncode == 2, a.stderr
    assert log_path.stat().st_size == size
    assert [r["who"] for r in _records(log_path)] == ["first"]


APPEND = r"""
import sys
from aw_runtime.audit import AuditLog
try:
    AuditLog(sys.argv[1]).write({"answer": "deny"})
except OSError as e:
    print(e.errno, e.filename, file=sys.stderr)
    sys.exit(2)
"""


@pytest.mark.parametrize("how", ["read-only filesystem", "permission denied"])
def test_audit_log_that_cannot_be_written_is_an_error_naming_it_and_keeps_its_lines(small_disk, how):
    log_path = small_disk / "audit.jsonl"
    with AuditLog(log_path) as log:
        log.write({"answer": "allow", "n": 1})
    before = log_path.read_bytes()
    preexec = None
    if how == "read-only filesystem":
        subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
        expected = 30  # EROFS
    else:
        os.chmod(log_path, 0o444)
        preexec, expected = _without_capabilities, 13  # EACCES
    result = subprocess.run([sys.executable, "-c", APPEND, str(log_path)], capture_output=True, text=True,
                            timeout=60, preexec_fn=preexec, check=False)
    assert result.returncode == 2, result.stderr
    errno_seen, _, filename = result.stderr.strip().partition(" ")
    assert (int(errno_seen), filename) == (expected, str(log_path))
    assert log_path.read_bytes() == before
