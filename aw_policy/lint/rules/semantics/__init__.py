"""Lint rules of the semantics category (see aw_policy.lint.registry)."""
