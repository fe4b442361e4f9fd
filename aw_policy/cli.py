"""The command line: the one place where diagnostics are rendered and exit codes chosen.

Exit codes: 0 ok, 1 findings or policy violations, 2 usage or input error.
Subcommands import what they need inside their bodies, so ``awpolicy run`` and
``awpolicy lint`` never pay for the compiler's heavier dependencies.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import click

from aw_policy import __version__
from aw_policy.capability_flags import capability_options

EXIT_OK, EXIT_FINDINGS, EXIT_INPUT = 0, 1, 2


class InputError(click.ClickException):
    """Rendered diagnostics; exit 2."""

    exit_code = EXIT_INPUT

    def __init__(self, rendered: str):
        super().__init__(rendered)

    def show(self, file=None) -> None:
        click.echo(self.message, err=True, nl=not self.message.endswith("\n"))


def _render(diagnostics, fmt: str = "text") -> str:
    from aw_policy.diagnostics import render_json, render_text

    if fmt == "json":
        return render_json(diagnostics)
    sources = {}
    for d in diagnostics:
        if d.span.file not in sources and os.path.isfile(d.span.file):
            try:
                sources[d.span.file] = Path(d.span.file).read_text(encoding="utf-8", errors="replace")
            except OSError:
                pass
    return render_text(diagnostics, sources)


def _fail(exc) -> InputError:
    return InputError(_render(exc.diagnostics))


def _parse_params(ctx, param, values) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", ctx=ctx, param=param)
        out[name] = value
    return out


param_option = click.option(
    "--param", "params", multiple=True, callback=_parse_params, metavar="NAME=VALUE",
    help="Bind a parameter such as WORKSPACE (repeatable).",
)


#: Subcommands that live in their own module under aw_policy.commands, loaded
#: only when invoked (or listed by --help): each area of the tool owns one
#: module, and a launch never imports the linter, nor a lint the runtime.
LAZY_COMMANDS: dict[str, str] = {
    "lint": "aw_policy.commands.lint:lint_cmd",
    "verify": "aw_policy.commands.integrity:verify_cmd",
    "keygen": "aw_policy.commands.integrity:keygen_cmd",
    "rules": "aw_policy.commands.rules:rules_cmd",
    "presets": "aw_policy.commands.presets:presets_cmd",
    "sessions": "aw_policy.commands.sessions:sessions_cmd",
    "run": "aw_policy.commands.run:run_cmd",
    "es": "aw_policy.commands.es:es_group",
    "learn": "aw_policy.commands.learn:learn_cmd",
    "audit": "aw_policy.commands.audit:audit_cmd",
    "shell": "aw_policy.commands.shell:shell_cmd",
    "attach": "aw_policy.commands.attach:attach_cmd",
    "clean": "aw_policy.commands.clean:clean_cmd",
    "skills": "aw_policy.commands.skills:skills_group",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx, name):
        if name in LAZY_COMMANDS:
            import importlib

            module, _, attr = LAZY_COMMANDS[name].partition(":")
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="awpolicy", message="%(prog)s %(version)s")
def main() -> None:
    """awpolicy: one declarative sandbox policy for AI coding agents.

    Compile policy sources into a bundle, explain decisions, lint in CI, and run
    a command under a bundle.
    """
    from aw_policy.entry import byte_transparent_output

    byte_transparent_output()  # again, for callers that invoke this group in process


def _load(sources: tuple[str, ...], bundle: str | None):
    """Policy from sources (merged) or from a compiled bundle."""
    from aw_policy.diagnostics import PolicyError

    if bool(sources) == bool(bundle):
        raise click.UsageError("give policy SOURCE files or --bundle DIR (one of them)")
    try:
        if bundle:
            from aw_policy.bundle import load_policy

            return load_policy(Path(bundle))[1]
        from aw_policy.merge import compile_sources

        return compile_sources(sources).policy
    except PolicyError as exc:
        raise _fail(exc) from None


@main.command("compile")
@click.argument("sources", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("-o", "--output", "output", required=True, type=click.Path(file_okay=False),
              help="Bundle directory to write (replaced atomically).")
@param_option
@click.option("--sign", "sign_key", type=click.Path(dir_okay=False), metavar="PRIVATE_KEY",
              help="Sign the bundle with this ed25519 PEM private key (writes manifest.sig).")
@click.option("--check", is_flag=True,
              help="Write nothing; exit 1 with a diff if OUTPUT differs from a fresh compile (golden drift).")
def compile_cmd(sources: tuple[str, ...], output: str, params: dict[str, str], sign_key: str | None,
                check: bool) -> None:
    """Compile policy SOURCES (any scopes) into a bundle directory."""
    from aw_policy.bundle import build, check_reference, write_tree
    from aw_policy.diagnostics import PolicyError
    from aw_policy.merge import compile_sources, display_relative_to

    out = Path(output)
    signing_key = _signing_key(sign_key) if sign_key else None
    try:
        merged = compile_sources(sources, display_for=display_relative_to(out.absolute()))
        files = build(merged.policy, params, signing_key)
        if check:
            sys.exit(_check_drift(out, files))
        write_tree(out, files)
    except PolicyError as exc:
        # Diagnostics name files relative to the bundle; re-run for cwd-relative names.
        try:
            check_reference(compile_sources(sources).policy, params)
        except PolicyError as again:
            raise _fail(again) from None
        raise _fail(exc) from None
    except OSError as exc:
        from aw_runtime.atomic import os_error_text

        raise InputError(f"awpolicy: cannot write bundle {output}: {os_error_text(exc)}\n") from None
    click.echo(f"wrote {output} ({len(files)} files, {len(merged.policy.rules)} rules)")
    if signing_key is not None:
        from aw_policy.bundle import key_fingerprint

        click.echo(f"signed by {key_fingerprint(signing_key)}")


def _check_drift(out: Path, fresh: dict[str, bytes]) -> int:
    """Compare a committed bundle with a fresh compile; print a unified diff of what differs."""
    from aw_policy.lint.rules.golden.golden_drift import compare

    diffs = compare(out, fresh)
    if not diffs:
        click.echo(f"{out}: up to date ({len(fresh)} files)")
        return EXIT_OK
    click.echo("".join(diffs.values()), nl=False)
    click.echo(f"{out}: stale; run `awpolicy compile ... -o {out}` and commit the result", err=True)
    return EXIT_FINDINGS


def _origin_text(rule) -> str:
    if rule.scope == "builtin":
        return "built-in"
    return f"{rule.scope:<8} {rule.origin}"


@main.command("show")
@click.argument("sources", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--bundle", type=click.Path(file_okay=False), help="Show a compiled bundle instead.")
@click.option("--preset", metavar="NAME", help="Print the source of a preset (see `awpolicy presets`).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def show_cmd(sources: tuple[str, ...], bundle: str | None, preset: str | None, fmt: str) -> None:
    """Print the effective merged policy, each rule with its origin."""
    if preset is not None:
        from aw_policy.preset_catalog import show_preset

        click.echo(show_preset(preset, sources, bundle, fmt, _fail), nl=False)
        return
    policy = _load(sources, bundle)
    if fmt == "json":
        import json

        click.echo(json.dumps(policy.to_json(), indent=2, sort_keys=True))
        return
    for cls in ("fs", "net", "signal", "debug", "mach"):
        rules = [r for r in policy.rules if r.cls == cls]
        if not rules:
            continue
        click.echo(f"{cls}:")
        for r in rules:
            click.echo(f"  {r.id:<6} {r.describe():<56} {_origin_text(r)}")
    for b in policy.branches:
        click.echo(f"branch {b.name}: base {b.base} cow={b.cow} hide={list(b.hide)} "
                   f"readonly={list(b.readonly)} on-exit {b.on_exit}  ({b.origin.scope} {b.origin})")
    if policy.env_set or policy.env_pass:
        click.echo("env:")
        for name, value in policy.env_set:
            click.echo(f"  {name} = {value}")
        if policy.env_pass:
            click.echo("  pass " + " ".join(policy.env_pass))


def _expand_object(obj: str, params: dict[str, str]) -> str:
    """Let explain take '~/x' and '${WORKSPACE}/x' the way policies write them."""
    from aw_policy import paths

    if obj == "~" or obj.startswith("~/"):
        obj = "${HOME}" + obj[1:]
    return paths.expand(obj, params) if "${" in obj else obj


@main.command("explain")
@click.argument("args", nargs=-1, required=True)
@click.option("--bundle", type=click.Path(file_okay=False), help="Explain against a compiled bundle.")
@param_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@capability_options
def explain_cmd(args: tuple[str, ...], bundle: str | None, params: dict[str, str], fmt: str, **flags) -> None:
    """What happens if the agent does OPERATION on OBJECT, and which rule decided it.

    \b
    awpolicy explain SOURCE... OPERATION OBJECT
    awpolicy explain --bundle DIR OPERATION OBJECT
    OPERATION: read, write, exec (a path), connect, bind (host:port),
    signal (self, children, pgrp, same-sandbox, others), mach (a service name),
    debug (same-sandbox, others: may a debugger attach there; see --debug).
    """
    from aw_policy import ir, session_layer
    from aw_policy.bundle import check_reference
    from aw_policy.diagnostics import PolicyError

    if len(args) < 2:
        raise click.UsageError("expected OPERATION OBJECT after the policy sources")
    *sources, op, obj = args
    policy = _load(tuple(sources), bundle)
    try:
        policy = session_layer.apply_flags(policy, session_layer.Flags.from_options(flags))
        check_reference(policy, params)
        bound = ir.bind(policy, params)
        request = ir.normalize_request(op, _expand_object(obj, bound.params))
    except (ir.RequestError, ValueError) as exc:  # PathError and FlagError are ValueErrors
        raise click.UsageError(str(exc)) from None
    except PolicyError as exc:
        raise _fail(exc) from None
    decision = ir.decide(bound, request)
    overridden = session_layer.blocked_in(decision)
    if fmt == "json":
        import json

        data = decision.to_json()
        data["params"] = bound.params
        data["overridden_flags"] = [r.origin.file for r in overridden]
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    click.echo(f"{op} {request.object}: {decision.effect.upper()}" + (" (audited)" if decision.audit else ""))
    click.echo(f"  decided by  {decision.rule.describe():<48} {_origin_text(decision.rule)}")
    if decision.rule.enforce:
        click.echo("              (enforced: inner scopes cannot override it)")
    for rule in decision.beaten:
        click.echo(f"  beat        {rule.describe():<48} {_origin_text(rule)}")
    for rule in overridden:
        click.echo(f"  note: the flag {rule.origin.file} cannot loosen this enforced rule")


@main.command("schema")
def schema_cmd() -> None:
    """Print the JSON Schema of YAML policies (for editors: '# yaml-language-server: $schema=...')."""
    from aw_policy.resources import resource_path

    click.echo(resource_path("schemas", "policy.schema.json").read_text(encoding="utf-8"), nl=False)


def _signing_key(path: str):
    """The ed25519 private key for --sign, or exit 2 saying what is wrong (never quoting the file)."""
    from aw_policy.bundle import load_signing_key
    from aw_policy.diagnostics import PolicyError, render_text

    try:
        return load_signing_key(path)
    except PolicyError as exc:
        raise InputError(render_text(exc.diagnostics)) from None


def run() -> None:
    """Entry point with a last line of defence: no traceback ever reaches the user."""
    from aw_policy.entry import guarded

    guarded(lambda: main(standalone_mode=True))
