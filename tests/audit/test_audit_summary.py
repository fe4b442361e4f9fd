"""awpolicy audit: the summary of a real audit log written by `awpolicy es replay`."""

from __future__ import annotations

import json
from collections import Counter

from helpers import REPO, run_cli

FIXTURES = REPO / "tests" / "es" / "fixtures"


def replay_log(tmp_path):
    bundle, log = tmp_path / "bundle", tmp_path / "audit.jsonl"
    sources = sorted(str(p) for p in (FIXTURES / "policy").rglob("*") if p.is_file())
    assert run_cli("compile", *sources, "-o", str(bundle)).returncode == 0
    replay = run_cli("es", "replay", str(bundle), str(FIXTURES / "events.jsonl"),
                     "--answers", str(FIXTURES / "answers.jsonl"), "--audit-log", str(log),
                     "--state-dir", str(tmp_path / "state"))
    assert replay.returncode == 0, replay.stderr
    return log, [json.loads(line) for line in log.read_text().splitlines()]


def test_counts_per_rule_match_the_log(tmp_path):
    log, records = replay_log(tmp_path)
    result = run_cli("audit", str(log), "--format", "json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["records"] == len(records) > 0
    expected = Counter((r["rule"], r["answer"]) for r in records)
    for row in summary["rules"]:
        assert (row["allowed"], row["denied"]) == (expected[(row["rule"], "allow")], expected[(row["rule"], "deny")])
    assert {row["rule"] for row in summary["rules"]} == {r["rule"] for r in records}
    denied_rules = {r["rule"] for r in records if r["answer"] == "deny"}
    only = json.loads(run_cli("audit", str(log), "--denied", "--format", "json").stdout)
    assert {row["rule"] for row in only["rules"]} == denied_rules


def test_text_output_and_rotated_parts_are_read(tmp_path):
    log, records = replay_log(tmp_path)
    lines = log.read_text().splitlines(keepends=True)
    (tmp_path / "audit.jsonl.1").write_text("".join(lines[: len(lines) // 2]))  # as rotation leaves them
    log.write_text("".join(lines[len(lines) // 2:]))
    result = run_cli("audit", str(log))
    assert result.returncode == 0, result.stderr
    denied = sum(1 for r in records if r["answer"] == "deny")
    assert result.stdout.startswith(f"{len(records)} decisions:") and f"{denied} denied" in result.stdout


def test_missing_or_corrupt_log_exits_2_with_location(tmp_path):
    missing = run_cli("audit", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 2 and "AWP007" in missing.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"answer": "allow", "rule": "r1"}\n{torn')
    result = run_cli("audit", str(bad))
    assert result.returncode == 2 and f"{bad}:2:" in result.stderr and "Traceback" not in result.stderr
