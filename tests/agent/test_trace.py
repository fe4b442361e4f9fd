"""--trace: denials from the kernel's audit records (Linux), and the macOS unified-log parser."""

from __future__ import annotations

import json
import os
import socket

import pytest
from agent_helpers import needs_sandbox, run_in

from aw_policy import trace


def audit_unavailable() -> str | None:
    if os.geteuid() != 0:
        return "reading kernel audit records needs root"
    try:
        s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, trace.NETLINK_AUDIT)
        s.bind((0, 0))
        trace._audit_status(s)
        s.close()
    except OSError as exc:
        return f"kernel audit unavailable: {exc}"
    from aw_runtime.linux import kernel_abi

    if kernel_abi() < 7:
        return "Landlock audit records need ABI 7"
    return None


@needs_sandbox
@pytest.mark.skipif(audit_unavailable() is not None, reason=str(audit_unavailable()))
def test_trace_records_real_denials_with_path_and_operation(repo, bundle, tmp_path):
    forbidden = tmp_path / "forbidden"
    forbidden.mkdir()
    (forbidden / "secret.txt").write_text("s\n")
    b = bundle('include "linux-base"\nfs { allow read,write "${WORKSPACE}" }\n')
    script = f"cat {forbidden}/secret.txt; echo x > {forbidden}/new; ls {forbidden}; echo fine > ok.txt"
    before = audit_enabled()
    result = run_in(repo, "run", str(b), "--trace", "--", "sh", "-c", script)
    assert result.returncode == 0, result.stderr  # the script's status is its last command's
    assert (repo / "ok.txt").read_text() == "fine\n"
    log = repo / ".awpolicy" / "logs" / "denials.jsonl"
    denials = [json.loads(line) for line in log.read_text().splitlines()]
    seen = {(d["op"], d["path"], d["process"]) for d in denials}
    assert ("read", f"{forbidden}/secret.txt", "cat") in seen
    assert ("write", str(forbidden), "sh") in seen  # creating a file: the kernel names the directory
    assert ("read", str(forbidden), "ls") in seen
    assert all(d["source"] == "landlock-audit" and d["pid"] for d in denials)
    assert not any(d["path"].startswith(str(repo)) for d in denials)  # the allowed write is not a denial
    assert f"{len(denials)} denial(s) recorded in {log}" in result.stderr
    assert audit_enabled() == before  # the kernel's audit switch is left as it was found


def audit_enabled() -> bool:
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, trace.NETLINK_AUDIT)
    s.bind((0, 0))
    try:
        return trace._audit_status(s)
    finally:
        s.close()


def test_audit_record_parsing_decodes_hex_paths():
    # the kernel hex-encodes a path with a space; quotes others
    spaced = b"/tmp/a b".hex().upper()
    parsed = trace.parse_audit_text(f'audit(1700000000.125:42): domain=1a2b blockers=fs.read_file path={spaced} dev="vda" ino=7')
    assert parsed == (1700000000.125, 42, {"domain": "1a2b", "blockers": "fs.read_file", "path": "/tmp/a b",
                                           "dev": "vda", "ino": "7"})
    assert trace.parse_audit_text("garbage") is None


def test_collector_keeps_only_the_sessions_domains():
    ours = {100, 101}
    c = trace.Collector(lambda pid: pid in ours)
    c.add(trace.AUDIT_LANDLOCK_ACCESS, 'audit(1.0:1): domain=aa blockers=fs.write_file path="/etc/passwd"')
    c.add(trace.AUDIT_LANDLOCK_DOMAIN, 'audit(1.0:1): domain=aa status=allocated mode=enforcing pid=100 uid=0')
    c.add(trace.AUDIT_SYSCALL, 'audit(1.0:1): arch=c000003e syscall=257 success=no exit=-13 ppid=1 pid=100 comm="sh" exe="/bin/sh"')
    c.add(trace.AUDIT_LANDLOCK_ACCESS, 'audit(1.0:2): domain=bb blockers=net.connect_tcp daddr=10.0.0.1 dest=443')
    c.add(trace.AUDIT_LANDLOCK_DOMAIN, 'audit(1.0:2): domain=bb status=allocated mode=enforcing pid=999 uid=0')
    c.add(trace.AUDIT_SYSCALL, 'audit(1.0:2): arch=c000003e syscall=42 success=no exit=-13 ppid=1 pid=999 comm="curl"')
    # a later process of our domain, already gone when its record arrived: the domain vouches for it
    c.add(trace.AUDIT_LANDLOCK_ACCESS, 'audit(1.0:3): domain=aa blockers=fs.execute path="/opt/x"')
    c.add(trace.AUDIT_SYSCALL, 'audit(1.0:3): arch=c000003e syscall=59 success=no exit=-13 ppid=100 pid=555 comm="x"')
    got = c.denials()
    assert [(d["serial"], d["op"], d.get("path"), d["pid"]) for d in got] == [
        (1, "write", "/etc/passwd", 100), (3, "exec", "/opt/x", 555)]


# Lines in the documented shape of Seatbelt's reports as `log stream --style syslog`
# and `log show` print them (written for this test).
MACOS_LOG = """\
Filtering the log data using "sender == "Sandbox""
2026-11-23 10:15:02.123456-0800  localhost kernel[0]: (Sandbox) Sandbox: python3.12(4242) deny(1) file-read-data /Users/dev/.ssh/id_ed25519
2026-11-23 10:15:02.200000-0800  localhost kernel[0]: (Sandbox) Sandbox: node(777) deny(2) file-write-create /Users/dev/.zshrc
2026-11-23 10:15:03.000001-0800  localhost kernel[0]: (Sandbox) Sandbox: curl(88) deny(1) network-outbound 93.184.216.34:443
2026-11-23 10:15:03.5-0800  localhost kernel[0]: (Sandbox) Sandbox: my tool(90) deny(1) mach-lookup com.apple.cfprefsd.daemon
2026-11-23 10:15:04.000000-0800  localhost kernel[0]: (Sandbox) Sandbox: sh(91) deny(1) process-exec* /usr/local/bin/evil
2026-11-23 10:15:04.100000-0800  localhost kernel[0]: (Sandbox) Sandbox: sh(91) allow file-read-data /etc/hosts
2026-11-23 10:15:05.000000-0800  localhost kernel[0]: (Sandbox) 1 duplicate report for Sandbox: node(777) deny(1) file-write-create /Users/dev/.zshrc
Sandbox: bare(5) deny(1) signal
"""


def test_macos_log_parser_reads_sample_lines():
    records = trace.parse_macos_log(MACOS_LOG)
    brief = [(r["process"], r["pid"], r["op"], r.get("path") or r.get("object"), r["count"]) for r in records]
    assert brief == [
        ("python3.12", 4242, "read", "/Users/dev/.ssh/id_ed25519", 1),
        ("node", 777, "write", "/Users/dev/.zshrc", 2),
        ("curl", 88, "connect", "93.184.216.34:443", 1),
        ("my tool", 90, "mach", "com.apple.cfprefsd.daemon", 1),
        ("sh", 91, "exec", "/usr/local/bin/evil", 1),
        ("node", 777, "write", "/Users/dev/.zshrc", 1),
        ("bare", 5, "signal", None, 1),
    ]
    assert records[0]["operation"] == "file-read-data" and records[0]["time"].startswith("2026-11-23 10:15:02")
    assert all(r["source"] == "seatbelt-log" for r in records)


def test_write_denials_appends_json_lines(tmp_path):
    log = tmp_path / "logs" / "denials.jsonl"
    trace.write_denials(log, [{"op": "read", "path": "/x\n\"y"}])
    trace.write_denials(log, [{"op": "write", "path": "/z"}])
    assert [json.loads(line)["path"] for line in log.read_text().splitlines()] == ["/x\n\"y", "/z"]
