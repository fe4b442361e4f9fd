"""Lint rules of the portability category (see aw_policy.lint.registry)."""
