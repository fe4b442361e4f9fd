"""The bundle: a directory of deterministic artifacts plus ``manifest.json``.

Byte-identical for identical inputs: JSON with sorted keys and LF endings, no
timestamps, source paths relative to the bundle directory (so the working
directory does not matter). Written atomically: the new bundle is built in a
temporary sibling directory and swapped in with one rename, so a reader (or a
crash) sees either the old bundle or the new one, never a mix.
"""

from __future__ import annotations

import ctypes
import dataclasses
import errno
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from aw_runtime.atomic import fsync_dir as _fsync_dir
from aw_runtime.atomic import write_atomic

from aw_policy import __version__, ir, paths
from aw_policy.diagnostics import Diagnostic, PolicyError, Span

BUNDLE_FORMAT = "awpolicy.bundle/1"
MANIFEST = "manifest.json"
POLICY = "policy.json"
SIGNATURE = "manifest.sig"


_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(", ", ": "))  # one, not one per item


def _compact(value) -> str:
    return _ENCODER.encode(value)


def dumps(data) -> bytes:
    """The one JSON encoding every artifact uses: sorted keys, LF, UTF-8.

    A top-level object gets one key per line and each list one item per line,
    so diffs of golden bundles read rule by rule; items are written by the C
    encoder, which keeps a 10,000-rule IR fast to write."""
    if not isinstance(data, dict):
        return (_compact(data) + "\n").encode("utf-8")
    lines = []
    for key in sorted(data):
        value = data[key]
        head = f"  {_compact(key)}: "
        if isinstance(value, list) and value:
            items = ",\n".join("    " + _compact(item) for item in value)
            lines.append(head + "[\n" + items + "\n  ]")
        else:
            lines.append(head + _compact(value))
    return ("{\n" + ",\n".join(lines) + "\n}\n").encode("utf-8")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Artifact:
    path: str
    kind: str
    data: bytes


#: A backend turns the merged policy and the reference binding into artifacts.
Backend = Callable[[ir.Policy, dict[str, str]], Sequence[Artifact]]


def ir_backend(policy: ir.Policy, reference: dict[str, str]) -> list[Artifact]:
    return [Artifact(POLICY, "ir", dumps(policy.to_json()))]


#: Backend modules, each exposing ``render(policy, reference) -> list[Artifact]``.
#: Listed explicitly: a missing backend is an installation error, never skipped.
BACKEND_MODULES: tuple[str, ...] = (
    "aw_policy.backends.es",
    "aw_policy.backends.fskit",
    "aw_policy.backends.linux",
    "aw_policy.backends.sbpl",
)


def backends() -> list[Backend]:
    """Every backend, in a fixed order. Imported lazily: compile pays, run and lint do not."""
    import importlib

    return [ir_backend] + [importlib.import_module(name).render for name in BACKEND_MODULES]


def reference_params(policy: ir.Policy, given: dict[str, str]) -> dict[str, str]:
    """The binding the compiler orders rules under: --param values, else documented defaults."""
    values = policy.param_defaults()
    values.update(given)
    return dict(sorted(values.items()))


def unbound_params(policy: ir.Policy, values: dict[str, str]) -> list[Diagnostic]:
    """AWP020 for each parameter a rule uses that ``values`` give no value, at its first use."""
    found: dict[str, Diagnostic] = {}
    declared = {p.name: p.origin for p in policy.params}
    for rule in policy.rules:
        for name in paths.PARAM_RE.findall(rule.pattern):
            if name in values or name in found:
                continue
            o = rule.origin
            decl = declared.get(name)
            found[name] = Diagnostic(
                "AWP020", f"parameter ${{{name}}} has no value to bind rule {rule.id} under",
                Span(o.file, o.line, o.col),
                related=((f"${{{name}}} is declared here without a default", Span(decl.file, decl.line, decl.col)),)
                if decl is not None else ())
    return list(found.values())


def check_binding(policy: ir.Policy, values: dict[str, str], *, hint: str) -> None:
    """Raise PolicyError when ``values`` leave a parameter a rule uses unbound, or cannot be resolved."""
    missing = unbound_params(policy, values)
    if missing:
        raise PolicyError([dataclasses.replace(d, hint=hint) for d in missing])
    try:
        paths.resolve_params(values)
    except paths.PathError as exc:
        raise PolicyError(Diagnostic("AWP020", f"reference binding: {exc}", Span("--param", 1, 1),
                                     hint=hint)) from None


def check_reference(policy: ir.Policy, given_params: dict[str, str]) -> dict[str, str]:
    """The reference binding (:func:`reference_params`); PolicyError if it leaves a parameter unbound."""
    reference = reference_params(policy, given_params)
    check_binding(policy, reference, hint="give the parameter a default, or pass --param NAME=VALUE")
    return reference


def build(policy: ir.Policy, given_params: dict[str, str], signing_key=None) -> dict[str, bytes]:
    """All files of a bundle, by relative path; with ``signing_key`` (see :func:`load_signing_key`)
    also ``manifest.sig``, so the signature is written in the same atomic swap as the rest."""
    reference = check_reference(policy, given_params)
    files: dict[str, bytes] = {}
    artifacts = []
    for backend in backends():
        for artifact in backend(policy, reference):
            files[artifact.path] = artifact.data
            artifacts.append({"path": artifact.path, "kind": artifact.kind, "sha256": sha256(artifact.data)})
    manifest = {
        "format": BUNDLE_FORMAT,
        "compiler": {"name": "awpolicy", "version": __version__},
        "params": reference,
        # Rule ids in ascending precedence under the reference binding: the order the
        # backends emitted. The runtime recomputes it under the real values and
        # re-renders from policy.json when it differs (DESIGN.md "Semantics").
        "order": ir.precedence_order(ir.bind(policy, reference)),
        "targets": ["linux", "macos"],
        "sources": [{"path": s.path, "scope": s.scope, "sha256": s.sha256} for s in policy.sources],
        "artifacts": sorted(artifacts, key=lambda a: a["path"]),
    }
    files[MANIFEST] = dumps(manifest)
    if signing_key is not None:
        files[SIGNATURE] = sign_manifest(signing_key, files[MANIFEST])
    return dict(sorted(files.items()))


# --------------------------------------------------------------------------- atomic write

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2 RENAME_EXCHANGE); False when unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    if ctypes.get_errno() in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), str(b))


def write_tree(out: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` as directory ``out``, replacing it atomically if it exists."""
    out = out.absolute()
    if out.exists() and not out.is_dir():
        raise PolicyError(Diagnostic("AWP601", f"{out} exists and is not a directory", Span(str(out), 1, 1),
                                     hint="choose another output path with -o"))
    if out.is_dir() and not (out / MANIFEST).is_file() and any(out.iterdir()):
        # Replacing a bundle is the point; replacing a directory of other files would lose them.
        raise PolicyError(Diagnostic("AWP601", f"{out} is a directory that is not a bundle (it has no {MANIFEST}); "
                                     "refusing to replace it", Span(str(out), 1, 1),
                                     hint="choose a new or empty output directory with -o, or an existing bundle"))
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=out.parent))
    try:
        for rel, data in files.items():
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(target, 0o644)
        os.chmod(tmp, 0o755)
        _fsync_dir(tmp)
        if not out.exists():
            try:
                os.rename(tmp, out)
                _fsync_dir(out.parent)
                return
            except OSError as exc:  # another compile created it meanwhile: swap instead
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
        if _exchange(tmp, out):
            _fsync_dir(out.parent)
            shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old bundle
            return
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.rename(out, old)
        os.rename(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _remove_stale_temporaries(out: Path) -> None:
    """Delete the temporary siblings of ``out`` left by compiles that were killed (their pid is gone).

    A live process with that pid (even an unrelated one after pid reuse) keeps its directory: only
    what certainly has no writer is removed."""
    prefix = f".{out.name}.tmp-"
    try:
        names = [n for n in os.listdir(out.parent) if n.startswith(prefix)]
    except OSError:
        return
    for name in names:
        pid = name[len(prefix):].partition("-")[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(out.parent / name, ignore_errors=True)
        except OSError:
            pass  # alive, owned by someone else




# --------------------------------------------------------------------------- signing
# ed25519 over the exact manifest.json bytes; the manifest lists every artifact's
# sha256, so the signature covers the bundle. The .sig format lives in
# aw_runtime.verify, next to the code that checks it. cryptography is imported
# only here, only when a key is involved.


def _key_error(path, message: str, hint: str) -> PolicyError:
    return PolicyError(Diagnostic("AWP629", message, Span(str(path), 1, 1), hint=hint))


def load_signing_key(path: str | os.PathLike):
    """The ed25519 private key in PEM (PKCS8) file ``path``, or a PolicyError saying what is wrong."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    hint = "pass the PEM private key written by `awpolicy keygen PRIVATE PUBLIC` (-----BEGIN PRIVATE KEY-----)"
    try:
        with open(path, "rb") as fh:
            data = fh.read(64 << 10)
    except OSError as exc:
        raise _key_error(path, f"cannot read signing key: {exc.strerror or exc}", hint) from None
    if b"PUBLIC KEY-----" in data:
        raise _key_error(path, "this is a public key; signing takes the private key", hint)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise _key_error(path, "signing key is encrypted; awpolicy reads unencrypted PKCS8 keys",
                         "decrypt it (`openssl pkey -in KEY -out PLAIN`) or create one with `awpolicy keygen`") from None
    except (ValueError, UnsupportedAlgorithm):
        raise _key_error(path, "not a PEM private key", hint) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise _key_error(path, f"is a {type(key).__name__.lstrip('_')} key; awpolicy signs with ed25519",
                         "generate an ed25519 key pair with `awpolicy keygen PRIVATE PUBLIC`")
    return key


def _raw_public(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def sign_manifest(key, manifest: bytes) -> bytes:
    """The bytes of ``manifest.sig`` for ``manifest`` (deterministic)."""
    from aw_runtime.verify import encode_signature

    return encode_signature(key.sign(manifest), _raw_public(key))


def key_fingerprint(key) -> str:
    from aw_runtime.verify import fingerprint

    return fingerprint(_raw_public(key))


def write_keypair(private_path: Path, public_path: Path) -> str:
    """Generate an ed25519 key pair into two new PEM files; return the fingerprint.

    Each file is written to a temporary sibling (the private one created 0600)
    and linked into place, so it appears complete or not at all and an existing
    file is never overwritten.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    for path in (private_path, public_path):
        if os.path.lexists(path):
            raise FileExistsError(errno.EEXIST, "exists; refusing to overwrite a key", str(path))
    write_atomic(private_path, private, 0o600, exclusive=True)
    try:
        write_atomic(public_path, public, 0o644, exclusive=True)
    except BaseException:
        os.unlink(private_path)
        raise
    return key_fingerprint(key)


def read_tree(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` by relative path. A symlink is recorded, never followed,
    so comparing a committed bundle cannot read outside it."""
    files: dict[str, bytes] = {}
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory).as_posix()
        if path.is_symlink():
            files[rel] = f"<symlink to {os.readlink(path)}>\n".encode()
        elif path.is_file():
            files[rel] = path.read_bytes()
    return files


def load_policy(bundle_dir: Path) -> tuple[dict, ir.Policy]:
    """A bundle's manifest and IR, after :func:`aw_runtime.verify.verify_bundle` checked it
    (a modified, incomplete or linked bundle is refused, as the runtime refuses it)."""
    from aw_runtime.verify import BundleError, verify_bundle

    try:
        verified = verify_bundle(bundle_dir)
    except BundleError as exc:
        raise PolicyError(Diagnostic(exc.code, exc.message, Span(exc.path or str(bundle_dir), 1, 1),
                                     hint=exc.hint)) from None
    shown = str(Path(bundle_dir) / POLICY)
    if POLICY not in verified.files:
        raise PolicyError(Diagnostic("AWP603", f"not a bundle: the manifest lists no {POLICY}", Span(shown, 1, 1),
                                     hint="pass the directory written by `awpolicy compile -o DIR`"))
    try:
        policy = ir.Policy.from_json(verified.json(POLICY))
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise PolicyError(Diagnostic("AWP604", f"bundle is damaged: {exc}", Span(shown, 1, 1),
                                     hint="recompile the bundle")) from None
    return dict(verified.manifest), policy
