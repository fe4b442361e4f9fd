"""The operation and filter catalog: its counts, hierarchy and agreement with the evaluator."""

from __future__ import annotations

import pytest

from aw_policy.sbpl import catalog
from aw_policy.sbpl.evaluator import _PROCEDURES, _SPECIAL_FORMS, _Loader


def test_the_vocabulary_has_the_documented_size():
    # FACTS.md: about 196 operations and 93 filters on recent macOS (14.4.1 table)
    assert len(catalog.VOCABULARY_14_4) == 196
    assert len(catalog.FILTER_VOCABULARY_14_4) == 93


@pytest.mark.parametrize(
    ("operation", "chain"),
    [
        ("file-read-data", ("file-read-data", "file-read*", "file*", "default")),
        ("file-write-unlink", ("file-write-unlink", "file-write*", "file*", "default")),
        ("process-exec", ("process-exec*", "process*", "default")),
        ("mach-lookup", ("mach-lookup", "mach*", "default")),
        ("signal", ("signal", "default")),
        ("default", ("default",)),
    ],
)
def test_operations_fall_back_along_their_wildcards(operation, chain):
    assert catalog.ancestors(operation) == chain


def test_every_operation_reaches_default():
    for name in catalog.OPERATIONS:
        assert catalog.ancestors(name)[-1] == "default"
        assert catalog.covers("default", name)


def test_covers_follows_the_star_rule_and_nothing_else():
    assert catalog.covers("file-read*", "file-read-metadata")
    assert not catalog.covers("file-read-data", "file-read-metadata")
    assert not catalog.covers("file-write*", "file-read-data")
    assert catalog.covers("process-exec", "process-exec-interpreter")


def test_deny_default_leaves_the_documented_operations_open():
    for name in ("process-info-pidinfo", "file-map-executable", "dynamic-code-generation", "nvram-set",
                 "process-info*", "nvram*"):
        assert not catalog.is_covered_by_default(name)
    assert catalog.is_covered_by_default("file-read-data")


def test_object_kinds():
    assert catalog.object_kind("file-read-data") == "path"
    assert catalog.object_kind("network-outbound") == "network"
    assert catalog.object_kind("signal") == "target"
    assert catalog.object_kind("mach-lookup") == "name"


def test_unknown_names_are_refused():
    assert not catalog.is_operation("file-raed*")
    with pytest.raises(KeyError):
        catalog.ancestors("file-raed*")


def test_the_evaluator_implements_what_the_catalog_accepts():
    assert set(_PROCEDURES) <= catalog.PROCEDURES
    assert set(_SPECIAL_FORMS) <= catalog.SPECIAL_FORMS
    bound = _Loader({}, "t.sb", None).global_env.vars
    # every filter spelling is callable, and no name is both an operation and a bound value
    assert set(catalog.FILTERS) <= set(bound)
    assert not [name for name in bound if catalog.is_operation(name)]
    assert set(catalog.METAFILTERS) <= set(bound)
