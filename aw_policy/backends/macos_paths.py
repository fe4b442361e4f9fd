"""macOS path aliases: the one place that knows ``/tmp`` is ``/private/tmp``.

macOS enforcers (Seatbelt, Endpoint Security, FSKit) see resolved paths: the
top-level symlinks ``/tmp``, ``/var`` and ``/etc`` point into ``/private``, so a
rule written for ``/tmp/x`` must be emitted for ``/private/tmp/x`` or it never
matches. Every macOS backend canonicalizes through these functions; the ES rule
table also ships :data:`ALIASES` so the runtime engine applies the same mapping
to bound parameter values and to request paths.

Stdlib only.
"""

from __future__ import annotations

#: Top-level aliases and their targets on macOS (sorted; no alias is a prefix of another).
ALIASES: dict[str, str] = {
    "/etc": "/private/etc",
    "/tmp": "/private/tmp",
    "/var": "/private/var",
}


def canonical(path: str, aliases: dict[str, str] | None = None) -> str:
    """Map a normalized absolute path (or a symbolic one) to its resolved macOS form.

    ``/tmp`` -> ``/private/tmp``, ``/var/folders/x`` -> ``/private/var/folders/x``;
    ``/tmpfoo``, ``/private/tmp`` and ``${TMPDIR}/x`` are returned unchanged
    (parameters are canonicalized after binding, by whoever binds them).
    """
    table = ALIASES if aliases is None else aliases
    for alias, target in table.items():
        if path == alias or path.startswith(alias + "/"):
            return target + path[len(alias):]
    return path


def canonical_params(values: dict[str, str], aliases: dict[str, str] | None = None) -> dict[str, str]:
    """Canonicalize resolved parameter values that are absolute paths."""
    return {k: canonical(v, aliases) if v.startswith("/") else v for k, v in values.items()}
