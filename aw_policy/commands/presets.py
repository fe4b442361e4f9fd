"""`awpolicy presets`: the presets on the search path, one line each."""

from __future__ import annotations

import click


@click.command("presets")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def presets_cmd(fmt: str) -> None:
    """List the presets that `include "NAME"` and `--profile NAME` can use.

    Search path: $AWPOLICY_PRESET_PATH, then ~/.config/awpolicy/presets, then
    the bundled ones; `awpolicy show --preset NAME` prints one.
    """
    from aw_policy.preset_catalog import list_presets

    found = list_presets()
    if fmt == "json":
        import json

        click.echo(json.dumps([{"name": p.name, "origin": p.origin, "path": str(p.path),
                                "description": p.description} for p in found], indent=2, sort_keys=True))
        return
    width = max((len(p.name) for p in found), default=0)
    for p in found:
        where = "" if p.origin == "bundled" else f"  [{p.origin}: {p.path}]"
        click.echo(f"{p.name:<{width}}  {p.description}{where}")
