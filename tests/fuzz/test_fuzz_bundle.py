"""Fuzz the bundle loaders on mutated bundles: verify_bundle (the runtime's first step) and
load_policy (what explain/show --bundle read). Either the bundle is accepted exactly as compiled
(a mutation that changes an artifact's bytes is never accepted), or it is refused with a code and
the file at fault; never a traceback, never a hang."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from aw_runtime.verify import BundleError, verify_bundle
from fuzz_helpers import check_rejection, fuzz_settings, json_paths, time_bound
from hypothesis import given
from hypothesis import strategies as st
from integrity_helpers import compile_golden, golden_artifacts

from aw_policy.bundle import load_policy
from aw_policy.diagnostics import PolicyError

FILES = ["manifest.json", *(a["path"] for a in golden_artifacts())]

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=12),
              st.sampled_from(["../x", "/etc/passwd", "policy.json", "manifest.json", "awpolicy.bundle/2",
                               "0" * 64, "a" * 64])),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=10,
)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    out = tmp_path_factory.mktemp("pristine") / "bundle"
    compile_golden(out)
    return out


def fresh_copy(pristine: Path) -> Path:
    base = Path(tempfile.mkdtemp(prefix="awp-fuzz-case-"))
    shutil.copytree(pristine, base / "bundle")
    return base / "bundle"


def load_both(bundle: Path, pristine: Path, artifact_bytes_changed: bool) -> None:
    """Run both loaders; check what each must guarantee."""
    with time_bound("verify_bundle on a mutated bundle"):
        try:
            verified = verify_bundle(bundle)
        except BundleError as error:
            assert error.code.startswith("AWP62") and error.message and error.hint, error.render()
            assert error.path and error.path.startswith(str(bundle)), error.path
            verified = None
    if verified is not None:
        assert not artifact_bytes_changed, "verify_bundle accepted a bundle whose artifact bytes were changed"
        for name, data in verified.files.items():
            assert data == (pristine / name).read_bytes()
    with time_bound("load_policy on a mutated bundle"):
        try:
            load_policy(bundle)
        except PolicyError as error:
            check_rejection(error, None)
            assert verified is None or error.diagnostics[0].code == "AWP604"


@fuzz_settings(150)
@given(name=st.sampled_from(FILES), data=st.data())
def test_byte_level_mutations(pristine, name, data):
    bundle = fresh_copy(pristine)
    try:
        original = (bundle / name).read_bytes()
        raw = bytearray(original)
        for _ in range(data.draw(st.integers(1, 3), label="edits")):
            at = data.draw(st.integers(0, len(raw)), label="at")
            action = data.draw(st.sampled_from(["flip", "truncate", "insert", "delete"]), label="action")
            if action == "flip" and at < len(raw):
                raw[at] ^= data.draw(st.integers(1, 255), label="mask")
            elif action == "truncate":
                del raw[at:]
            elif action == "insert":
                raw[at:at] = data.draw(st.binary(min_size=1, max_size=16), label="bytes")
            else:
                del raw[at:at + data.draw(st.integers(1, 64), label="length")]
        (bundle / name).write_bytes(bytes(raw))
        load_both(bundle, pristine, artifact_bytes_changed=name != "manifest.json" and bytes(raw) != original)
    finally:
        shutil.rmtree(bundle.parent, ignore_errors=True)


@fuzz_settings(150)
@given(data=st.data())
def test_manifest_value_mutations(pristine, data):
    """Replace, delete or add a value anywhere in the manifest (the JSON stays valid)."""
    bundle = fresh_copy(pristine)
    try:
        manifest = json.loads((bundle / "manifest.json").read_bytes())
        for _ in range(data.draw(st.integers(1, 3), label="edits")):
            where = data.draw(st.sampled_from(list(json_paths(manifest))), label="where")
            if not where:
                manifest = data.draw(json_values, label="document")
                break
            parent = manifest
            for key in where[:-1]:
                parent = parent[key]
            action = data.draw(st.sampled_from(["replace", "delete", "add"]), label="action")
            if action == "replace":
                parent[where[-1]] = data.draw(json_values, label="value")
            elif action == "delete":
                del parent[where[-1]]
            elif isinstance(parent, dict):
                parent[data.draw(st.text(max_size=8), label="key")] = data.draw(json_values, label="value")
            else:
                parent.append(data.draw(json_values, label="value"))
            if not isinstance(manifest, (dict, list)):
                break
        (bundle / "manifest.json").write_text(json.dumps(manifest))
        load_both(bundle, pristine, artifact_bytes_changed=False)
    finally:
        shutil.rmtree(bundle.parent, ignore_errors=True)


@fuzz_settings(60)
@given(name=st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="/\x00"), min_size=1,
                    max_size=12).filter(lambda n: n not in (".", "..", "manifest.sig")),
       kind=st.sampled_from(["file", "dir", "symlink-out", "symlink-in", "fifo", "replace-with-symlink"]))
def test_extra_and_linked_entries(pristine, name, kind):
    bundle = fresh_copy(pristine)
    try:
        target = bundle / name
        if kind == "replace-with-symlink":
            victim = bundle / FILES[-1]
            shutil.copy(victim, bundle.parent / "copy")
            victim.unlink()
            victim.symlink_to(bundle.parent / "copy")
        elif target.exists():
            return  # an existing name: the byte-level fuzzer covers edits
        elif kind == "file":
            target.write_bytes(b"{}")
        elif kind == "dir":
            target.mkdir()
        elif kind == "symlink-out":
            target.symlink_to("/etc/passwd")
        elif kind == "symlink-in":
            target.symlink_to("policy.json")
        else:
            os.mkfifo(target)
        with time_bound("verify_bundle with an extra entry"), pytest.raises(BundleError) as info:
            verify_bundle(bundle)
        assert info.value.code in ("AWP626", "AWP627"), info.value.render()
        with pytest.raises(PolicyError) as loaded:
            load_policy(bundle)
        check_rejection(loaded.value, None)
    finally:
        shutil.rmtree(bundle.parent, ignore_errors=True)


@pytest.fixture(scope="module")
def signed_pristine(tmp_path_factory):
    from aw_policy.bundle import load_signing_key, write_keypair

    base = tmp_path_factory.mktemp("signed")
    write_keypair(base / "key", base / "key.pub")
    compile_golden(base / "bundle", signing_key=load_signing_key(base / "key"))
    return base / "bundle", base / "key.pub"


@fuzz_settings(100)
@given(name=st.sampled_from(["manifest.json", "manifest.sig"]), data=st.data())
def test_any_change_to_a_signed_manifest_or_its_signature_is_refused(signed_pristine, name, data):
    pristine, public_key = signed_pristine
    bundle = fresh_copy(pristine)
    try:
        original = (bundle / name).read_bytes()
        at = data.draw(st.integers(0, len(original) - 1), label="at")
        changed = bytearray(original)
        if data.draw(st.booleans(), label="flip"):
            changed[at] ^= data.draw(st.integers(1, 255), label="mask")
        else:
            changed[at:at] = data.draw(st.binary(min_size=1, max_size=8), label="insert")
        (bundle / name).write_bytes(bytes(changed))
        with time_bound("verify_bundle --key on a mutated signed bundle"):
            try:
                verify_bundle(bundle, public_key_path=public_key)
            except BundleError as error:
                assert error.code in ("AWP629", "AWP628"), error.render()
            else:  # only an edit of the .sig file's JSON layout (the same signature) may pass
                from aw_runtime.verify import decode_signature

                assert name == "manifest.sig", "an edited manifest passed the signature check"
                assert decode_signature(bytes(changed), name) == decode_signature(original, name)
    finally:
        shutil.rmtree(bundle.parent, ignore_errors=True)
