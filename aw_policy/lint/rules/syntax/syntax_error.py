"""The policy text does not follow the grammar of the policy language.

What it does
------------
Reports text the DSL parser cannot read: an unexpected token, an unclosed block, a
missing target. Nothing else is checked in that file until it parses.

Why is this bad?
----------------
A policy that does not parse cannot be compiled; every later stage would be guessing.

Example
-------
    # file: policy.awp
    scope project
    fs {
      allow read "/usr"

Use instead
-----------
    # file: policy.awp
    scope project
    fs {
      allow read "/usr"
    }
"""
