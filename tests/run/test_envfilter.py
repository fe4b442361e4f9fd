"""The environment filter: allow-list, credential names, the policy's pass and set."""

from aw_runtime.envfilter import expand_settings, filter_env, looks_like_credential, redirect_dirs

HOST = {
    "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C", "TERM": "xterm", "USER": "dev",
    "HOME": "/home/dev", "AWS_SECRET_ACCESS_KEY": "s", "AWS_PROFILE": "p", "GITHUB_TOKEN": "g",
    "GH_TOKEN": "g", "OPENAI_API_KEY": "k", "NPM_TOKEN": "n", "DB_PASSWORD": "x", "MY_SECRET_THING": "y",
    "SSH_AUTH_SOCK": "/run/ssh", "DISPLAY": ":0", "LD_PRELOAD": "/evil.so", "PYTHONPATH": "/x",
}


def test_defaults_pass_credentials_and_unknown_names_do_not():
    out = filter_env(HOST, pass_names=(), set_values={})
    assert {"PATH", "LANG", "LC_ALL", "TERM", "USER", "HOME"} <= set(out.env)
    for name in ("AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "GITHUB_TOKEN", "GH_TOKEN", "OPENAI_API_KEY",
                 "NPM_TOKEN", "DB_PASSWORD", "MY_SECRET_THING", "SSH_AUTH_SOCK", "DISPLAY", "LD_PRELOAD",
                 "PYTHONPATH"):
        assert name not in out.env
    assert set(out.withheld) == {n for n in HOST if looks_like_credential(n)}
    assert "DISPLAY" not in out.withheld  # not a credential, just not passed


def test_policy_pass_names_a_credential_explicitly():
    out = filter_env(HOST, pass_names=("GITHUB_TOKEN", "SSH_AUTH_SOCK", "ABSENT"), set_values={})
    assert out.env["GITHUB_TOKEN"] == "g" and out.env["SSH_AUTH_SOCK"] == "/run/ssh"
    assert "ABSENT" not in out.env and "GH_TOKEN" not in out.env


def test_settings_win_and_expand_params():
    settings = expand_settings((("HOME", "${WORKSPACE}/.awpolicy/home"), ("CACHE", "${HOME}/c"), ("MODE", "x=y")),
                               {"WORKSPACE": "/w", "HOME": "/home/dev"})
    assert settings == {"HOME": "/w/.awpolicy/home", "CACHE": "/home/dev/c", "MODE": "x=y"}
    out = filter_env(HOST, pass_names=(), set_values=settings)
    assert out.env["HOME"] == "/w/.awpolicy/home"


def test_redirect_dirs_only_inside_workspace_awpolicy():
    settings = {"HOME": "/w/.awpolicy/home", "TMPDIR": "/w/.awpolicy/tmp", "X": "/etc", "Y": "/w/.awpolicyx",
                "Z": "/w/src"}
    assert redirect_dirs(settings, "/w") == ["/w/.awpolicy/home", "/w/.awpolicy/tmp"]


def test_credential_patterns():
    for name in ("AWS_ACCESS_KEY_ID", "aws_secret", "GITHUB_TOKEN", "X_API_KEY", "CI_JOB_TOKEN",
                 "SLACK_CLIENT_SECRET", "PGPASSWORD_FILE".replace("PG", "PG_"), "GOOGLE_APPLICATION_CREDENTIALS"):
        assert looks_like_credential(name), name
    for name in ("PATH", "TOKENIZERS_PARALLELISM", "LANG", "TERM"):
        assert not looks_like_credential(name), name


def test_name_patterns_match_as_fnmatch_does():
    from fnmatch import fnmatchcase

    from aw_runtime.envfilter import CREDENTIAL_PATTERNS, _default_pass

    names = ["", "AWS", "AWS_", "AWS_X", "XAWS_X", "GITHUB_TOKEN", "GITHUB_TOKENS", "A_GITHUB_TOKEN",
             "_API_KEY", "X_API_KEY", "X_API_KEY_2", "X_SECRET", "X_SECRETS_Y", "SECRET", "_SECRET",
             "A\n_SECRET\nB", "LC_", "LC_ALL", "lc_all", "XLC_ALL", "ß_TOKEN", "x_token", "PATH",
             "GOOGLE_APPLICATION_CREDENTIALS", "MY_CREDENTIALS_FILE", "A_PRIVATE_KEY_PATH", "DB_PASSWD",
             "SSH_AUTH_SOCK", "SSH_AUTH_SOCKET"]
    for name in names:
        credential = any(fnmatchcase(name.upper(), p) for p in CREDENTIAL_PATTERNS)
        assert looks_like_credential(name) == credential, name
        assert _default_pass(name) == (name in {"PATH"} or fnmatchcase(name, "LC_*")), name
