"""A path uses a parameter that is neither built in nor declared.

What it does
------------
Reports ${NAME} references to parameters no layer declares (WORKSPACE, HOME, TMPDIR and
GIT_COMMON_DIR are built in).

Why is this bad?
----------------
The path could not be bound at launch; usually the name is misspelt.

Example
-------
    # file: policy.awp
    scope project
    fs { allow read "${SRC_DIR}" }

Use instead
-----------
    # file: policy.awp
    scope project
    param SRC_DIR = "/srv/src"
    fs { allow read "${SRC_DIR}" }
"""
