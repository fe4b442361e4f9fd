"""`awpolicy rules [CODE]`: list the lint rules, or explain one."""

from __future__ import annotations

import click

from aw_policy.cli import InputError


@click.command("rules")
@click.argument("code", required=False)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def rules_cmd(code: str | None, fmt: str) -> None:
    """List every lint rule (code, name, category, severity), or explain CODE (or a rule name)."""
    import json

    from aw_policy.lint import registry

    if code is None:
        specs = list(registry.catalog().values())
        if fmt == "json":
            click.echo(json.dumps([_summary(s) for s in specs], indent=2, sort_keys=True))
            return
        for s in specs:
            fix = " (fixable)" if s.fixable else ""
            click.echo(f"{s.code}  {s.name:<34} {s.category:<12} {s.severity.value:<8} {s.summary}{fix}")
        return
    try:
        spec = registry.lookup(code)
    except KeyError as exc:
        raise InputError(f"awpolicy: {exc.args[0]}\n") from None
    if fmt == "json":
        click.echo(json.dumps(dict(_summary(spec), docs=spec.docs), indent=2, sort_keys=True))
        return
    click.echo(f"{spec.code} {spec.name}  [{spec.category}, {spec.severity.value}"
               f"{', fixable' if spec.fixable else ''}]\n")
    click.echo(spec.docs)


def _summary(spec) -> dict:
    return {"code": spec.code, "name": spec.name, "category": spec.category,
            "severity": spec.severity.value, "fixable": spec.fixable, "summary": spec.summary}
