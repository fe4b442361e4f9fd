"""`awpolicy lint`: policy and SBPL files, with the rule catalog."""

from __future__ import annotations

import sys

import click

from aw_policy.cli import EXIT_FINDINGS, EXIT_INPUT, EXIT_OK, _render


@click.command("lint")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def lint_cmd(paths: tuple[str, ...], fmt: str) -> None:
    """Check policy files (and folders of them) for mistakes."""
    from aw_policy.lint import lint_paths

    result = lint_paths(paths)
    output = _render(result.diagnostics, fmt)
    if fmt == "json" or result.diagnostics:
        click.echo(output, nl=False)
    if fmt == "text":
        click.echo(f"{len(result.files)} file(s) checked, {len(result.diagnostics)} finding(s)", err=True)
    sys.exit(EXIT_INPUT if result.input_errors else EXIT_FINDINGS if result.diagnostics else EXIT_OK)
