"""Summaries of the JSONL audit log (runtime/audit.py): what was allowed, denied and asked, per rule."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from aw_policy.diagnostics import Diagnostic, PolicyError, Span


@dataclass(frozen=True)
class RuleSummary:
    rule: str
    origin: str
    scope: str
    allowed: int
    denied: int
    asked: int  # decisions whose effect was prompt (whatever the answer)
    examples: tuple[str, ...]  # a few denied (else any) objects, for the reader


def log_files(path: Path) -> list[Path]:
    """The log and its rotated siblings (PATH.1, PATH.2, ...), oldest first."""
    rotated = sorted((p for p in path.parent.glob(path.name + ".*") if p.suffix[1:].isdigit()),
                     key=lambda p: int(p.suffix[1:]))
    return rotated + ([path] if path.exists() else [])


def read_records(path: Path) -> list[dict]:
    files = [] if path.is_dir() else log_files(path)
    if not files:
        raise PolicyError(Diagnostic("AWP007", "no audit log here", Span(str(path), 1, 1),
                                     hint="pass the audit log a session wrote (e.g. .awpolicy/logs/audit.jsonl)"))
    records = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise PolicyError(Diagnostic("AWP007", f"cannot read audit log: {exc.strerror or exc}",
                                         Span(str(file), 1, 1), hint="check the path and its permissions"))
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise PolicyError(Diagnostic("AWP031", f"not an audit record: {exc.msg}",
                                             Span(str(file), number, exc.colno),
                                             hint="audit logs are JSONL written by awpolicy; was the file edited?"))
            if not isinstance(record, dict) or "answer" not in record:
                raise PolicyError(Diagnostic("AWP031", "an audit record needs an 'answer'", Span(str(file), number, 1)))
            records.append(record)
    return records


def summarize(records: list[dict], denied_only: bool = False) -> list[RuleSummary]:
    by_rule: dict[str, list[dict]] = {}
    for r in records:
        by_rule.setdefault(str(r.get("rule", "")), []).append(r)
    out = []
    for rule, items in by_rule.items():
        answers = Counter(r["answer"] for r in items)
        if denied_only and not answers["deny"]:
            continue
        denied = [r for r in items if r["answer"] == "deny"]
        examples = sorted({f"{r.get('op', '?')} {r.get('object', '?')}" for r in (denied or items)})[:3]
        first = items[0]
        out.append(RuleSummary(rule, str(first.get("origin", "")), str(first.get("scope", "")), answers["allow"],
                               answers["deny"], sum(1 for r in items if r.get("effect") == "prompt"),
                               tuple(examples)))
    return sorted(out, key=lambda s: (-s.denied, -(s.allowed + s.asked), s.rule))
