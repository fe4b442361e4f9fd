"""A path is relative, contains a wildcard outside a glob, or climbs above a parameter.

What it does
------------
Reports paths that cannot be normalized to an absolute pattern.

Why is this bad?
----------------
A relative path depends on the directory the agent happens to be in; a stray wildcard in
a plain path matches only a file literally named with a star.

Example
-------
    # file: policy.awp
    scope project
    fs { allow read "src" }

Use instead
-----------
    # file: policy.awp
    scope project
    fs { allow read "${WORKSPACE}/src" }
"""
