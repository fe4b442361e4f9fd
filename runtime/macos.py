"""macOS: the ``sandbox-exec`` command line that applies a bundle's SBPL profile (stdlib only).

``profile.sb`` is the profile where ``prompt`` is deny. ``profile.supervised.sb``
(prompt = allow, gated by the Endpoint Security table) is chosen only once a
supervisor has answered on its socket; no supervisor exists yet, so it is never
chosen here. Parameters reach the profile's ``(param "NAME")`` forms through
``-D NAME=VALUE``; a profile naming a parameter that is not given fails to
load, so every bound parameter is passed. The profile always travels inline
(``-p TEXT``): it is the text that was verified (or re-rendered from verified
bytes), never a path, so nothing that swaps a file in the bundle directory
after verification can change what ``sandbox-exec`` loads. A profile too long
for an argument is refused rather than read from disk. The argv goes to ``execve`` as a
list (no shell), so spaces, quotes and ``=`` in values need no quoting:
``sandbox-exec`` splits each ``-D`` at its first ``=``, and names never hold one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

SANDBOX_EXEC = "/usr/bin/sandbox-exec"
PROFILE = "profile.sb"
# ARG_MAX bounds argv and environment together (getconf ARG_MAX; 256 KiB on
# older macOS releases): stay under it with room for the command and its env.
MAX_INLINE_PROFILE = 192 * 1024

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class MacosError(ValueError):
    """The argv cannot be built (missing profile, bad parameter)."""


def sandbox_exec_argv(profile_text: str, params: Mapping[str, str], argv: Sequence[str]) -> list[str]:
    """``sandbox-exec -p PROFILE -D NAME=VALUE ... -- CMD ARGS...``.

    ``profile_text`` is the verified ``profile.sb`` (or the one re-rendered
    because bound parameters reorder rules).
    """
    if not argv:
        raise MacosError("no command given")
    size = len(profile_text.encode("utf-8"))
    if size > MAX_INLINE_PROFILE:
        raise MacosError(f"the profile is {size:,} bytes, more than the {MAX_INLINE_PROFILE:,} that can be passed "
                         "to sandbox-exec inline; split the policy or drop rules it does not need")
    defines = []
    for name in sorted(params):
        value = params[name]
        if not _NAME.fullmatch(name):
            raise MacosError(f"parameter name {name!r} is not an identifier")
        if "\0" in value:
            raise MacosError(f"parameter {name} contains a NUL byte")
        defines += ["-D", f"{name}={value}"]
    return [SANDBOX_EXEC, "-p", profile_text, *defines, "--", *argv]
