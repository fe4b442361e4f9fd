"""The policy file is empty or has no statements.

What it does
------------
Reports a policy file that contains only whitespace or comments.

Why is this bad?
----------------
An empty layer is usually a mistake (a file truncated, or not yet written) and grants
nothing.

Example
-------
    # file: policy.awp
    # TODO: the project policy

Use instead
-----------
    # file: policy.awp
    scope project
    fs { allow read "${WORKSPACE}" }
"""
