"""`awpolicy skills list|init|describe|path|run|registry|contract`: repository-local commands run in the sandbox.

The model, validation and the run itself are in :mod:`aw_policy.skills`; this
module parses the command line and renders. Exit codes: 0 ok, 2 a bad
manifest, name or option (located on stderr); `run` exits with the skill's own
code (with or without --json).
"""

from __future__ import annotations

import os
import sys

import click

from aw_policy import bundle_choice
from aw_policy.cli import EXIT_INPUT, InputError, _render, param_option

worktree_option = click.option(
    "--worktree", "worktree_name", metavar="NAME",
    help="Use the session worktree .awpolicy/worktrees/NAME (default: the git top level of the current "
         "directory, else the directory itself).")


def _worktree(name: str | None, create: bool = False):
    from aw_policy import skills

    try:
        return skills.resolve_worktree(name, cwd=os.getcwd(), environ=os.environ, create=create)
    except skills.SkillError as exc:
        raise InputError(f"awpolicy skills: error: {exc}\n") from None


def _find(worktree, name: str):
    from aw_policy import skills
    from aw_policy.diagnostics import PolicyError

    try:
        return skills.find(worktree, name)
    except skills.SkillError as exc:
        raise InputError(f"awpolicy skills: error: {exc}\n") from None
    except PolicyError as exc:
        raise InputError(_render(exc.diagnostics)) from None


@click.group("skills")
def skills_group() -> None:
    """Skills: small commands in skills/NAME/ (committed) or .awpolicy/skills/NAME/ (local only) that
    run inside the agent's sandbox. A local skill shadows a committed one of the same name."""


@skills_group.command("list")
@worktree_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def list_cmd(worktree_name: str | None, fmt: str) -> None:
    """One line per skill, by name: name, scope, directory, description.

    Invalid manifests are reported on stderr (exit 2) after the valid skills."""
    from aw_policy import skills

    catalog = skills.discover(_worktree(worktree_name))
    if fmt == "json":
        click.echo(skills.dumps([s.to_json() for s in catalog.skills.values()]), nl=False)
    else:
        for s in catalog.skills.values():
            scope = s.scope + (" (shadows committed)" if s.shadows else "")
            click.echo(f"{s.name}\t{scope}\t{s.relative(s.dir)}\t{s.description}")
        if not catalog.skills and not catalog.problems:
            click.echo(f"no skills in {catalog.worktree} (skills/NAME/skill.json or .awpolicy/skills/NAME/"
                       "skill.json); `awpolicy skills init NAME` creates one", err=True)
    if catalog.problems:
        raise InputError(_render(catalog.problems))


@skills_group.command("init")
@click.argument("name")
@click.option("--local", is_flag=True, help="Create it under .awpolicy/skills/ (not committed) instead of skills/.")
@click.option("--description", metavar="TEXT", help="The skill's one-line description.")
@worktree_option
def init_cmd(name: str, local: bool, description: str | None, worktree_name: str | None) -> None:
    """Create a skill NAME from the template: skill.json, run.sh and README.md (never overwrites)."""
    from aw_policy import skills

    worktree = _worktree(worktree_name, create=True)
    try:
        directory = skills.init(worktree, name, local=local, description=description)
    except skills.SkillError as exc:
        raise InputError(f"awpolicy skills init: error: {exc}\n") from None
    except OSError as exc:
        raise InputError(f"awpolicy skills init: error: cannot write {exc.filename}: {exc.strerror}\n") from None
    click.echo(f"created {directory} (skill.json, run.sh, README.md); try `awpolicy skills run {name}`")


@skills_group.command("describe")
@click.argument("name")
@worktree_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def describe_cmd(name: str, worktree_name: str | None, fmt: str) -> None:
    """The manifest of skill NAME and what it expands to here."""
    from aw_policy import skills

    skill = _find(_worktree(worktree_name), name)
    expanded = {"dir": str(skill.dir), "command": skill.expanded_command(), "cwd": str(skill.expanded_cwd()),
                "env": dict(sorted(skill.expanded_env().items()))}
    if fmt == "json":
        click.echo(skills.dumps(skill.to_json() | {"expanded": expanded}), nl=False)
        return
    click.echo(f"{skill.name} ({skill.scope})  {skill.manifest}")
    click.echo(f"  {skill.description}")
    click.echo(f"  command  {_argv_text(skill.command)}")
    if list(skill.command) != expanded["command"]:
        click.echo(f"        -> {_argv_text(expanded['command'])}")
    click.echo(f"  cwd      {skill.cwd or '(the skill directory)'} -> {expanded['cwd']}")
    for key, value in sorted(skill.env.items()):
        click.echo(f"  env      {key}={value}" + (f" -> {expanded['env'][key]}" if value != expanded["env"][key]
                                                    else ""))
    if skill.shadows:
        click.echo(f"  shadows  {skill.shadows} (committed)")


def _argv_text(argv) -> str:
    import shlex

    return " ".join(shlex.quote(a) for a in argv)


@skills_group.command("path")
@click.argument("name")
@click.option("--file", "filename", metavar="FILE", help="A file inside the skill directory (e.g. run.sh).")
@worktree_option
def path_cmd(name: str, filename: str | None, worktree_name: str | None) -> None:
    """Print the directory of skill NAME (or the path of FILE in it), for `cd` or an editor."""
    from pathlib import Path

    skill = _find(_worktree(worktree_name), name)
    if filename is None:
        click.echo(str(skill.dir))
        return
    target = Path(os.path.normpath(skill.dir / filename))
    if skill.dir not in target.parents:
        raise InputError(f"awpolicy skills path: error: --file {filename} leaves the skill directory "
                         f"{skill.dir}; name a file inside it\n")
    click.echo(str(target))


@skills_group.command("run")
@click.argument("name")
@click.option("--bundle", type=click.Path(file_okay=False), metavar="DIR", help=bundle_choice.HELP)
@param_option
@click.option("--best-effort", is_flag=True,
              help="Run even when some rules cannot be enforced here; each one is named on stderr first.")
@click.option("--json", "as_json", is_flag=True,
              help="Capture the skill's output and print one awpolicy.skill-run/1 JSON envelope.")
@click.option("--result", "result", metavar="PATH",
              help="Where the skill may write its JSON result, relative to the worktree "
                   "(default .awpolicy/skill-results/SESSION.json).")
@click.option("--max-output", type=click.IntRange(min=0), default=None, metavar="BYTES",
              help="With --json: bytes of stdout and of stderr kept in the envelope (default 1 MiB); "
                   "the rest is counted and flagged as truncated.")
@worktree_option
@click.argument("args", nargs=-1, type=click.UNPROCESSED, metavar="[-- ARGS]...")
def run_cmd(name: str, bundle: str | None, params: dict[str, str], best_effort: bool, as_json: bool,
            result: str | None, max_output: int | None, worktree_name: str | None, args: tuple[str, ...]) -> None:
    """Run skill NAME inside the sandbox, ARGS appended to its command.

    Uses the launch path of `awpolicy run` (verify, bind, Landlock/namespaces/
    seccomp or sandbox-exec); inside an awpolicy sandbox already it runs the
    skill directly. Exits with the skill's exit code, with or without --json
    (2 when the skill cannot start: bad manifest, no bundle, unenforceable policy).
    """
    from aw_policy import skills
    from aw_policy.diagnostics import PolicyError

    options = skills.RunOptions(bundle=bundle, params=params, best_effort=best_effort, capture=as_json,
                                max_output=skills.DEFAULT_MAX_OUTPUT if max_output is None else max_output,
                                result=result)
    try:
        worktree = skills.resolve_worktree(worktree_name, cwd=os.getcwd(), environ=os.environ, create=True)
        skill = skills.find(worktree, name)
        status, envelope = skills.run(skill, list(args), options, environ=os.environ, err=sys.stderr)
    except skills.SkillError as exc:
        _refuse(as_json, name, f"awpolicy skills run: error: {exc}\n", [], options)
    except PolicyError as exc:
        _refuse(as_json, name, _render(exc.diagnostics), [d.to_json() for d in exc.diagnostics], options)
    if envelope is not None:
        click.echo(skills.dumps(envelope), nl=False)
    sys.exit(status)


def _refuse(as_json: bool, name: str, text: str, diagnostics: list, options) -> None:
    """The skill cannot start: the located message on stderr, and with --json an envelope too; exit 2."""
    if not as_json:
        raise InputError(text)
    from aw_policy import skills

    click.echo(text, err=True, nl=False)
    envelope = skills.envelope(session=skills.new_session_id(name), exit_code=EXIT_INPUT, skill=None,
                               worktree=None, error={"message": text, "diagnostics": diagnostics})
    click.echo(skills.dumps(envelope), nl=False)
    sys.exit(EXIT_INPUT)


@skills_group.command("registry")
@click.option("-o", "--output", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write the registry to FILE (atomically) instead of printing it.")
@worktree_option
def registry_cmd(output: str | None, worktree_name: str | None) -> None:
    """Every skill of the worktree as JSON (awpolicy.skill-registry/1), the runner contract inlined.

    Sorted by name, paths relative to the worktree: the same bytes in every
    checkout. An invalid manifest fails the whole registry (exit 2)."""
    from aw_policy import skills

    catalog = skills.discover(_worktree(worktree_name))
    if catalog.problems:
        raise InputError(_render(catalog.problems))
    text = skills.dumps(skills.registry(catalog))
    if output is None:
        click.echo(text, nl=False)
        return
    from aw_runtime.atomic import write_atomic

    try:
        write_atomic(output, text.encode("utf-8"))
    except OSError as exc:
        raise InputError(f"awpolicy skills registry: error: cannot write {output}: {exc.strerror or exc}\n") \
            from None
    click.echo(f"wrote {output} ({len(catalog.skills)} skills)", err=True)


@skills_group.command("contract")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def contract_cmd(fmt: str) -> None:
    """The runner contract: the environment every skill gets, its result file, the envelope."""
    from aw_policy import skills

    contract = skills.CONTRACT
    if fmt == "json":
        click.echo(skills.dumps(contract), nl=False)
        return
    click.echo(f"skill runner contract ({contract['format']})\n\nenvironment:")
    width = max(len(item["name"]) for item in contract["env"])
    for item in contract["env"]:
        click.echo(f"  {item['name']:<{width}}  {item['meaning']}")
    click.echo(f"\nresult: {contract['result']['meaning']}")
    click.echo(f"\nenvironment precedence: {contract['env_precedence']}")
    click.echo(f"\n--json prints one {contract['envelope']} envelope (schemas/skill-run.schema.json).")
    click.echo(f"\nexit: {contract['exit']}")
