"""`awpolicy verify` and `awpolicy keygen`: bundle integrity and signing keys."""

from __future__ import annotations

from pathlib import Path

import click

from aw_policy.cli import InputError


@click.command("verify")
@click.argument("bundle", type=click.Path())
@click.option("--key", "key", type=click.Path(dir_okay=False), metavar="PUBKEY",
              help="Require a signature by this ed25519 PEM public key.")
def verify_cmd(bundle: str, key: str | None) -> None:
    """Check a BUNDLE: manifest, every file's sha256, no extra or linked files, and its signature."""
    from aw_runtime.verify import BundleError, verify_bundle

    try:
        verified = verify_bundle(bundle, public_key_path=key)
    except BundleError as exc:
        raise InputError(exc.render()) from None
    except OSError as exc:
        raise InputError(f"{exc.filename or bundle}: error: cannot read bundle: {exc.strerror or exc}\n") from None
    click.echo(f"ok: {verified.file_count} files verified")
    if verified.signature_verified:
        click.echo(f"signed by {verified.signer} (signature verified)")
    elif verified.signer:
        click.echo(f"signed by {verified.signer} (signature not checked: pass --key PUBKEY to check it)")


@click.command("keygen")
@click.argument("private", type=click.Path(dir_okay=False))
@click.argument("public", type=click.Path(dir_okay=False))
def keygen_cmd(private: str, public: str) -> None:
    """Create an ed25519 key pair for signing bundles: PRIVATE (mode 0600) and PUBLIC, both PEM."""
    from aw_policy.bundle import write_keypair

    try:
        fp = write_keypair(Path(private), Path(public))
    except OSError as exc:
        raise InputError(f"awpolicy: cannot write key {exc.filename or private}: {exc.strerror or exc}\n") from None
    click.echo(f"wrote private key {private} (keep it secret) and public key {public}")
    click.echo(f"fingerprint: {fp}")
