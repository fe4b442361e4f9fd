"""The sandbox-exec argv (no Mac here: the argv itself is what is tested)."""

import pytest
from aw_runtime.macos import MAX_INLINE_PROFILE, SANDBOX_EXEC, MacosError, sandbox_exec_argv

PROFILE_TEXT = "(version 1)\n(deny default)\n"


def test_argv_shape_profile_inline_params_then_command():
    argv = sandbox_exec_argv(PROFILE_TEXT, {"WORKSPACE": "/w", "HOME": "/h"}, ["git", "status", "-s"])
    assert argv == [SANDBOX_EXEC, "-p", PROFILE_TEXT, "-D", "HOME=/h", "-D", "WORKSPACE=/w",
                    "--", "git", "status", "-s"]


@pytest.mark.parametrize("value", ["/Users/a b/work space", 'he said "hi"', "a=b=c", "it's", "(allow default)",
                                   "-D", "--", "$(rm -rf /)", "\\", "é ü"])
def test_values_are_single_argv_elements(value):
    argv = sandbox_exec_argv(PROFILE_TEXT, {"WORKSPACE": value}, ["cmd"])
    i = argv.index("-D")
    # one element, split by sandbox-exec at the first '=': the name, then the exact value
    name, _, rest = argv[i + 1].partition("=")
    assert (name, rest) == ("WORKSPACE", value)
    assert argv[argv.index("--") + 1:] == ["cmd"]


def test_command_that_looks_like_an_option_stays_after_the_separator():
    argv = sandbox_exec_argv(PROFILE_TEXT, {}, ["-p", "(allow default)"])
    assert argv[-3:] == ["--", "-p", "(allow default)"]
    assert argv[1:3] == ["-p", PROFILE_TEXT]


def test_a_profile_too_long_for_argv_is_refused_not_read_from_disk():
    with pytest.raises(MacosError, match="bytes"):
        sandbox_exec_argv(";" * (MAX_INLINE_PROFILE + 1), {}, ["true"])


@pytest.mark.parametrize("params", [{"BAD=NAME": "x"}, {"1X": "x"}, {"X": "a\0b"}])
def test_bad_params_refuse(params):
    with pytest.raises(MacosError):
        sandbox_exec_argv(PROFILE_TEXT, params, ["true"])


def test_no_command_refuses():
    with pytest.raises(MacosError):
        sandbox_exec_argv(PROFILE_TEXT, {}, [])


# --- the macOS path of the launcher up to the argv, on the golden bundle (verify, bind, order recheck)

REFERENCE = {"HOME": "/home/agent", "WORKSPACE": "/home/agent/workspace", "TMPDIR": "/tmp",
             "GIT_COMMON_DIR": "/home/agent/workspace/.git"}
DEEPER = {"HOME": "/Users/dev", "WORKSPACE": "/Users/dev/src/work/app", "TMPDIR": "/private/var/folders/x/T",
          "GIT_COMMON_DIR": "/Users/dev/src/work/app/.git"}


def _argv(bundle, params):
    from aw_runtime.launcher import RunRequest, macos_argv, prepare

    req = RunRequest(bundle=str(bundle), argv=("git", "status"), params=params)
    prep = prepare(req, environ={"PATH": "/usr/bin"}, cwd="/", platform="darwin")
    assert prep.plan_doc is None  # nothing of the Linux plan on macOS
    return prep, macos_argv(prep, req)


def test_launcher_uses_the_compiled_profile_when_the_order_holds(golden_bundle):
    prep, argv = _argv(golden_bundle, REFERENCE)
    assert not prep.reordered
    # the verified bytes inline: a file swapped in the bundle after verification is never read
    assert argv[:3] == [SANDBOX_EXEC, "-p", (golden_bundle / "profile.sb").read_text()]
    assert argv[-3:] == ["--", "git", "status"]
    # The profile loads with exactly the -D values given (a param it reads and is not
    # given would stop sandbox-exec) and decides as the policy says.
    loaded = _load_with_defines((golden_bundle / "profile.sb").read_text(), argv)
    assert _reads(loaded, "/home/agent/workspace/README") is True
    assert _reads(loaded, "/home/agent/.ssh/id_rsa") is False
    assert _reads(loaded, "/home/agent/.SSH/id_rsa") is False  # APFS would open the same file


def _load_with_defines(text: str, argv: list[str]):
    from aw_policy.sbpl.evaluator import load_profile

    defines = dict(argv[i + 1].split("=", 1) for i, a in enumerate(argv) if a == "-D")
    return load_profile(text, defines, "profile.sb")


def _reads(loaded, path: str) -> bool:
    from aw_policy.sbpl.evaluator import Request, evaluate

    return evaluate(loaded, Request("file-read-data", path=path)).allowed


def test_launcher_re_renders_the_profile_when_the_order_changes(golden_bundle):
    from aw_policy.backends.sbpl import render_profile

    prep, argv = _argv(golden_bundle, DEEPER)
    assert prep.reordered
    assert argv[1] == "-p"
    assert argv[2] == render_profile(prep.policy, prep.params, supervised=False)[0]
    assert argv[2] != (golden_bundle / "profile.sb").read_text()  # the order really differs
    loaded = _load_with_defines(argv[2], argv)
    assert _reads(loaded, "/Users/dev/src/work/app/main.py") is True
    assert _reads(loaded, "/Users/dev/.ssh/id_rsa") is False


def test_a_profile_swapped_after_verification_is_not_what_sandbox_exec_gets(golden_bundle, tmp_path):
    import shutil

    from aw_runtime.launcher import RunRequest, macos_argv, prepare

    bundle = tmp_path / "bundle"
    shutil.copytree(golden_bundle, bundle)
    verified = (bundle / "profile.sb").read_text()
    req = RunRequest(bundle=str(bundle), argv=("true",), params=REFERENCE)
    prep = prepare(req, environ={"PATH": "/usr/bin"}, cwd="/", platform="darwin")
    (bundle / "profile.sb").write_text("(version 1)\n(allow default)\n")  # the swap, after verify
    argv = macos_argv(prep, req)
    assert argv[2] == verified and "(allow default)" not in argv[2]
