"""`awpolicy audit`: what a session's supervisor and proxy decided, per rule."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from aw_policy.cli import InputError, _render


@click.command("audit")
@click.argument("log", type=click.Path(dir_okay=False), default=".awpolicy/logs/audit.jsonl")
@click.option("--denied", is_flag=True, help="Only rules that denied something.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def audit_cmd(log: str, denied: bool, fmt: str) -> None:
    """Summarize an audit LOG (and its rotated parts): allowed, denied and asked, per rule."""
    from aw_policy.audit_summary import read_records, summarize
    from aw_policy.diagnostics import PolicyError

    try:
        records = read_records(Path(log))
    except PolicyError as exc:
        raise InputError(_render(exc.diagnostics)) from None
    rows = summarize(records, denied)
    if fmt == "json":
        click.echo(json.dumps({"records": len(records), "rules": [asdict(r) for r in rows]}, indent=2,
                              sort_keys=True))
        return
    total = {a: sum(1 for r in records if r["answer"] == a) for a in ("allow", "deny")}
    asked = sum(1 for r in records if r.get("effect") == "prompt")
    click.echo(f"{len(records)} decisions: {total['allow']} allowed, {total['deny']} denied, {asked} asked")
    for r in rows:
        where = "built-in" if r.scope == "builtin" else f"{r.scope} {r.origin}"
        click.echo(f"  {r.rule:<6} allow {r.allowed:>5}  deny {r.denied:>5}  asked {r.asked:>4}  {where}")
        for example in r.examples:
            click.echo(f"           e.g. {example}")
