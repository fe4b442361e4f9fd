"""The audit log under several writer processes: rotation loses no line and tears none."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from aw_runtime.audit import AuditLog

WRITER = """
import sys
from aw_runtime.audit import AuditLog
path, writer, count, max_bytes, keep = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
log = AuditLog(path, max_bytes=max_bytes, keep=keep)
for i in range(count):
    # Records of varying length, some with characters that must be escaped to stay on one line.
    log.write({"writer": writer, "i": i, "pad": "x" * (i % 97), "text": "line\\nbreak \\u2028 \\"q\\""})
log.close()
print(log.rotations)
"""


def _run_writers(path, writers: int, count: int, max_bytes: int, keep: int) -> int:
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"w{n}", str(count), str(max_bytes),
                               str(keep)], stdout=subprocess.PIPE, text=True) for n in range(writers)]
    rotations = 0
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0
        rotations += int(out)
    return rotations


def _records(log: AuditLog) -> list[dict]:
    records = []
    for path in log.files():
        data = path.read_bytes()
        assert data.endswith(b"\n"), f"{path} ends inside a line"
        for line in data.split(b"\n")[:-1]:
            records.append(json.loads(line))  # a torn or interleaved line would not parse
    return records


def test_concurrent_writers_lose_and_tear_nothing_across_rotations(tmp_path):
    path = tmp_path / "audit.jsonl"
    writers, count = 4, 1500
    rotations = _run_writers(path, writers, count, max_bytes=32 * 1024, keep=0)
    log = AuditLog(path, max_bytes=32 * 1024, keep=0)
    assert rotations >= 10 and len(log.files()) == rotations + 1
    records = _records(log)
    seen = sorted((r["writer"], r["i"]) for r in records)
    assert seen == sorted((f"w{n}", i) for n in range(writers) for i in range(count))  # none lost, none twice
    for writer in range(writers):  # each writer's own lines stay in order across files
        mine = [r["i"] for r in records if r["writer"] == f"w{writer}"]
        assert mine == sorted(mine)
    assert all(r["text"] == 'line\nbreak \u2028 "q"' for r in records)
    # A file ends up over the limit by at most the lines appended while its rotation waited for the lock.
    assert all(f.stat().st_size < 32 * 1024 + writers * 400 for f in log.files())


def test_retention_keeps_the_newest_files(tmp_path):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, max_bytes=200, keep=3)
    for i in range(200):
        log.write({"i": i})
    log.close()
    files = log.files()
    assert len(files) == 4  # three rotated plus the current one
    numbers = [r["i"] for r in _records(log)]
    assert numbers == list(range(numbers[0], 200)) and numbers[0] > 0  # oldest dropped, the rest contiguous


def test_a_record_is_one_line(tmp_path):
    with AuditLog(tmp_path / "a.jsonl") as log, pytest.raises(ValueError, match="one line"):
        log.write_line(b"two\nlines\n")
