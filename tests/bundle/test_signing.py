"""Signed bundles: `compile --sign`, `verify --key`, and every way a signature check must fail."""

from __future__ import annotations

import json
import os
import stat

import pytest
from aw_runtime import verify as v
from aw_runtime.verify import BundleError, verify_bundle
from helpers import GOLDEN_SOURCES, run_cli


def refused(bundle_dir, key, code=v.BAD_SIGNATURE) -> BundleError:
    with pytest.raises(BundleError) as info:
        verify_bundle(bundle_dir, public_key_path=key)
    assert info.value.code == code, info.value.render()
    assert info.value.message and info.value.hint and info.value.path
    return info.value


def fingerprint_of(public_pem) -> str:
    return v.load_public_key(public_pem)[1]


def test_signed_bundle_verifies_with_its_key(signed, keys):
    verified = verify_bundle(signed, public_key_path=keys["a"][1])
    assert verified.signature_verified and verified.signer == fingerprint_of(keys["a"][1])
    assert verified.file_count == len(verified.files) + 2

    result = run_cli("verify", str(signed), "--key", str(keys["a"][1]))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"ok: {verified.file_count} files verified",
                                          f"signed by {verified.signer} (signature verified)"]


def test_signed_bundle_without_a_key_reports_the_unchecked_signer(signed, keys):
    verified = verify_bundle(signed)
    assert not verified.signature_verified and verified.signer == fingerprint_of(keys["a"][1])
    result = run_cli("verify", str(signed))
    assert result.returncode == 0 and "signature not checked" in result.stdout


def test_wrong_key_is_refused(signed, keys, cli_refuses):
    error = refused(signed, keys["b"][1])
    assert fingerprint_of(keys["a"][1]) in error.message and fingerprint_of(keys["b"][1]) in error.message
    assert error.path == str(signed / "manifest.sig")
    cli_refuses(signed, v.BAD_SIGNATURE, ("manifest.sig", "not by the trusted key"), "--key", str(keys["b"][1]))


def test_unsigned_bundle_is_refused_when_a_key_is_given(bundle, keys, cli_refuses):
    error = refused(bundle, keys["a"][1])
    assert "not signed" in error.message
    cli_refuses(bundle, v.BAD_SIGNATURE, "manifest.sig", "--key", str(keys["a"][1]))


def test_required_signature_without_a_key_is_refused(signed):
    with pytest.raises(BundleError) as info:
        verify_bundle(signed, require_signature=True)
    assert info.value.code == v.BAD_SIGNATURE


def test_edited_manifest_is_refused_even_with_consistent_hashes(signed, keys, cli_refuses):
    """An attacker who re-hashes an edited artifact still cannot re-sign the manifest."""
    manifest = json.loads((signed / "manifest.json").read_bytes())
    manifest["params"]["HOME"] = "/root"
    (signed / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    verify_bundle(signed)  # without a key: self-consistent, so it passes (the signature is not checked)
    error = refused(signed, keys["a"][1])
    assert error.path == str(signed / "manifest.json") and "modified after signing" in error.message
    cli_refuses(signed, v.BAD_SIGNATURE, "manifest.json", "--key", str(keys["a"][1]))


def test_manifest_resigned_by_another_key_is_refused(signed, keys):
    from aw_policy.bundle import load_signing_key, sign_manifest

    other = load_signing_key(keys["b"][0])
    (signed / "manifest.sig").write_bytes(sign_manifest(other, (signed / "manifest.json").read_bytes()))
    assert "not by the trusted key" in refused(signed, keys["a"][1]).message
    assert verify_bundle(signed, public_key_path=keys["b"][1]).signature_verified


def test_signature_claiming_the_trusted_key_but_made_by_another_is_refused(signed, keys):
    from aw_policy.bundle import load_signing_key

    forged = json.loads((signed / "manifest.sig").read_bytes())
    other = load_signing_key(keys["b"][0])
    import base64

    forged["signature"] = base64.b64encode(other.sign((signed / "manifest.json").read_bytes())).decode()
    (signed / "manifest.sig").write_text(json.dumps(forged))
    assert "modified after signing" in refused(signed, keys["a"][1]).message


@pytest.mark.parametrize("offset", [0, 40, -3])
def test_byte_flip_in_the_signature_file_is_refused(signed, keys, offset):
    data = bytearray((signed / "manifest.sig").read_bytes())
    data[offset] ^= 0x01
    (signed / "manifest.sig").write_bytes(bytes(data))
    refused(signed, keys["a"][1])


@pytest.mark.parametrize("text", [b"", b"not json", b"[]", b'{"format": "awpolicy.sig/9"}', b"\xff" * 10])
def test_corrupted_signature_is_refused_with_or_without_a_key(signed, keys, text):
    (signed / "manifest.sig").write_bytes(text)
    assert "corrupted" in refused(signed, keys["a"][1]).message
    assert "corrupted" in refused(signed, None).message


def test_symlinked_signature_is_refused(signed, keys, tmp_path):
    outside = tmp_path / "sig"
    outside.write_bytes((signed / "manifest.sig").read_bytes())
    (signed / "manifest.sig").unlink()
    (signed / "manifest.sig").symlink_to(outside)
    assert "symlink" in refused(signed, keys["a"][1], v.NOT_REGULAR).message


@pytest.mark.parametrize("make, words", [
    (lambda d, keys: keys["a"][0], "private key"),
    (lambda d, keys: d / "absent.pub", "cannot read"),
    (lambda d, keys: d, "not a regular file"),
    (lambda d, keys: (d / "junk.pub").write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n") and d / "junk.pub",
     "not a PEM public key"),
])
def test_unusable_public_key_is_refused(signed, keys, tmp_path, make, words):
    key = make(tmp_path, keys)
    error = refused(signed, key)
    assert words in error.message and error.path == str(key)


def test_rsa_public_key_is_refused(signed, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    (tmp_path / "rsa.pub").write_bytes(pem)
    assert "ed25519" in refused(signed, tmp_path / "rsa.pub").message


# --------------------------------------------------------------------------- the CLI end to end


def test_compile_sign_then_verify_with_the_cli(tmp_path, keys):
    out = tmp_path / "bundle"
    compiled = run_cli("compile", *map(str, GOLDEN_SOURCES), "-o", str(out), "--sign", str(keys["a"][0]))
    assert compiled.returncode == 0, compiled.stderr
    assert f"signed by {fingerprint_of(keys['a'][1])}" in compiled.stdout
    assert (out / "manifest.sig").is_file()
    assert run_cli("verify", str(out), "--key", str(keys["a"][1])).returncode == 0
    assert run_cli("verify", str(out), "--key", str(keys["b"][1])).returncode == 2


def test_signatures_are_deterministic(tmp_path, keys):
    from integrity_helpers import golden_files

    from aw_policy.bundle import load_signing_key

    key = load_signing_key(keys["a"][0])
    first = golden_files(tmp_path / "bundle", signing_key=key)
    second = golden_files(tmp_path / "bundle", signing_key=load_signing_key(keys["a"][0]))
    assert first["manifest.sig"] == second["manifest.sig"]


@pytest.mark.parametrize("make, words", [
    (lambda d, keys: keys["a"][1], "public key"),
    (lambda d, keys: d / "absent.key", "cannot read"),
    (lambda d, keys: (d / "junk.key").write_text("hello\n") and d / "junk.key", "not a PEM private key"),
])
def test_compile_with_an_unusable_signing_key_exits_2_and_writes_nothing(tmp_path, keys, make, words):
    key, out = make(tmp_path, keys), tmp_path / "bundle"
    result = run_cli("compile", *map(str, GOLDEN_SOURCES), "-o", str(out), "--sign", str(key))
    assert result.returncode == 2, result.stderr
    assert words in result.stderr and "AWP629" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


def test_keygen_writes_a_private_key_only_its_owner_reads_and_never_overwrites(tmp_path):
    private, public = tmp_path / "org.key", tmp_path / "org.pub"
    result = run_cli("keygen", str(private), str(public))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o600
    assert b"BEGIN PRIVATE KEY" in private.read_bytes() and b"BEGIN PUBLIC KEY" in public.read_bytes()
    assert fingerprint_of(public) in result.stdout
    before = private.read_bytes()
    again = run_cli("keygen", str(private), str(tmp_path / "other.pub"))
    assert again.returncode == 2 and "Traceback" not in again.stderr and str(private) in again.stderr
    assert private.read_bytes() == before and not (tmp_path / "other.pub").exists()
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")], "no temporary files left behind"
