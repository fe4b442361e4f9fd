"""Lint rules of the golden category (see aw_policy.lint.registry)."""
