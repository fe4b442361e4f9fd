"""Lint rules, one module per rule, in one folder per category.

A module's docstring is the rule's documentation (``awpolicy rules CODE``) and
its examples are the rule's test fixtures; a policy rule also has ``check``.
The code -> module table is :mod:`aw_policy.lint.registry`.
"""
