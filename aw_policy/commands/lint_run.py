"""The body of `awpolicy lint`, without click: the click command and the plain fast path share it.

A plain ``awpolicy lint PATH...`` (no options) is the command that CI and
pre-commit run on every commit, so :mod:`aw_policy.entry` hands it to
:func:`run_plain` without importing click (some 20 ms of a cold start, see
``benchmarks/bench_lint.py``). Output and exit codes are the click
command's: text is written the way ``click.echo`` writes it, and anything
unusual (a stream click would re-wrap, ANSI codes click would strip, an
interrupt, a closed pipe, a configuration error) is handed to click itself.
"""

from __future__ import annotations

import io
import sys
from typing import NoReturn


def execute(paths, fmt: str = "text", select=None, ignore=None, fail_level=None, fix: bool = False,
            golden: bool = False, config_path=None, *, echo, input_error) -> int:
    """Lint, write the report with ``echo`` (click.echo's signature) and return the exit code.

    A bad configuration raises ``input_error(message)``."""
    from pathlib import Path

    from aw_policy.lint import lint_paths
    from aw_policy.lint.config import ConfigError, load_config
    from aw_policy.lint.report import render, summary

    try:
        config = load_config(Path(config_path) if config_path else None)
    except ConfigError as exc:
        raise input_error(f"awpolicy: {exc}\n") from None
    config = config.override(select=select, ignore=(config.ignore + ignore) if ignore else None,
                             fail_level=fail_level)
    result = lint_paths(paths, config, fix=fix, golden=golden)
    color = fmt == "text" and sys.stdout is not None and sys.stdout.isatty()  # None: stdout was closed
    output = render(result, fmt, color=color)
    if output:
        echo(output, nl=False, color=color)
    if fmt == "text":
        echo(summary(result), err=True)
    return result.exit_code(config.fail_level)


class _ConfigProblem(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def run_plain(paths: list[str]) -> NoReturn:
    """``awpolicy lint PATHS...`` as the click command runs it, without importing click; exits."""
    try:
        code = execute(paths, echo=_echo, input_error=_ConfigProblem)
    except _ConfigProblem as exc:
        from aw_policy.cli import InputError

        _as_click_would(InputError(exc.message))
    except (EOFError, KeyboardInterrupt) as exc:
        _as_click_would(exc)
    except OSError as exc:
        import errno

        if exc.errno != errno.EPIPE:
            raise
        _as_click_would(exc)
    sys.exit(code)


def _as_click_would(exc: BaseException) -> NoReturn:
    """Report ``exc`` exactly as click's standalone main reports it from inside a command
    ("Aborted!", a closed pipe, a ClickException's message and exit code). Rare paths only."""
    import click

    @click.command()
    def raising() -> None:
        raise exc

    raising.main(args=[], prog_name="awpolicy", standalone_mode=True)
    raise AssertionError("unreachable: click's standalone main exits")  # pragma: no cover


def _plain_stream(stream) -> bool:
    """A stream click.echo writes to as it is: a real text file, not ASCII (click re-wraps those)."""
    if type(stream) is not io.TextIOWrapper or sys.platform.startswith("win"):
        return False
    import codecs

    try:
        return codecs.lookup(stream.encoding).name != "ascii" and stream.errors is not None
    except (LookupError, TypeError):
        return False


def _echo(message: str = "", nl: bool = True, err: bool = False, color: bool | None = None) -> None:
    """``click.echo`` for the cases where it writes the text unchanged; click's own echo otherwise."""
    stream = sys.stderr if err else sys.stdout
    out = message + "\n" if nl else message
    if "\x1b" in out or stream is None or not _plain_stream(stream):
        import click

        click.echo(message, nl=nl, err=err, color=color)
        return
    if out:
        stream.write(out)
    stream.flush()
