"""`awpolicy sessions list|show|clean`: the worktree sessions `run`, `shell` and `attach` recorded."""

from __future__ import annotations

import sys

import click

from aw_policy.cli import EXIT_FINDINGS, EXIT_INPUT, EXIT_OK


@click.group("sessions")
def sessions_cmd() -> None:
    """Worktree sessions recorded by `awpolicy run --worktree NAME`, `shell` and `attach`."""


@sessions_cmd.command("list")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def list_cmd(fmt: str) -> None:
    """One line per session, oldest first."""
    from aw_policy import sessions as records

    found, bad = records.load_all()
    if fmt == "json":
        import json

        click.echo(json.dumps([s.to_json() for s in found], indent=2, sort_keys=True))
    else:
        for s in found:
            state = "running" if s.running else ("exit " + str(s.exit_status) if s.ended else "stopped")
            what = s.kind + (f" {s.agent}" if s.agent else "")
            click.echo(f"{s.id}  {state:<8}  {what:<12}  {records.when(s.started)}  {s.worktree}")
        if not found:
            click.echo(f"no sessions in {records.sessions_dir()}", err=True)
    for name in bad:
        click.echo(f"awpolicy: skipped unreadable record {name}", err=True)


@sessions_cmd.command("show")
@click.argument("key")
def show_cmd(key: str) -> None:
    """Every recorded field of one session (KEY: an id, an id prefix, a worktree name or `latest`)."""
    import json

    from aw_policy import sessions as records

    matches = records.find(key)
    if not matches:
        click.echo(f"awpolicy: no session matches {key!r}; `awpolicy sessions list` shows them", err=True)
        sys.exit(EXIT_INPUT)
    for s in matches:
        click.echo(json.dumps(s.to_json(), indent=2, sort_keys=True))


@sessions_cmd.command("clean")
@click.argument("keys", nargs=-1)
@click.option("--force", is_flag=True, help="Also delete worktrees that have uncommitted changes.")
def clean_cmd(keys: tuple[str, ...], force: bool) -> None:
    """Remove finished sessions' worktrees and records (all of them, or those KEYS name).

    A worktree with uncommitted changes is kept (exit 1) unless --force; the
    branch awpolicy/NAME always stays, with the session's commits on it.
    """
    from aw_policy import sessions as records

    found, _ = records.load_all()
    if keys:
        chosen = {s.id: s for key in keys for s in records.find(key)}
        missing = [k for k in keys if not records.find(k)]
        if missing:
            click.echo(f"awpolicy: no session matches {', '.join(map(repr, missing))}", err=True)
            sys.exit(EXIT_INPUT)
        selected = list(chosen.values())
    else:
        selected = found
    sys.exit(report_cleaned(records.clean(selected, force=force)))


def report_cleaned(outcomes) -> int:
    """Print what cleaning did; the exit status (1 when a worktree was refused)."""
    for outcome in outcomes:
        click.echo(outcome.message, err=outcome.refused)
    return EXIT_FINDINGS if any(o.refused for o in outcomes) else EXIT_OK
