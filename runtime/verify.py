"""Bundle integrity: the first thing the runtime does with a bundle.

``verify_bundle(dir)`` checks a compiled bundle and returns its files' bytes,
so a caller never opens a bundle file again after verification (no window in
which a file could be swapped between the check and the use). It refuses:

* a missing bundle directory or ``manifest.json`` (AWP620);
* an unknown or newer bundle format, naming both versions (AWP621);
* a manifest that is not JSON or not shaped like a manifest (AWP622);
* a manifest path that could leave the bundle: ``..``, absolute, odd
  characters, duplicates (AWP623);
* an artifact the manifest lists but the directory lacks (AWP624);
* an artifact whose sha256 differs from the manifest's (AWP625);
* a file or directory the manifest does not list (AWP626);
* a symlink anywhere inside the bundle, or an entry that is neither a regular
  file nor a directory (AWP627);
* a file over :data:`MAX_FILE_BYTES`, or a tree with too many entries (AWP628);
* a missing, corrupted or wrong signature, a wrong or unreadable key (AWP629).

Everything is read relative to one open directory descriptor, with
``O_NOFOLLOW`` and an ``fstat`` check on each open file, and every read is
bounded. The bundle directory itself may be a symlink (``current -> v3``); the
entries inside it may not.

Signatures (optional): ``manifest.sig`` holds an ed25519 signature over the
exact bytes of ``manifest.json``. The manifest lists the sha256 of every
artifact, so the signature covers the whole bundle. ``cryptography`` is
imported only when a key is given; everything else is the standard library.
"""

from __future__ import annotations

import json
import os
import re
import stat
from types import MappingProxyType

from aw_runtime.record import Record

TYPE_CHECKING = False  # annotations only: importing collections.abc costs a launch 0.3 ms
if TYPE_CHECKING:
    from collections.abc import Mapping

FORMAT_NAME = "awpolicy.bundle"
FORMAT_VERSION = 1
BUNDLE_FORMAT = f"{FORMAT_NAME}/{FORMAT_VERSION}"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
SIGNATURE_FORMAT = "awpolicy.sig/1"
SIGNATURE_ALGORITHM = "ed25519"

#: Bounds on what verification reads (module constants so tests can lower them).
MAX_MANIFEST_BYTES = 4 << 20
MAX_SIGNATURE_BYTES = 64 << 10
MAX_KEY_BYTES = 64 << 10
MAX_FILE_BYTES = 64 << 20
MAX_TOTAL_BYTES = 256 << 20
MAX_ENTRIES = 1024
MAX_DEPTH = 8

# Error codes (6xx: bundles and runtime).
NOT_A_BUNDLE = "AWP620"
BAD_FORMAT = "AWP621"
BAD_MANIFEST = "AWP622"
UNSAFE_PATH = "AWP623"
MISSING_FILE = "AWP624"
HASH_MISMATCH = "AWP625"
EXTRA_FILE = "AWP626"
NOT_REGULAR = "AWP627"
TOO_LARGE = "AWP628"
BAD_SIGNATURE = "AWP629"

_RESERVED = {MANIFEST, SIGNATURE}
# Character sets of the manifest's fields (plain set tests: a launch compiles no regular expression).
_DIGITS = frozenset("0123456789")
_HEX = frozenset("0123456789abcdef")
_NAME_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_NAME_CHARS = _NAME_START | frozenset(".-")

#: Up to this many bytes in all, a bundle is hashed with CPython's own SHA-256 code rather than
#: hashlib's (OpenSSL): loading OpenSSL costs a launch about 3 ms, the built-in code about 5 ms per
#: MB more than OpenSSL's. The digests are the same.
BUILTIN_SHA256_MAX_BYTES = 512 << 10


def sha256_for(total_bytes: int):
    """The SHA-256 constructor (``sha256_for(n)(data).hexdigest()``) that hashes ``total_bytes`` soonest
    in a fresh process: CPython's built-in one for a few hundred kB, else hashlib's."""
    if total_bytes <= BUILTIN_SHA256_MAX_BYTES:
        for module in ("_sha256", "_sha2"):  # CPython 3.11; 3.12 and later
            try:
                return __import__(module).sha256
            except ImportError:
                continue
    import hashlib

    return hashlib.sha256


def _safe_path(path: str) -> bool:
    """``[A-Za-z0-9_][A-Za-z0-9._-]*`` components joined by ``/``."""
    return all(part and part[0] in _NAME_START and _NAME_CHARS.issuperset(part) for part in path.split("/"))


_O_DIR = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0)
_O_FILE = (os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
           | getattr(os, "O_NOCTTY", 0))


class BundleError(Exception):
    """A bundle (or a key) that must not be used. Carries what a user needs to act.

    ``code`` is an ``AWP62x`` code, ``message`` says what is wrong, ``hint`` how
    to fix it, ``path`` names the offending file (or the bundle directory).
    """

    def __init__(self, code: str, message: str, hint: str | None = None, path: str | None = None):
        self.code = code
        self.message = message
        self.hint = hint
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)

    def render(self) -> str:
        """One line per fact, the same shape as the compiler's diagnostics."""
        text = f"{self.path or 'bundle'}: error[{self.code}]: {self.message}\n"
        if self.hint:
            text += f"  = hint: {self.hint}\n"
        return text


class VerifiedBundle(Record):
    """A bundle whose manifest, hashes and (optionally) signature were checked.

    ``files`` maps each artifact's manifest path to the exact bytes that were
    hashed. Use these bytes; never re-read the directory.
    """

    path: str
    manifest: Mapping[str, object]
    manifest_bytes: bytes
    files: Mapping[str, bytes]
    #: Fingerprint of the key the signature claims (``sha256:<hex>``), or None when unsigned.
    signer: str | None = None
    #: True when the signature was checked against a trusted public key.
    signature_verified: bool = False
    signature_bytes: bytes | None = None

    def read(self, name: str) -> bytes:
        """The verified bytes of artifact ``name`` (KeyError when the manifest does not list it)."""
        return self.files[name]

    def json(self, name: str) -> object:
        return json.loads(self.files[name])

    def artifacts(self, kind: str | None = None) -> list[str]:
        """Artifact paths in manifest order, optionally only those of one ``kind``."""
        return [a["path"] for a in self.manifest["artifacts"] if kind is None or a["kind"] == kind]

    @property
    def params(self) -> dict[str, str]:
        return dict(self.manifest.get("params", {}))

    @property
    def file_count(self) -> int:
        """Files verified, the manifest (and signature) included."""
        return len(self.files) + 1 + (self.signature_bytes is not None)


# --------------------------------------------------------------------------- reading


def _join(root: str, rel: str) -> str:
    return os.path.join(root, *rel.split("/")) if rel else root


def _read_at(dir_fd: int, name: str, shown: str, limit: int, expect: os.stat_result | None = None) -> bytes:
    """Read regular file ``name`` under ``dir_fd``: no symlink, no special file, at most ``limit`` bytes."""
    try:
        fd = os.open(name, _O_FILE, dir_fd=dir_fd)
    except FileNotFoundError:
        raise
    except OSError as exc:
        # ELOOP: a symlink (O_NOFOLLOW); ENXIO: a socket or FIFO with no writer.
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except OSError:
            st = None
        if st is not None and not stat.S_ISREG(st.st_mode):
            raise _not_regular(shown, st, dir_fd, name) from None
        raise BundleError(NOT_A_BUNDLE, f"cannot read {name}: {exc.strerror or exc}",
                          "check the bundle's permissions", shown) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _not_regular(shown, st, dir_fd, name)
        if expect is not None and (st.st_dev, st.st_ino) != (expect.st_dev, expect.st_ino):
            raise BundleError(NOT_REGULAR, f"{name} was replaced while the bundle was being verified",
                              "do not modify a bundle while it is in use; verify again", shown)
        if st.st_size > limit:
            raise _too_large(shown, st.st_size, limit)
        chunks, size = [], 0
        while True:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:  # the file grew after fstat
                raise _too_large(shown, size, limit)
        return b"".join(chunks)
    except OSError as exc:
        raise BundleError(NOT_A_BUNDLE, f"cannot read {name}: {exc.strerror or exc}",
                          "check the bundle's permissions", shown) from None
    finally:
        os.close(fd)


def _too_large(shown: str, size: int, limit: int) -> BundleError:
    return BundleError(TOO_LARGE, f"file is {size} bytes, over the limit of {limit} bytes",
                       "a compiled bundle is small; this file was not written by awpolicy compile", shown)


def _not_regular(shown: str, st: os.stat_result, dir_fd: int, name: str) -> BundleError:
    if stat.S_ISLNK(st.st_mode):
        try:
            target = os.readlink(name, dir_fd=dir_fd)
        except OSError:
            target = "?"
        where = "out of the bundle" if (os.path.isabs(target) or ".." in target.split("/")) else "inside the bundle"
        return BundleError(NOT_REGULAR, f"is a symlink to {target!r} ({where}); bundles contain no symlinks",
                           "replace the bundle with a fresh `awpolicy compile` output", shown)
    kind = ("directory" if stat.S_ISDIR(st.st_mode) else "FIFO" if stat.S_ISFIFO(st.st_mode)
            else "socket" if stat.S_ISSOCK(st.st_mode) else "device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
            else "special file")
    return BundleError(NOT_REGULAR, f"is a {kind}, not a regular file",
                       "replace the bundle with a fresh `awpolicy compile` output", shown)


class _Walk:
    """What the walk of a bundle found so far."""

    def __init__(self, root: str, expected: frozenset[str]):
        self.root = root
        self.expected = expected
        self.files: dict[str, bytes] = {}
        self.extra: list[str] = []
        self.entries = 0
        self.total = 0


def _walk(w: _Walk, dir_fd: int, prefix: str, depth: int) -> None:
    """Read every expected file under ``dir_fd``; note the unexpected; refuse links and specials."""
    names = []
    try:
        with os.scandir(dir_fd) as it:
            for entry in it:
                w.entries += 1
                if w.entries > MAX_ENTRIES:
                    raise BundleError(TOO_LARGE, f"bundle has more than {MAX_ENTRIES} entries",
                                      "a compiled bundle holds a handful of files", w.root)
                names.append(entry.name)
    except OSError as exc:
        raise BundleError(NOT_A_BUNDLE, f"cannot list directory: {exc.strerror or exc}",
                          "check the bundle's permissions", _join(w.root, prefix.rstrip("/"))) from None
    for name in sorted(names):
        rel = f"{prefix}{name}"
        shown = _join(w.root, rel)
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            continue  # gone since the listing: reported as missing if it was expected
        if stat.S_ISDIR(st.st_mode):
            if rel in w.expected or (not prefix and rel in _RESERVED):
                raise _not_regular(shown, st, dir_fd, name)
            if not any(p.startswith(rel + "/") for p in w.expected):
                w.extra.append(rel + "/")
                continue
            if depth >= MAX_DEPTH:
                raise BundleError(TOO_LARGE, f"directories nested deeper than {MAX_DEPTH}", None, shown)
            try:
                sub = os.open(name, _O_DIR | os.O_NOFOLLOW, dir_fd=dir_fd)
            except OSError as exc:
                raise BundleError(NOT_REGULAR, f"cannot open directory: {exc.strerror or exc}", None, shown) from None
            try:
                _walk(w, sub, rel + "/", depth + 1)
            finally:
                os.close(sub)
        elif not stat.S_ISREG(st.st_mode):
            raise _not_regular(shown, st, dir_fd, name)
        elif rel in _RESERVED and not prefix:
            continue  # read separately, before the walk
        elif rel not in w.expected:
            w.extra.append(rel)
        else:
            try:
                data = _read_at(dir_fd, name, shown, MAX_FILE_BYTES, expect=st)
            except FileNotFoundError:
                continue
            w.total += len(data)
            if w.total > MAX_TOTAL_BYTES:
                raise BundleError(TOO_LARGE, f"bundle holds more than {MAX_TOTAL_BYTES} bytes",
                                  "a compiled bundle is small; this one was not written by awpolicy compile", shown)
            w.files[rel] = data


# --------------------------------------------------------------------------- manifest


def _check_format(manifest: object, shown: str) -> None:
    found = manifest.get("format") if isinstance(manifest, dict) else None
    if not isinstance(found, str):
        raise BundleError(BAD_FORMAT, f"manifest names no bundle format (expected {BUNDLE_FORMAT!r})",
                          "recompile the bundle with `awpolicy compile`", shown)
    name, _, digits = found.partition("/")  # FORMAT_NAME/ and 1 to 6 digits
    if name != FORMAT_NAME or not 1 <= len(digits) <= 6 or not _DIGITS.issuperset(digits):
        raise BundleError(BAD_FORMAT, f"unknown bundle format {found!r}; this runtime reads {BUNDLE_FORMAT!r}",
                          "this is not an awpolicy bundle, or it was damaged; recompile it", shown)
    version = int(digits)
    if version > FORMAT_VERSION:
        raise BundleError(BAD_FORMAT, f"bundle format {found!r} is newer than this runtime supports "
                                      f"({BUNDLE_FORMAT!r})",
                          "upgrade awpolicy on this machine, or compile the bundle with the older compiler", shown)
    if version != FORMAT_VERSION:
        raise BundleError(BAD_FORMAT, f"unknown bundle format {found!r}; this runtime reads {BUNDLE_FORMAT!r}",
                          "recompile the bundle with this version of awpolicy", shown)


def _check_shape(manifest: dict, shown: str) -> dict[str, str]:
    """Artifact path -> sha256, after checking the fields the runtime relies on."""

    def bad(what: str) -> BundleError:
        return BundleError(BAD_MANIFEST, f"manifest is malformed: {what}", "recompile the bundle", shown)

    artifacts = manifest.get("artifacts")
    if not isinstance(artifacts, list):
        raise bad("'artifacts' must be a list")
    for key, kind in (("params", dict), ("compiler", dict), ("targets", list), ("sources", list), ("order", list)):
        if key in manifest and not isinstance(manifest[key], kind):
            raise bad(f"{key!r} must be a {'mapping' if kind is dict else 'list'}")
    params = manifest.get("params", {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in params.items()):
        raise bad("'params' must map names to strings")
    expected: dict[str, str] = {}
    for i, item in enumerate(artifacts):
        if not isinstance(item, dict):
            raise bad(f"artifacts[{i}] must be a mapping")
        path, kind, digest = item.get("path"), item.get("kind"), item.get("sha256")
        if not isinstance(path, str):
            raise bad(f"artifacts[{i}].path must be a string")
        if not isinstance(kind, str):
            raise bad(f"artifacts[{i}].kind must be a string")
        if not isinstance(digest, str) or len(digest) != 64 or not _HEX.issuperset(digest):
            raise bad(f"artifacts[{i}].sha256 must be 64 lowercase hex digits")
        parts = path.split("/")
        if path.startswith("/") or "\\" in path or any(p in ("", ".", "..") for p in parts) \
                or not _safe_path(path):
            raise BundleError(UNSAFE_PATH, f"manifest lists unsafe artifact path {path!r} "
                                           "(absolute, '..', or characters outside [A-Za-z0-9._-/])",
                              "artifact paths are plain names relative to the bundle; recompile the bundle", shown)
        if path in _RESERVED:
            raise BundleError(UNSAFE_PATH, f"manifest lists {path!r} as an artifact", "recompile the bundle", shown)
        if path in expected:
            raise BundleError(UNSAFE_PATH, f"manifest lists {path!r} twice", "recompile the bundle", shown)
        expected[path] = digest
    for path in expected:  # a file cannot also be a directory
        if any(other.startswith(path + "/") for other in expected):
            raise BundleError(UNSAFE_PATH, f"manifest lists {path!r} both as a file and as a directory",
                              "recompile the bundle", shown)
    return expected


# --------------------------------------------------------------------------- signatures


def fingerprint(raw_public_key: bytes) -> str:
    """``sha256:<hex>`` of the raw 32-byte ed25519 public key."""
    return "sha256:" + sha256_for(len(raw_public_key))(raw_public_key).hexdigest()


def encode_signature(signature: bytes, raw_public_key: bytes) -> bytes:
    """The bytes of ``manifest.sig`` (deterministic: ed25519 signatures are)."""
    import base64

    data = {
        "algorithm": SIGNATURE_ALGORITHM,
        "format": SIGNATURE_FORMAT,
        "key": fingerprint(raw_public_key),
        "signature": base64.b64encode(signature).decode("ascii"),
        "signed": MANIFEST,
    }
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8")


def decode_signature(data: bytes, shown: str) -> tuple[bytes, str]:
    """(raw 64-byte signature, claimed signer fingerprint) from ``manifest.sig`` bytes."""
    import base64

    def corrupted(what: str) -> BundleError:
        return BundleError(BAD_SIGNATURE, f"signature file is corrupted: {what}",
                           "re-sign the bundle: `awpolicy compile ... --sign PRIVATE_KEY`", shown)

    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise corrupted("not JSON") from None
    if not isinstance(doc, dict):
        raise corrupted("not a JSON object")
    if doc.get("format") != SIGNATURE_FORMAT:
        raise corrupted(f"format {doc.get('format')!r} is not {SIGNATURE_FORMAT!r}")
    if doc.get("algorithm") != SIGNATURE_ALGORITHM:
        raise corrupted(f"algorithm {doc.get('algorithm')!r} is not {SIGNATURE_ALGORITHM!r}")
    if doc.get("signed") != MANIFEST:
        raise corrupted(f"it signs {doc.get('signed')!r}, not {MANIFEST!r}")
    key = doc.get("key")
    if not isinstance(key, str) or not re.fullmatch(r"sha256:[0-9a-f]{64}", key):
        raise corrupted("no signer key fingerprint")
    try:
        raw = base64.b64decode(str(doc.get("signature", "")).encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):  # binascii.Error is a ValueError
        raise corrupted("signature is not base64") from None
    if len(raw) != 64:
        raise corrupted(f"an ed25519 signature is 64 bytes, this one is {len(raw)}")
    return raw, key


def load_public_key(path: str | os.PathLike) -> tuple[object, str]:
    """(ed25519 public key, its fingerprint) from a PEM SubjectPublicKeyInfo file."""
    shown = os.fspath(path)
    hint = "pass the PEM public key written by `awpolicy keygen PRIVATE PUBLIC` (-----BEGIN PUBLIC KEY-----)"
    try:
        fd = os.open(shown, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise BundleError(BAD_SIGNATURE, f"cannot read public key: {exc.strerror or exc}", hint, shown) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise BundleError(BAD_SIGNATURE, "public key is not a regular file", hint, shown)
        if st.st_size > MAX_KEY_BYTES:
            raise BundleError(BAD_SIGNATURE, f"public key file is {st.st_size} bytes; a PEM key is a few hundred",
                              hint, shown)
        data = os.read(fd, MAX_KEY_BYTES + 1)
    except OSError as exc:
        raise BundleError(BAD_SIGNATURE, f"cannot read public key: {exc.strerror or exc}", hint, shown) from None
    finally:
        os.close(fd)
    if b"PRIVATE KEY-----" in data:
        raise BundleError(BAD_SIGNATURE, "this is a private key; verification takes the public key",
                          "pass the PUBLIC file written by `awpolicy keygen` (and keep the private one secret)", shown)
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise BundleError(BAD_SIGNATURE, "not a PEM public key", hint, shown) from None
    if not isinstance(key, Ed25519PublicKey):
        raise BundleError(BAD_SIGNATURE, f"is a {type(key).__name__.lstrip('_')} key; awpolicy signs with ed25519",
                          "generate an ed25519 key pair with `awpolicy keygen PRIVATE PUBLIC`", shown)
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return key, fingerprint(raw)


def _check_signature(manifest_bytes: bytes, sig_bytes: bytes, key_path, manifest_shown: str, sig_shown: str) -> str:
    key, trusted = load_public_key(key_path)
    raw, claimed = decode_signature(sig_bytes, sig_shown)
    if claimed != trusted:
        raise BundleError(BAD_SIGNATURE, f"bundle is signed by key {claimed}, not by the trusted key {trusted} "
                                         f"({os.fspath(key_path)})",
                          "use the public key that matches the signing key, or re-sign the bundle with the trusted key",
                          sig_shown)
    from cryptography.exceptions import InvalidSignature

    try:
        key.verify(raw, manifest_bytes)
    except InvalidSignature:
        raise BundleError(BAD_SIGNATURE, f"{SIGNATURE} does not match {MANIFEST}: the manifest or its signature "
                                         "was modified after signing",
                          "recompile and re-sign the bundle; do not edit a signed bundle", manifest_shown) from None
    return trusted


# --------------------------------------------------------------------------- entry point


def verify_bundle(bundle_dir: str | os.PathLike, public_key_path: str | os.PathLike | None = None,
                  require_signature: bool = False) -> VerifiedBundle:
    """Check ``bundle_dir`` completely and return its verified contents, or raise :class:`BundleError`.

    With ``public_key_path`` the bundle must carry ``manifest.sig`` made by the
    matching private key. ``require_signature`` without a key is refused (a
    signature nobody checks proves nothing). Without a key, a ``manifest.sig``
    is checked for shape only and its claimed signer is reported in ``signer``.
    """
    root = os.fspath(bundle_dir)
    manifest_shown, sig_shown = _join(root, MANIFEST), _join(root, SIGNATURE)
    if require_signature and public_key_path is None:
        raise BundleError(BAD_SIGNATURE, "a signed bundle is required, but no trusted public key was given",
                          "pass the signer's public key (--key PUBKEY)", root)
    try:
        dir_fd = os.open(root, _O_DIR)
    except FileNotFoundError:
        raise BundleError(NOT_A_BUNDLE, "bundle directory does not exist",
                          "pass the directory written by `awpolicy compile -o DIR`", root) from None
    except NotADirectoryError:
        raise BundleError(NOT_A_BUNDLE, "is not a directory; a bundle is a directory",
                          "pass the directory written by `awpolicy compile -o DIR`", root) from None
    except OSError as exc:
        raise BundleError(NOT_A_BUNDLE, f"cannot open bundle directory: {exc.strerror or exc}",
                          "check the directory's permissions", root) from None
    try:
        try:
            manifest_bytes = _read_at(dir_fd, MANIFEST, manifest_shown, MAX_MANIFEST_BYTES)
        except FileNotFoundError:
            raise BundleError(NOT_A_BUNDLE, f"not a bundle: {MANIFEST} is missing",
                              "pass the directory written by `awpolicy compile -o DIR`", manifest_shown) from None
        try:
            sig_bytes: bytes | None = _read_at(dir_fd, SIGNATURE, sig_shown, MAX_SIGNATURE_BYTES)
        except FileNotFoundError:
            sig_bytes = None

        # The signature first: with a trusted key, nothing unsigned is parsed.
        signer, verified = None, False
        if public_key_path is not None:
            if sig_bytes is None:
                load_public_key(public_key_path)  # a bad key file is the first thing to fix
                raise BundleError(BAD_SIGNATURE, f"bundle is not signed ({SIGNATURE} is missing) but a signature "
                                                 "is required by the given key",
                                  "compile with `awpolicy compile ... --sign PRIVATE_KEY`", sig_shown)
            signer, verified = _check_signature(manifest_bytes, sig_bytes, public_key_path,
                                                manifest_shown, sig_shown), True
        elif sig_bytes is not None:
            signer = decode_signature(sig_bytes, sig_shown)[1]

        try:
            manifest = json.loads(manifest_bytes.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise BundleError(BAD_MANIFEST, f"manifest is not valid JSON: {exc}", "recompile the bundle",
                              manifest_shown) from None
        if not isinstance(manifest, dict):
            raise BundleError(BAD_MANIFEST, "manifest is not a JSON object", "recompile the bundle", manifest_shown)
        _check_format(manifest, manifest_shown)
        expected = _check_shape(manifest, manifest_shown)

        walk = _Walk(root, frozenset(expected))
        _walk(walk, dir_fd, "", 0)
    finally:
        os.close(dir_fd)

    missing = [p for p in expected if p not in walk.files]
    if missing:
        raise BundleError(MISSING_FILE, "artifact listed in the manifest is missing"
                                        + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""),
                          "recompile the bundle; a bundle is replaced as a whole, never file by file",
                          _join(root, missing[0]))
    if walk.extra:
        extra = walk.extra[0]
        raise BundleError(EXTRA_FILE, f"{'directory' if extra.endswith('/') else 'file'} is not listed in the manifest"
                                      + (f" (and {len(walk.extra) - 1} more)" if len(walk.extra) > 1 else ""),
                          "remove it, or recompile the bundle; a bundle holds only what the manifest lists",
                          _join(root, extra.rstrip("/")))
    new_sha256 = sha256_for(sum(len(walk.files[path]) for path in expected))
    for path, digest in expected.items():
        actual = new_sha256(walk.files[path]).hexdigest()
        if actual != digest:  # both public (the manifest lists its digests): no secret to time
            raise BundleError(HASH_MISMATCH, f"content does not match the manifest (sha256 {actual[:16]}..., "
                                             f"manifest says {digest[:16]}...): the file was modified",
                              "recompile the bundle; never edit a compiled bundle by hand", _join(root, path))
    files = {path: walk.files[path] for path in expected}
    return VerifiedBundle(
        path=root,
        manifest=MappingProxyType(manifest),
        manifest_bytes=manifest_bytes,
        files=MappingProxyType(files),
        signer=signer,
        signature_verified=verified,
        signature_bytes=sig_bytes,
    )
