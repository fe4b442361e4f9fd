"""A suppression comment silences nothing.

What it does
------------
Reports codes named in `# awpolicy: ignore[...]` comments that no finding on that line
has (only for checks that ran).

Why is this bad?
----------------
Stale suppressions pile up and would hide a real finding that appears on that line
later.

Example
-------
    # file: policy.awp
    scope project
    fs { allow read "/usr" }  # awpolicy: ignore[AWP201] reads nothing secret

Use instead
-----------
    # file: policy.awp
    scope project
    fs { allow read "/usr" }
"""
