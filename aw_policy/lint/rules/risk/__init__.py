"""Lint rules of the risk category: grants that expose credentials or let the agent escape.

The places checked are probed with :func:`aw_policy.ir.decide` under the
reference binding, so any way of granting them (a broad subtree, a default,
a preset) is found.
"""

from __future__ import annotations

#: Credentials and secrets, relative to HOME; a trailing "/" marks a directory.
SECRETS: tuple[str, ...] = (
    ".ssh/", ".aws/", ".gnupg/", ".config/gh/", ".netrc", ".docker/config.json", ".git-credentials",
    ".kube/", ".config/gcloud/", ".azure/", ".npmrc", ".pypirc",
    ".local/share/keyrings/", "Library/Keychains/",
    ".mozilla/", ".config/google-chrome/", ".config/chromium/",
    "Library/Application Support/Google/Chrome/", "Library/Application Support/Firefox/",
    "Library/Cookies/", "Library/Safari/",
)


def probes(pset, rel: str) -> list[str]:
    """Concrete paths for one entry: a file, or a directory and a file in it."""
    from aw_policy.lint.context import PROBE_NAME

    path = pset.home(rel.rstrip("/"))
    return [path, path + "/" + PROBE_NAME] if rel.endswith("/") else [path]


def readable_secrets(pset) -> dict[str, tuple]:
    """Secret (as written under ~) -> the rule that lets it be read, for each readable one."""
    cache = pset.__dict__.get("_readable_secrets")
    if cache is None:
        cache = {}
        for rel in SECRETS:
            for obj in probes(pset, rel):
                decision = pset.decide("read", obj)
                if decision.effect == "allow":
                    cache["~/" + rel.rstrip("/")] = decision.rule
                    break
        pset.__dict__["_readable_secrets"] = cache
    return cache


def by_rule(found: dict[str, object]) -> dict[object, list[str]]:
    grouped: dict[object, list[str]] = {}
    for what, rule in found.items():
        grouped.setdefault(rule, []).append(what)
    return grouped
