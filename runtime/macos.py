"""macOS: the ``sandbox-exec`` command line that applies a bundle's SBPL profile (stdlib only).

``profile.sb`` is the profile where ``prompt`` is deny. ``profile.supervised.sb``
(prompt = allow, gated by the Endpoint Security table) is chosen only once a
supervisor has answered on its socket; no supervisor exists yet, so it is never
chosen here. Parameters reach the profile's ``(param "NAME")`` forms through
``-D NAME=VALUE``; a profile naming a parameter that is not given fails to
load, so every bound parameter is passed. ``sandbox-exec -f`` reads the
profile from the bundle again after verification: whoever can swap a file in
the bundle directory in that instant could swap the profile (``-p`` with the
verified text closes that window, at the cost of a long argv; it is used when
the profile is re-rendered). The argv goes to ``execve`` as a
list (no shell), so spaces, quotes and ``=`` in values need no quoting:
``sandbox-exec`` splits each ``-D`` at its first ``=``, and names never hold one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

SANDBOX_EXEC = "/usr/bin/sandbox-exec"
PROFILE = "profile.sb"

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class MacosError(ValueError):
    """The argv cannot be built (missing profile, bad parameter)."""


def sandbox_exec_argv(bundle_dir: str, artifacts: Sequence[str], params: Mapping[str, str],
                      argv: Sequence[str], *, profile_text: str | None = None) -> list[str]:
    """``sandbox-exec -f BUNDLE/profile.sb -D NAME=VALUE ... -- CMD ARGS...``.

    ``artifacts`` are the verified bundle's artifact paths (the profile must be
    one of them). ``profile_text`` replaces ``-f`` with ``-p TEXT`` when the
    runtime re-rendered the profile because bound parameters reorder rules.
    """
    if not argv:
        raise MacosError("no command given")
    if profile_text is None:
        if PROFILE not in artifacts:
            raise MacosError(f"bundle has no {PROFILE}: it was compiled without the SBPL backend; "
                             "recompile it with this version of awpolicy")
        source = ["-f", f"{bundle_dir.rstrip('/') or '/'}/{PROFILE}"]
    else:
        source = ["-p", profile_text]
    defines = []
    for name in sorted(params):
        value = params[name]
        if not _NAME.fullmatch(name):
            raise MacosError(f"parameter name {name!r} is not an identifier")
        if "\0" in value:
            raise MacosError(f"parameter {name} contains a NUL byte")
        defines += ["-D", f"{name}={value}"]
    return [SANDBOX_EXEC, *source, *defines, "--", *argv]
