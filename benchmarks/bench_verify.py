"""Verifying the golden bundle (issue 5): in-process and as a command, unsigned and signed.

Each figure stands beside the peer measured in the same run: hashing the same
files with hashlib in this process (the floor for "read and hash every file"),
and ``sha256sum`` over the same files as a process (what a shell script that
checks a bundle would pay).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from report import Figure, emit, median_ms

REPO = Path(__file__).resolve().parent.parent
SOURCES = [REPO / "golden" / "agent-worktree" / "src" / n for n in ("org.awp", "project.awp", "user.awp.yaml")]


def compile_golden(out: Path, signing_key=None) -> list[str]:
    from aw_policy.bundle import build, write_tree
    from aw_policy.merge import compile_sources, display_relative_to

    files = build(compile_sources(SOURCES, display_for=display_relative_to(out)).policy, {}, signing_key)
    write_tree(out, files)
    return sorted(files)


def main() -> int:
    from aw_runtime.verify import verify_bundle

    from aw_policy.bundle import load_signing_key, write_keypair

    if shutil.which("sha256sum") is None:
        print("sha256sum not found: it is the peer of this benchmark", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        write_keypair(base / "key", base / "key.pub")
        plain, signed = base / "plain", base / "signed"
        names = compile_golden(plain)
        compile_golden(signed, load_signing_key(base / "key"))
        paths = [str(plain / n) for n in names]
        total = sum((plain / n).stat().st_size for n in names)

        verify_bundle(signed, base / "key.pub")  # import cryptography once, as a long-lived runtime would
        unsigned_ms = median_ms(lambda: verify_bundle(plain), runs=50)
        signed_ms = median_ms(lambda: verify_bundle(signed, base / "key.pub"), runs=50)
        hash_ms = median_ms(lambda: [hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths], runs=50)

        def command(*args):
            return lambda: subprocess.run(args, check=True, stdout=subprocess.DEVNULL)

        cli = [sys.executable, "-m", "aw_policy", "verify"]
        cli_ms = median_ms(command(*cli, str(plain)), runs=7)
        cli_signed_ms = median_ms(command(*cli, str(signed), "--key", str(base / "key.pub")), runs=7)
        sha256sum_ms = median_ms(command("sha256sum", *paths), runs=7)

    peer_in = f"hashlib.sha256 of the same {len(names)} files ({total:,} bytes), in process"
    peer_cmd = f"sha256sum of the same {len(names)} files, as a process"
    return emit("bundle verification (issue 5)", [
        Figure("verify_bundle, unsigned (in process)", unsigned_ms, "ms", peer=peer_in, peer_value=hash_ms),
        Figure("verify_bundle, ed25519 signature checked (in process)", signed_ms, "ms",
               peer=peer_in, peer_value=hash_ms),
        Figure("awpolicy verify BUNDLE (process)", cli_ms, "ms", peer=peer_cmd, peer_value=sha256sum_ms),
        Figure("awpolicy verify BUNDLE --key PUBKEY (process)", cli_signed_ms, "ms",
               peer=peer_cmd, peer_value=sha256sum_ms),
    ])


if __name__ == "__main__":
    sys.exit(main())
