"""A file's scope is missing, declared twice, or contradicts the layer it is included into.

What it does
------------
Reports a second scope line, and included files that declare a scope other than the
including file's.

Why is this bad?
----------------
The scope decides precedence; an ambiguous scope makes every override ambiguous.

Example
-------
    # file: policy.awp
    scope project
    scope user
    fs { allow read "/usr" }

Use instead
-----------
    # file: policy.awp
    scope user
    fs { allow read "/usr" }
"""
