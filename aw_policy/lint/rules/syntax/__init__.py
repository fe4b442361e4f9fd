"""Lint rules of the syntax category (see aw_policy.lint.registry)."""
