"""The command's environment: credentials withheld, named ones passed, redirections applied."""

from __future__ import annotations


def _env_inside(machine, bundle, opts=("--best-effort", "--discard-branch")) -> dict[str, str]:
    result = machine.run(bundle, "/usr/bin/env", "-0", opts=opts)
    assert result.returncode == 0, result.stderr
    return dict(item.split("=", 1) for item in result.stdout.split("\0") if item)


def test_credentials_are_absent_and_the_allow_list_passes(machine, golden_bundle):
    env = _env_inside(machine, golden_bundle)
    for name in machine.secrets:
        assert name not in env, name
    assert "FAVOURITE_COLOUR" not in env  # not on the allow-list, not named by the policy
    assert env["PATH"] == machine.env["PATH"] and env["LANG"] == machine.env["LANG"]


def test_redirections_point_into_the_workspace(machine, golden_bundle):
    env = _env_inside(machine, golden_bundle)
    awp = machine.ws / ".awpolicy"
    assert env["HOME"] == str(awp / "home")
    assert env["TMPDIR"] == str(awp / "tmp")
    assert env["XDG_CACHE_HOME"] == str(awp / "cache")


def test_redirected_directories_exist_inside_and_nothing_is_left_behind(machine, golden_bundle):
    before = machine.listing()
    script = 'test -d "$HOME" && test -d "$TMPDIR" && test -d "$XDG_CACHE_HOME" && echo cached > "$XDG_CACHE_HOME/c"'
    result = machine.run(golden_bundle, "/bin/sh", "-c", script, opts=("--best-effort", "--discard-branch"))
    assert result.returncode == 0, result.stderr
    assert machine.listing() == before


def test_a_policy_that_names_a_credential_passes_it(machine, extra_bundle):
    bundle = extra_bundle("env { pass GITHUB_TOKEN FAVOURITE_COLOUR }\n")
    env = _env_inside(machine, bundle)
    assert env["GITHUB_TOKEN"] == machine.env["GITHUB_TOKEN"]
    assert env["FAVOURITE_COLOUR"] == "blue"
    for name in set(machine.secrets) - {"GITHUB_TOKEN"}:
        assert name not in env, name


def test_verbose_names_the_withheld_variables(machine, golden_bundle):
    result = machine.run(golden_bundle, "/bin/true", opts=("-v", "--best-effort", "--discard-branch"))
    assert result.returncode == 0
    line = next(l for l in result.stderr.splitlines() if "withheld" in l)
    for name in machine.secrets:
        assert name in line
    assert "aws-secret" not in result.stderr  # names, never values
