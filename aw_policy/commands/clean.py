"""`awpolicy clean [--worktree NAME | --all] [--force]`: remove session worktrees, records and leftovers."""

from __future__ import annotations

import os
import sys

import click

from aw_policy.cli import EXIT_FINDINGS, EXIT_INPUT


@click.command("clean")
@click.option("--worktree", "name", metavar="NAME", help="The worktree .awpolicy/worktrees/NAME of this repository.")
@click.option("--all", "everything", is_flag=True,
              help="Every recorded session's worktree, and every worktree under this repository's "
                   ".awpolicy/worktrees.")
@click.option("--force", is_flag=True, help="Also delete worktrees that have uncommitted changes.")
def clean_cmd(name: str | None, everything: bool, force: bool) -> None:
    """Remove session worktrees and their session records, then leftover scratch.

    A worktree with uncommitted changes (untracked files included) is kept,
    exit 1, unless --force; one a session still runs in is always kept. The
    branch awpolicy/NAME stays, with the session's commits on it. Temporary
    directories of sessions that were killed before they could tidy up
    (a discarded branch's layers, a proxy socket) are removed too.
    """
    from aw_policy import sessions, worktree
    from aw_policy.commands.sessions import report_cleaned

    if bool(name) == everything:
        raise click.UsageError("name one worktree with --worktree NAME, or pass --all")
    found, _ = sessions.load_all()
    try:
        repo = worktree.find_repo(os.getcwd())[0]
    except worktree.WorktreeError as exc:
        if name:
            click.echo(f"awpolicy clean: error: {exc}", err=True)
            sys.exit(EXIT_INPUT)
        repo = None
    trees = worktree.listed(repo) if repo is not None else {}
    if name:
        try:
            worktree.check_name(name)
        except worktree.WorktreeError as exc:
            click.echo(f"awpolicy clean: error: --worktree: {exc}", err=True)
            sys.exit(EXIT_INPUT)
        path = str((repo / worktree.WORKTREES / name).resolve())
        selected = [s for s in found if s.worktree == path]
        trees = {t: v for t, v in trees.items() if t == path}
        if not selected and not trees:
            click.echo(f"awpolicy clean: error: no worktree {name} in {repo} and no session recorded for it",
                       err=True)
            sys.exit(EXIT_INPUT)
    else:
        selected = found
    status = report_cleaned(sessions.clean(selected, force=force, extra_trees=trees))
    stale = sessions.stale_scratch()
    for path in sessions.remove_scratch(stale):
        click.echo(f"kept {path}: cannot remove it", err=True)
        status = EXIT_FINDINGS
    if stale:
        click.echo(f"removed {len(stale)} leftover temporary director{'y' if len(stale) == 1 else 'ies'} "
                   f"of killed sessions ({', '.join(p.name for p in stale[:3])}{', ...' if len(stale) > 3 else ''})")
    if not selected and not trees and not stale:
        click.echo("nothing to clean")
    sys.exit(status)


