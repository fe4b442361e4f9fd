"""`awpolicy lint`: policy and SBPL files, and golden bundles, with the rule catalog.

The click command; its body is :func:`aw_policy.commands.lint_run.execute`, which a plain
``awpolicy lint PATH...`` also reaches without click (see :mod:`aw_policy.entry`).
"""

from __future__ import annotations

import sys

import click

from aw_policy.cli import EXIT_INPUT, InputError

FAIL_LEVELS = ("error", "warning", "info")


def _codes(ctx, param, values):
    from aw_policy.lint.config import split_codes

    return split_codes(values) or None


@click.command("lint")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif", "github"]), default="text",
              help="Output: text (snippets; colour on a terminal), json, sarif (SARIF 2.1.0), "
                   "github (workflow annotations).")
@click.option("--select", multiple=True, callback=_codes, metavar="CODES",
              help="Only these codes, prefixes (AWP2), categories (risk) or rule names; comma-separated.")
@click.option("--ignore", multiple=True, callback=_codes, metavar="CODES", help="Skip these (same forms).")
@click.option("--fail-level", type=click.Choice(FAIL_LEVELS), default=None,
              help="Lowest severity that makes the exit code 1 (default: error).")
@click.option("--fix", is_flag=True, help="Apply the safe mechanical fixes in place first.")
@click.option("--golden", is_flag=True,
              help="Check that golden bundles (PATHS, default ./golden) match a fresh compile of their src/.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Configuration file (default: .awpolicy.toml or pyproject.toml [tool.awpolicy], "
                   "found from the working directory up).")
def lint_cmd(paths, fmt, select, ignore, fail_level, fix, golden, config_path) -> None:
    """Check policy files, Seatbelt profiles (.sb) and folders of them.

    Exit 0 when nothing reaches the fail level, 1 when something does, 2 when an
    input cannot be read. `awpolicy rules` lists the checks.
    """
    from aw_policy.commands.lint_run import execute

    if not paths and not golden:
        raise click.UsageError("name the policy files or folders to lint (or use --golden)")
    code = execute(paths, fmt, select, ignore, fail_level, fix, golden, config_path,
                   echo=click.echo, input_error=InputError)
    sys.exit(EXIT_INPUT if code == 2 else code)
