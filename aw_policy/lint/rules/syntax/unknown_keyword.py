"""A word that is not a keyword of the language, with the closest keyword suggested.

What it does
------------
Reports a misspelt keyword (effect, operation, block or modifier) and suggests the
nearest valid one.

Why is this bad?
----------------
A misspelt effect or operation would otherwise be a confusing syntax error far from the
cause.

Example
-------
    # file: policy.awp
    scope project
    fs { alow read "/usr" }

Use instead
-----------
    # file: policy.awp
    scope project
    fs { allow read "/usr" }
"""
