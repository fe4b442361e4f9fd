"""The environment a sandboxed command starts with (stdlib only).

Comparable tools hand the agent the caller's whole environment, tokens
included. Here the command gets:

1. the variables of a short allow-list (:data:`DEFAULT_PASS`, plus ``LC_*``)
   that are present in the caller's environment, minus anything that looks
   like a credential (:data:`CREDENTIAL_PATTERNS`);
2. every variable the policy's ``env { pass NAME }`` names, credential-like
   or not: naming it is the explicit grant (``SSH_AUTH_SOCK`` through a
   host-ssh preset, say);
3. the policy's ``env { NAME = "value" }`` settings, parameters expanded,
   which win over both (this is how HOME, TMPDIR and the caches are
   redirected into the workspace's ``.awpolicy/`` directory).
"""

from __future__ import annotations

import os

from aw_runtime.record import Record

TYPE_CHECKING = False  # annotations only: importing collections.abc costs a launch 0.3 ms
if TYPE_CHECKING:
    from collections.abc import Mapping

#: Passed through when present: what a shell, a compiler or a test runner
#: needs to behave like it does outside, and nothing that grants access.
DEFAULT_PASS = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "TMPDIR",
    "LANG", "LANGUAGE", "TZ",
    "TERM", "COLORTERM", "TERM_PROGRAM", "TERM_PROGRAM_VERSION", "COLUMNS", "LINES",
    "NO_COLOR", "FORCE_COLOR", "CLICOLOR", "CLICOLOR_FORCE",
    "EDITOR", "VISUAL", "PAGER",
})
DEFAULT_PASS_PATTERNS = ("LC_*",)

#: Names that look like credentials (matched on the upper-cased name). They
#: never pass by default, only when the policy names them in ``env { pass }``.
CREDENTIAL_PATTERNS = (
    "AWS_*", "GITHUB_TOKEN", "GH_TOKEN", "GH_ENTERPRISE_TOKEN", "SSH_AUTH_SOCK",
    "*_API_KEY", "*_APIKEY", "*_TOKEN", "*_SECRET*", "*_PASSWORD*", "*_PASSWD*",
    "*_ACCESS_KEY*", "*_PRIVATE_KEY*", "*_CREDENTIALS*", "GOOGLE_APPLICATION_CREDENTIALS",
)


class EnvError(ValueError):
    """A policy env setting that cannot be applied (the message names it)."""


def _matcher(patterns):
    """``fnmatchcase(name, p)`` for any of ``patterns``, whose only wildcard is a ``*`` at either end:
    string tests instead of a regular expression (compiling one cost every launch a millisecond)."""
    exact, prefixes, suffixes, infixes = set(), [], [], []
    for pattern in patterns:
        core = pattern.strip("*")
        if any(c in core for c in "*?[") or not core:
            raise ValueError(f"{pattern!r}: only a leading or trailing * is supported")
        if pattern.startswith("*") and pattern.endswith("*"):
            infixes.append(core)
        elif pattern.startswith("*"):
            suffixes.append(core)
        elif pattern.endswith("*"):
            prefixes.append(core)
        else:
            exact.add(core)
    prefixes, suffixes = tuple(prefixes), tuple(suffixes)

    def matches(name: str) -> bool:
        return (name in exact or name.startswith(prefixes) or name.endswith(suffixes)
                or any(core in name for core in infixes))

    return matches


_credential = _matcher(CREDENTIAL_PATTERNS)
_default_pattern = _matcher(DEFAULT_PASS_PATTERNS)


def looks_like_credential(name: str) -> bool:
    return _credential(name.upper())


def _default_pass(name: str) -> bool:
    return name in DEFAULT_PASS or _default_pattern(name)


class FilteredEnv(Record):
    env: dict[str, str]
    #: Credential-like names present in the caller's environment and kept out.
    withheld: tuple[str, ...]


def filter_env(environ: Mapping[str, str], pass_names, set_values: Mapping[str, str]) -> FilteredEnv:
    """The command's environment: allow-list, then the policy's pass list, then its settings.

    ``set_values`` must already have parameters expanded (see :func:`expand_settings`).
    """
    explicit = set(pass_names)
    env: dict[str, str] = {}
    withheld = []
    for name, value in environ.items():
        if "\0" in name or "\0" in value or "=" in name or not name:
            continue
        if name in explicit:
            env[name] = value
        elif looks_like_credential(name):
            withheld.append(name)
        elif _default_pass(name):
            env[name] = value
    env.update(set_values)
    return FilteredEnv(dict(sorted(env.items())), tuple(sorted(withheld)))


def expand_settings(env_set, params: Mapping[str, str]) -> dict[str, str]:
    """The policy's ``NAME = "value"`` pairs with ``${PARAM}`` expanded (values verbatim otherwise)."""
    from aw_policy import paths

    out = {}
    for name, value in env_set:
        try:
            text = paths.expand(value, dict(params))
        except paths.PathError as exc:
            raise EnvError(f"env {name}: {exc}") from None
        if "\0" in text:
            raise EnvError(f"env {name}: value contains a NUL byte")
        out[name] = text
    return out


def redirect_dirs(settings: Mapping[str, str], workspace: str) -> list[str]:
    """Directories the runtime creates before launch: the policy's settings that point
    into the workspace's ``.awpolicy/`` directory (HOME, TMPDIR, caches...)."""
    root = os.path.join(workspace, ".awpolicy")
    return sorted({v for v in settings.values() if v == root or v.startswith(root + "/")})
