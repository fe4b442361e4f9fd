"""The rule catalog: every code documented, every code with a positive and a negative fixture."""

from __future__ import annotations

import pytest

from aw_policy.lint import lint_paths, registry
from aw_policy.lint.config import Config, load_config

CATALOG = registry.catalog()


def test_codes_and_names_are_unique_and_well_formed():
    names = [s.name for s in CATALOG.values()]
    assert len(names) == len(set(names))
    for code, spec in CATALOG.items():
        assert code == spec.code and len(code) == 6 and code.startswith("AWP") and code[3:].isdigit()
        assert spec.category in registry.CATEGORIES and spec.stage in registry.STAGES


def test_the_sbpl_checks_are_in_the_catalog():
    sbpl = [s for s in CATALOG.values() if s.category == "sbpl"]
    assert len(sbpl) >= 10, "aw_policy.sbpl.lint.SBPL_RULES not plugged in"


@pytest.mark.parametrize("code", sorted(registry.RULES))
def test_every_rule_is_documented_in_its_module(code):
    spec = CATALOG[code]
    for section in registry.DOC_SECTIONS:
        assert spec.section(section).strip(), f"{code}: docs section {section!r} is empty"
    if spec.stage in ("policy", "golden"):
        assert callable(spec.check)


def _lint(materialize, spec, root, positive):
    paths = materialize(spec, root, positive)
    assert paths is not None, f"{spec.code} has no {'positive' if positive else 'negative'} fixture"
    dotfile = root / ".awpolicy.toml"
    config = load_config(dotfile) if dotfile.is_file() else Config()
    return lint_paths(paths, config, golden=spec.category == "golden")


@pytest.fixture(autouse=True)
def _example_presets(monkeypatch, tmp_path):
    """Examples may bring their own presets (in presets/ beside the policy)."""
    monkeypatch.setenv("AWPOLICY_PRESET_PATH", str(tmp_path / "presets"))


@pytest.mark.parametrize("code", sorted(CATALOG))
def test_positive_fixture_fires(code, tmp_path, rule_fixture):
    spec = CATALOG[code]
    result = _lint(rule_fixture, spec, tmp_path, positive=True)
    codes = [d.code for d in result.diagnostics]
    assert code in codes, f"{code} did not fire on its Example; got {codes}"
    assert result.exit_code("info") == (2 if spec.is_input else 1)


@pytest.mark.parametrize("code", sorted(CATALOG))
def test_negative_fixture_is_clean_of_it(code, tmp_path, rule_fixture):
    spec = CATALOG[code]
    result = _lint(rule_fixture, spec, tmp_path, positive=False)
    codes = [d.code for d in result.diagnostics]
    assert code not in codes, f"{code} fired on its 'Use instead': {result.diagnostics}"
    assert not result.input_errors, f"the negative fixture of {code} does not even read: {codes}"
    assert result.files, "nothing was linted"
