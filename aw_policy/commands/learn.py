"""`awpolicy learn`: propose a policy layer from recorded denials."""

from __future__ import annotations

from pathlib import Path

import click

from aw_policy.cli import InputError, _render, param_option


@click.command("learn")
@click.argument("denials", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--scope", type=click.Choice(["user", "project"]), default="user", show_default=True,
              help="Scope of the proposed layer.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the proposal here (atomically).")
@click.option("--bundle", type=click.Path(file_okay=False),
              help="The bundle the denials were recorded under: never loosen its enforced rules, drop stale denials.")
@param_option
def learn_cmd(denials: tuple[str, ...], scope: str, output: str | None, bundle: str | None,
              params: dict[str, str]) -> None:
    """Turn recorded DENIALS (denials.jsonl from --trace, or macOS sandbox log text) into proposed rules.

    Every proposal lists the denials it covers; nothing is widened to /, ~ or a
    secrets directory, and enforced rules are never loosened.
    """
    from aw_policy import ir
    from aw_policy.diagnostics import PolicyError
    from aw_policy.learn import default_params, propose, read_denials, render

    try:
        records = [d for path in denials for d in read_denials(Path(path))]
        bound = None
        values = default_params(params)
        if bundle:
            from aw_policy.bundle import load_policy

            policy = load_policy(Path(bundle))[1]
            bound = ir.bind(policy, values)
        learned = propose(records, values, bound)
    except PolicyError as exc:
        raise InputError(_render(exc.diagnostics)) from None
    text = render(learned, scope)
    if output:
        from aw_runtime.atomic import write_atomic

        try:
            write_atomic(Path(output), text.encode("utf-8"))
        except OSError as exc:
            raise InputError(f"awpolicy: cannot write {output}: {exc.strerror or exc}\n") from None
        click.echo(f"wrote {output}: {len(learned.proposals)} rule(s) proposed, {len(learned.skipped)} denial(s) "
                   "not proposed", err=True)
    else:
        click.echo(text, nl=False)
