"""Policy files include each other in a cycle.

What it does
------------
Reports an include chain that comes back to a file already being included, naming the
whole chain.

Why is this bad?
----------------
A cycle has no order to merge in; it is always a mistake.

Example
-------
    # file: a.awp
    scope project
    include "b.awp"
    fs { allow read "/usr" }
    # file: b.awp
    include "a.awp"
    fs { allow read "/opt" }

Use instead
-----------
    # file: a.awp
    scope project
    include "b.awp"
    fs { allow read "/usr" }
    # file: b.awp
    fs { allow read "/opt" }
"""
