"""A quoted string is not closed on its line.

What it does
------------
Reports a double-quoted string without its closing quote. Strings end on the line they
start on.

Why is this bad?
----------------
The parser cannot tell where the path ends, so the rest of the file would be misread.

Example
-------
    # file: policy.awp
    scope project
    fs { allow read "/usr }

Use instead
-----------
    # file: policy.awp
    scope project
    fs { allow read "/usr" }
"""
