"""Safe mechanical fixes of a Seatbelt profile: ``fix_sbpl(text, filename) -> str``.

Only findings whose fix is certain are applied, and each edit touches only the
bytes it must (every other byte of the file is kept):

* AWP506: ``/tmp``, ``/var``, ``/etc`` at the start of a path filter's string
  (or after the ``^`` of a regex) gain the ``/private`` prefix;
* AWP505: the trailing ``/`` of a subpath string is removed;
* AWP508: ``(version 1)`` is added on a first line of its own.

A string whose characters are spelled with escapes is left alone. The result
lints clean of these codes, so fixing twice changes nothing (idempotent). A
profile that does not parse is returned unchanged.
"""

from __future__ import annotations

from aw_policy.diagnostics import PolicyError
from aw_policy.sbpl.lint import Edit, findings
from aw_policy.sbpl.parser import parse_sbpl

__all__ = ["FIXABLE_CODES", "fix_sbpl"]

FIXABLE_CODES = frozenset({"AWP505", "AWP506", "AWP508"})


def fix_sbpl(text: str, filename: str = "<sbpl>") -> str:
    try:
        profile = parse_sbpl(text, filename)
    except PolicyError:
        return text
    edits: list[Edit] = []
    for finding in findings(profile):
        if finding.diagnostic.code in FIXABLE_CODES:
            edits.extend(finding.edits)
    return apply_edits(profile.text, edits)


def apply_edits(text: str, edits: list[Edit]) -> str:
    """Apply non-overlapping edits; an edit overlapping one already taken is skipped."""
    out: list[str] = []
    position = 0
    for edit in sorted(set(edits), key=lambda e: (e.start, e.end)):
        if edit.start < position:
            continue
        out.append(text[position : edit.start])
        out.append(edit.text)
        position = edit.end
    out.append(text[position:])
    return "".join(out)
