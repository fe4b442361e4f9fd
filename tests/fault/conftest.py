"""Fault injection shares `awpolicy run`'s fixtures: a fake machine and bundles compiled into tmp."""

from __future__ import annotations

from run.conftest import Machine, extra_bundle, golden_bundle, machine  # noqa: F401  (fixtures)
