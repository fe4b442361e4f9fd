"""An include names a preset or file that does not exist.

What it does
------------
Reports include targets that are neither a known preset nor an existing file, with the
nearest preset name.

Why is this bad?
----------------
The rules you meant to include would be missing from the policy.

Example
-------
    # file: policy.awp
    scope project
    include "linux-bse"

Use instead
-----------
    # file: policy.awp
    scope project
    include "linux-base"
"""
