"""Fuzz the command line: every subcommand (found by walking ``main``, so new commands are covered),
given garbage arguments, answers with a usage message and exit 2, or a diagnostic and exit 2;
never a traceback, and a failed command leaves no files behind."""

from __future__ import annotations

import os
import shutil

import click
import pytest
from click.testing import CliRunner
from fuzz_helpers import fuzz_settings, time_bound
from helpers import GOLDEN_SOURCES, run_cli
from hypothesis import assume, given
from hypothesis import strategies as st

from aw_policy.cli import main


def command_paths(group: click.Group = main, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    ctx = click.Context(group)
    paths = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        paths.append((*prefix, name))
        if isinstance(command, click.Group):
            paths.extend(command_paths(command, (*prefix, name)))
    return paths


COMMANDS = command_paths()


def options_taking_a_value(path: tuple[str, ...]) -> list[str]:
    command: click.Command = main
    for name in path:
        command = command.get_command(click.Context(command), name)
    return sorted(opt for p in command.params if isinstance(p, click.Option) and not p.is_flag and not p.count
                  for opt in p.opts)


def test_the_walk_finds_the_commands():
    assert {("compile",), ("verify",), ("keygen",), ("lint",)} <= set(COMMANDS)


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_unknown_option_gives_usage_and_exit_2(path, tmp_path):
    """The real entry point in a real process."""
    result = run_cli(*path, "--no-such-option-zq", "x", cwd=tmp_path)
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Usage:" in result.stderr and "No such option" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("path, opt", [(p, o) for p in COMMANDS for o in options_taking_a_value(p)],
                         ids=lambda v: " ".join(v) if isinstance(v, tuple) else v)
def test_option_without_its_value_exits_2_naming_it(path, opt):
    outcome = CliRunner().invoke(main, [*path, opt], catch_exceptions=True)
    assert outcome.exit_code == 2, (opt, outcome.exit_code, outcome.output)
    # click names the option but prints no usage line for this one error
    assert f"Option '{opt}' requires an argument" in outcome.stderr, outcome.stderr
    assert isinstance(outcome.exception, SystemExit), repr(outcome.exception)


WORDS = ["-", "--", "-o", "--output", "--param", "--param=X", "A=B", "=", "--format", "json", "sarif", "text",
         "--key", "--bundle", "--sign", "--check", "--best-effort", ".", "src", "/dev/null", "/nonexistent",
         "src/org.awp", "src/user.awp.yaml", "out", "read", "write", "connect", "~/.ssh/id_rsa", "\udcff.awp",
         "\u202e", "-x", "--no", "\n", "", " ", "%s", "{}", "NAME=${HOME}", "HOME=", "-oout"]


#: What argv can hold: anything but NUL (execve cannot pass it), undecodable bytes as surrogate escapes.
#: Paths stay inside the sandbox directory: `lint /` walking the whole disk is slow, not a bug.
#: What a process's argv can hold: any bytes but NUL, decoded as Python decodes argv (undecodable
#: bytes become surrogate escapes; a lone surrogate such as U+D800 cannot arrive on a command line).
ARG = st.one_of(st.sampled_from(WORDS),
                st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=10),
                st.binary(min_size=1, max_size=10).filter(lambda b: b"\x00" not in b).map(os.fsdecode)
                ).filter(lambda a: a.strip("/.") or not a)


@pytest.fixture(scope="module")
def sandbox_dir(tmp_path_factory):
    """A working directory holding real policy sources, so garbage can reach past argument parsing."""
    base = tmp_path_factory.mktemp("cli")
    (base / "src").mkdir()
    for source in GOLDEN_SOURCES:
        shutil.copy(source, base / "src" / source.name)
    return base


def snapshot(directory) -> dict[str, float]:
    return {os.path.join(root, n): os.lstat(os.path.join(root, n)).st_mtime_ns
            for root, dirs, files in os.walk(directory) for n in dirs + files}


#: Commands that start a sandboxed program and exit with its status (garbage may well be a valid
#: command line for them: `shell -- A=B` runs the shell on a script named A=B).
LAUNCHERS = ("run", "shell", "attach")


@fuzz_settings(150)
@given(path=st.sampled_from([p for p in COMMANDS if p[0] not in LAUNCHERS]),
       args=st.lists(ARG, max_size=6))
def test_garbage_arguments(sandbox_dir, path, args):
    """In process, without the entry point's last line of defence: any exception but SystemExit is a bug."""
    before = snapshot(sandbox_dir)
    cwd = os.getcwd()
    os.chdir(sandbox_dir)
    try:
        with time_bound(f"awpolicy {' '.join(path)} {args!r}"):
            outcome = CliRunner().invoke(main, [*path, *args], catch_exceptions=True)
    finally:
        os.chdir(cwd)
    assert outcome.exception is None or isinstance(outcome.exception, SystemExit), (
        f"awpolicy {' '.join(path)} {args!r} raised {outcome.exception!r}")
    assert outcome.exit_code in (0, 1, 2), (outcome.exit_code, outcome.output)
    assert "Traceback" not in outcome.output
    if outcome.exit_code == 2:
        assert outcome.stderr.strip(), "exit 2 says why"
        assert snapshot(sandbox_dir) == before, "a failed command left files behind"
    else:  # a command that succeeded may write (keygen, compile): reset the directory for the next example
        for name in set(snapshot(sandbox_dir)) - set(before):
            if os.path.lexists(name):
                shutil.rmtree(name) if os.path.isdir(name) and not os.path.islink(name) else os.unlink(name)


@fuzz_settings(60)
@given(args=st.lists(ARG, max_size=5))
def test_garbage_arguments_to_run_never_launch(sandbox_dir, tmp_path_factory, args):
    """`run` with no valid bundle refuses (exit 2) before launching anything."""
    assume(not {"-h", "--help"} & set(args))
    marker = tmp_path_factory.mktemp("run") / "launched"
    cwd = os.getcwd()
    os.chdir(sandbox_dir)
    try:
        with time_bound(f"awpolicy run {args!r}"):
            outcome = CliRunner().invoke(main, ["run", *args, "--", "touch", str(marker)], catch_exceptions=True)
    finally:
        os.chdir(cwd)
    assert outcome.exception is None or isinstance(outcome.exception, SystemExit), repr(outcome.exception)
    assert outcome.exit_code == 2, (outcome.exit_code, outcome.output)
    assert not marker.exists(), "a command was launched without a valid bundle"
