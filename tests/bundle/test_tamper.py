"""Tampered bundles are refused by verify_bundle and by `awpolicy verify` (exit 2, naming the file)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys

import pytest
from aw_runtime import verify as v
from aw_runtime.verify import BundleError, VerifiedBundle, verify_bundle
from helpers import run_cli
from integrity_helpers import golden_artifacts


def refused(bundle_dir, code: str, **kwargs) -> BundleError:
    with pytest.raises(BundleError) as info:
        verify_bundle(bundle_dir, **kwargs)
    assert info.value.code == code, info.value.render()
    assert info.value.message and info.value.hint and info.value.path
    return info.value


def edit_manifest(bundle_dir, change) -> None:
    path = bundle_dir / "manifest.json"
    manifest = json.loads(path.read_bytes())
    change(manifest)
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


# --------------------------------------------------------------------------- the good case


def test_fresh_bundle_verifies_and_returns_the_bytes(bundle):
    verified = verify_bundle(bundle)
    assert isinstance(verified, VerifiedBundle)
    manifest = json.loads((bundle / "manifest.json").read_bytes())
    assert verified.manifest == manifest
    assert verified.manifest_bytes == (bundle / "manifest.json").read_bytes()
    assert set(verified.files) == {a["path"] for a in manifest["artifacts"]}
    for name, data in verified.files.items():
        assert data == (bundle / name).read_bytes()
    assert verified.signer is None and not verified.signature_verified
    assert verified.file_count == len(manifest["artifacts"]) + 1
    assert verified.params == manifest["params"]
    assert verified.json("policy.json") == json.loads((bundle / "policy.json").read_bytes())
    assert verified.artifacts("ir") == ["policy.json"]

    result = run_cli("verify", str(bundle))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"ok: {verified.file_count} files verified\n"


def test_verified_bytes_are_a_snapshot(bundle):
    """Callers use the returned bytes; a later change on disk cannot reach them."""
    verified = verify_bundle(bundle)
    before = verified.read("policy.json")
    (bundle / "policy.json").write_bytes(b"{}")
    assert verified.read("policy.json") == before
    with pytest.raises(TypeError):
        verified.files["policy.json"] = b"{}"  # read-only mapping


def test_compiler_and_runtime_agree_on_the_format():
    from aw_policy import bundle

    assert bundle.BUNDLE_FORMAT == v.BUNDLE_FORMAT
    assert (bundle.MANIFEST, bundle.SIGNATURE) == (v.MANIFEST, v.SIGNATURE)


# --------------------------------------------------------------------------- content


@pytest.mark.parametrize("name", [a["path"] for a in golden_artifacts()])
def test_byte_flip_in_each_artifact_is_refused(bundle, tmp_path, cli_refuses, name):
    """Every artifact the manifest lists (so each new backend's output is covered as it lands)."""
    size = (bundle / name).stat().st_size
    for offset in sorted({0, size // 2, size - 1}):
        case = tmp_path / "cases" / str(offset) / "bundle"
        shutil.copytree(bundle, case)
        data = bytearray((case / name).read_bytes())
        data[offset] ^= 0x01
        (case / name).write_bytes(bytes(data))
        error = refused(case, v.HASH_MISMATCH)
        assert error.path == str(case / name)
        assert name in error.render()
    cli_refuses(case, v.HASH_MISMATCH, name)


def test_truncated_and_appended_artifacts_are_refused(bundle):
    data = (bundle / "policy.json").read_bytes()
    (bundle / "policy.json").write_bytes(data + b"\n")
    refused(bundle, v.HASH_MISMATCH)
    (bundle / "policy.json").write_bytes(data[:-1])
    refused(bundle, v.HASH_MISMATCH)
    (bundle / "policy.json").write_bytes(b"")
    refused(bundle, v.HASH_MISMATCH)


def test_edited_manifest_hash_is_refused(bundle, cli_refuses):
    names = []

    def change(m):
        names.append(m["artifacts"][-1]["path"])
        m["artifacts"][-1]["sha256"] = "0" * 64

    edit_manifest(bundle, change)
    assert refused(bundle, v.HASH_MISMATCH).path == str(bundle / names[0])
    cli_refuses(bundle, v.HASH_MISMATCH, names[0])


@pytest.mark.parametrize("text, what", [
    (b"{not json", "valid JSON"),
    (b"\xff\xfe", "valid JSON"),
    (b"[]", "JSON object"),
    (b'{"format": "awpolicy.bundle/1"}', "artifacts"),
    (b'{"format": "awpolicy.bundle/1", "artifacts": [1]}', "artifacts[0]"),
    (b'{"format": "awpolicy.bundle/1", "artifacts": [{"path": "policy.json", "kind": "ir", "sha256": "XYZ"}]}',
     "sha256"),
    (b'{"format": "awpolicy.bundle/1", "artifacts": [], "params": {"A": 1}}', "params"),
])
def test_malformed_manifest_is_refused(bundle, text, what):
    (bundle / "manifest.json").write_bytes(text)
    error = refused(bundle, v.BAD_MANIFEST if what != "format" else v.BAD_FORMAT)
    assert what in error.message
    assert error.path == str(bundle / "manifest.json")


def test_malformed_manifest_via_cli(bundle, cli_refuses):
    (bundle / "manifest.json").write_bytes(b"{not json")
    cli_refuses(bundle, v.BAD_MANIFEST, "manifest.json")


# --------------------------------------------------------------------------- format version


def test_newer_format_is_refused_naming_both_versions(bundle, cli_refuses):
    edit_manifest(bundle, lambda m: m.update(format="awpolicy.bundle/2"))
    error = refused(bundle, v.BAD_FORMAT)
    assert "awpolicy.bundle/2" in error.message and "awpolicy.bundle/1" in error.message
    assert "newer" in error.message and "upgrade" in error.hint
    cli_refuses(bundle, v.BAD_FORMAT, ("awpolicy.bundle/2", "awpolicy.bundle/1", "manifest.json"))


@pytest.mark.parametrize("fmt", ["other.bundle/1", "awpolicy.bundle/0", "awpolicy.bundle/1.1",
                                 "awpolicy.bundle/", "", None, 1])
def test_unknown_format_is_refused(bundle, fmt):
    edit_manifest(bundle, lambda m: m.update(format=fmt))
    error = refused(bundle, v.BAD_FORMAT)
    assert "awpolicy.bundle/1" in error.message
    if isinstance(fmt, str) and fmt:
        assert repr(fmt) in error.message


# --------------------------------------------------------------------------- files present or not


def test_deleted_artifact_is_refused(bundle, cli_refuses):
    (bundle / "policy.json").unlink()
    assert refused(bundle, v.MISSING_FILE).path == str(bundle / "policy.json")
    cli_refuses(bundle, v.MISSING_FILE, "policy.json")


def test_missing_manifest_or_directory_is_refused(bundle, tmp_path, cli_refuses):
    refused(tmp_path / "nowhere", v.NOT_A_BUNDLE)
    (tmp_path / "file").write_text("x")
    refused(tmp_path / "file", v.NOT_A_BUNDLE)
    (bundle / "manifest.json").unlink()
    assert "manifest.json" in refused(bundle, v.NOT_A_BUNDLE).message
    cli_refuses(bundle, v.NOT_A_BUNDLE, "manifest.json")


def test_extra_file_is_refused(bundle, cli_refuses):
    (bundle / "notes.txt").write_text("hello\n")
    assert refused(bundle, v.EXTRA_FILE).path == str(bundle / "notes.txt")
    cli_refuses(bundle, v.EXTRA_FILE, "notes.txt")


def test_extra_hidden_file_and_directory_are_refused(bundle):
    (bundle / ".hidden").write_text("x")
    assert refused(bundle, v.EXTRA_FILE).path.endswith(".hidden")
    (bundle / ".hidden").unlink()
    (bundle / "sub").mkdir()
    error = refused(bundle, v.EXTRA_FILE)
    assert error.path == str(bundle / "sub") and "directory" in error.message


def test_renamed_artifact_reports_the_missing_one_first(bundle):
    (bundle / "policy.json").rename(bundle / "policy.json.bak")
    assert refused(bundle, v.MISSING_FILE).path.endswith("policy.json")


# --------------------------------------------------------------------------- links and special files


def test_symlink_pointing_out_of_the_bundle_is_refused(bundle, tmp_path, cli_refuses):
    outside = tmp_path / "outside.json"
    outside.write_bytes((bundle / "policy.json").read_bytes())  # same bytes: the hash would match
    (bundle / "policy.json").unlink()
    (bundle / "policy.json").symlink_to(outside)
    error = refused(bundle, v.NOT_REGULAR)
    assert error.path == str(bundle / "policy.json")
    assert "symlink" in error.message and "out of the bundle" in error.message
    cli_refuses(bundle, v.NOT_REGULAR, ("policy.json", "symlink"))


def test_relative_symlink_escaping_is_refused(bundle):
    (bundle / "escape").symlink_to("../../../etc/passwd")
    error = refused(bundle, v.NOT_REGULAR)
    assert error.path.endswith("escape") and "out of the bundle" in error.message


def test_symlink_inside_the_bundle_is_refused(bundle, cli_refuses):
    (bundle / "alias.json").symlink_to("policy.json")
    error = refused(bundle, v.NOT_REGULAR)
    assert error.path == str(bundle / "alias.json") and "inside the bundle" in error.message
    cli_refuses(bundle, v.NOT_REGULAR, "alias.json")


def test_symlinked_manifest_is_refused(bundle, tmp_path):
    real = tmp_path / "manifest.json"
    shutil.move(bundle / "manifest.json", real)
    (bundle / "manifest.json").symlink_to(real)
    assert refused(bundle, v.NOT_REGULAR).path == str(bundle / "manifest.json")


def test_symlinked_directory_inside_is_refused(bundle, tmp_path):
    (bundle / "dir").symlink_to(tmp_path, target_is_directory=True)
    refused(bundle, v.NOT_REGULAR)


def test_bundle_directory_itself_may_be_a_symlink(bundle, tmp_path):
    link = tmp_path / "current"
    link.symlink_to(bundle, target_is_directory=True)
    assert verify_bundle(link).files


def test_fifo_is_refused_without_blocking(bundle, cli_refuses):
    os.mkfifo(bundle / "pipe")
    error = refused(bundle, v.NOT_REGULAR)
    assert "FIFO" in error.message
    cli_refuses(bundle, v.NOT_REGULAR, "pipe")


def test_fifo_in_place_of_an_artifact_is_refused_without_blocking(bundle):
    (bundle / "policy.json").unlink()
    os.mkfifo(bundle / "policy.json")
    assert "FIFO" in refused(bundle, v.NOT_REGULAR).message


def test_directory_in_place_of_an_artifact_is_refused(bundle):
    (bundle / "policy.json").unlink()
    (bundle / "policy.json").mkdir()
    error = refused(bundle, v.NOT_REGULAR)
    assert error.path == str(bundle / "policy.json") and "directory" in error.message


# --------------------------------------------------------------------------- paths in the manifest


@pytest.mark.parametrize("path", ["../outside.json", "/etc/passwd", "sub/../../x", "./policy.json",
                                  "a//b", "", "back\\slash", "manifest.json", "manifest.sig", "nul\x00"])
def test_unsafe_manifest_paths_are_refused(bundle, tmp_path, path):
    outside = tmp_path / "unsigned" / "outside.json"
    outside.write_text("{}\n")
    digest = hashlib.sha256(b"{}\n").hexdigest()

    edit_manifest(bundle, lambda m: m["artifacts"].append({"path": path, "kind": "ir", "sha256": digest}))
    error = refused(bundle, v.UNSAFE_PATH)
    assert error.path == str(bundle / "manifest.json")


def test_traversal_via_cli(bundle, cli_refuses):
    edit_manifest(bundle, lambda m: m["artifacts"].append({"path": "../x", "kind": "ir", "sha256": "0" * 64}))
    cli_refuses(bundle, v.UNSAFE_PATH, ("manifest.json", "../x"))


def test_duplicate_manifest_path_is_refused(bundle):
    edit_manifest(bundle, lambda m: m["artifacts"].append(dict(m["artifacts"][0])))
    assert "twice" in refused(bundle, v.UNSAFE_PATH).message


def test_nested_artifacts_are_supported(bundle):
    """Artifacts may live in sub-directories (walked without following links)."""
    (bundle / "sub").mkdir()
    (bundle / "sub" / "x.json").write_bytes(b"{}\n")
    digest = hashlib.sha256(b"{}\n").hexdigest()
    edit_manifest(bundle, lambda m: m["artifacts"].append({"path": "sub/x.json", "kind": "t", "sha256": digest}))
    assert verify_bundle(bundle).read("sub/x.json") == b"{}\n"
    (bundle / "sub" / "y").write_text("")
    assert refused(bundle, v.EXTRA_FILE).path == str(bundle / "sub" / "y")


# --------------------------------------------------------------------------- bounded reads


def test_oversized_artifact_is_refused_before_reading(bundle, cli_refuses):
    with open(bundle / "policy.json", "r+b") as fh:  # sparse: instant, and never read
        fh.truncate(v.MAX_FILE_BYTES + 1)
    error = refused(bundle, v.TOO_LARGE)
    assert error.path == str(bundle / "policy.json")
    cli_refuses(bundle, v.TOO_LARGE, "policy.json")


def test_oversized_manifest_is_refused(bundle, monkeypatch):
    monkeypatch.setattr(v, "MAX_MANIFEST_BYTES", 100)
    assert refused(bundle, v.TOO_LARGE).path == str(bundle / "manifest.json")


def test_too_many_entries_is_refused(bundle, monkeypatch):
    monkeypatch.setattr(v, "MAX_ENTRIES", 5)
    for i in range(6):
        (bundle / f"f{i}").write_text("")
    refused(bundle, v.TOO_LARGE)


def test_total_size_is_bounded(bundle, monkeypatch):
    monkeypatch.setattr(v, "MAX_TOTAL_BYTES", 10)
    refused(bundle, v.TOO_LARGE)


# --------------------------------------------------------------------------- stdlib only


def test_verification_imports_only_the_standard_library(bundle, signed, keys):
    """The runtime verifies before anything else: no compiler dependency, cryptography only with a key."""
    code = (
        "import sys, aw_runtime.verify as v\n"
        "v.verify_bundle(sys.argv[1])\n"
        "v.verify_bundle(sys.argv[2])\n"
        "heavy = {'lark', 'pydantic', 'jsonschema', 'click', 'rich', 'yaml', 'jinja2', 'aw_policy'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
        "print('cryptography' in sys.modules)\n"
        "v.verify_bundle(sys.argv[2], sys.argv[3])\n"
        "print('cryptography' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(bundle), str(signed), str(keys["a"][1])],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["[]", "False", "True"]


# --------------------------------------------------------------------------- the manifest's fields


def test_field_checks_are_the_regular_expressions_they_replace():
    """verify compiles no regular expression at launch; its set tests accept exactly what these did."""
    import re

    from hypothesis import given, settings
    from hypothesis import strategies as st

    safe_path = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*(?:/[A-Za-z0-9_][A-Za-z0-9._-]*)*")
    sha256 = re.compile(r"[0-9a-f]{64}")
    bundle_format = re.compile(re.escape(v.FORMAT_NAME) + r"/([0-9]{1,6})")
    text = st.text(st.sampled_from("aZ09_.-/\\ é٣\n"), max_size=12)

    @settings(max_examples=2000, deadline=None)
    @given(text, st.text(st.sampled_from("0123456789abcdefAg é٣"), min_size=62, max_size=66),
           st.sampled_from(["awpolicy.bundle/", "awpolicy.bundle", "awpolicyXbundle/", "x"]),
           st.text(st.sampled_from("0123/a ٣¹"), max_size=8))
    def check(path, digest, prefix, version):
        assert v._safe_path(path) == bool(safe_path.fullmatch(path)), path
        assert (len(digest) == 64 and v._HEX.issuperset(digest)) == bool(sha256.fullmatch(digest)), digest
        found = prefix + version
        manifest = {"format": found}
        m = bundle_format.fullmatch(found)
        if m is None:
            with pytest.raises(BundleError) as info:
                v._check_format(manifest, "m")
            assert "unknown bundle format" in info.value.message
        elif int(m.group(1)) == v.FORMAT_VERSION:
            v._check_format(manifest, "m")
        else:
            with pytest.raises(BundleError):
                v._check_format(manifest, "m")

    check()


def test_sha256_is_hashlibs_whichever_implementation_hashes():
    data = os.urandom(3000)
    assert v.sha256_for(len(data))(data).hexdigest() == hashlib.sha256(data).hexdigest()
    assert v.sha256_for(v.BUILTIN_SHA256_MAX_BYTES + 1) is hashlib.sha256
