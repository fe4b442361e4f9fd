"""A parameter is declared twice with different defaults, or a built-in one is declared.

What it does
------------
Reports conflicting param declarations and declarations of the built-in parameters.

Why is this bad?
----------------
Which value applies would depend on merge order; built-in parameters are bound at
launch.

Example
-------
    # file: policy.awp
    scope project
    param WORKSPACE = "/src"
    fs { allow read "${WORKSPACE}" }

Use instead
-----------
    # file: policy.awp
    scope project
    fs { allow read "${WORKSPACE}" }
"""
