"""Our catalog of SBPL operation names, filter names and modifiers.

Plain Python data, written for awpolicy; nothing is loaded at import time.

Where the names come from
-------------------------
* ``VOCABULARY_14_4``: the 196 operation names and 93 filter names that
  libsandbox carries on macOS 14.4.1 (Sonoma, build 23E224), as harvested from
  the ``_operation_names`` / ``_filter_info`` tables of ``libsandbox.1.dylib``
  in the dyld shared cache and published by a public reverse-engineering
  project (Protonk/sandbox-boostrap, ``book/graph/mappings/vocab``). The counts
  match FACTS.md ("about 196 operations and 93 filters").
* ``LEGACY``: names present in operation lists published for older macOS
  releases (exact releases not stated by those lists) and absent from the
  14.4.1 vocabulary. They are still known names, so lint does not call them
  unknown, but a profile using them may not compile on current macOS.
* ``OPERATION_ALIASES``: spellings used all over public profiles that are not
  themselves in the 14.4.1 vocabulary, mapped to the vocabulary entry they
  must stand for (``process-exec`` is everywhere, yet only ``process-exec*``
  is in the table). The mapping is our inference from the names (modelling
  assumption).
* Filter *spellings*: the 14.4.1 table names the path filter ``path``; SBPL
  source writes it as ``literal``, ``path``, ``subpath``, ``prefix`` or
  ``regex``. ``-prefix`` / ``-regex`` forms of name filters
  (``global-name-regex``, ``sysctl-name-prefix``, ...) and a few other
  spellings (``iokit-user-client-class``) are written in public profiles
  (Chromium, WebKit, Firefox, Apple's own) and accepted by libsandbox there.

Version ranges: the only version evidence we hold is "present in the 14.4.1
vocabulary" and "present in an older list". We record exactly that
(``OperationInfo.seen_in``) and do not invent first/last versions; operations
and filters added after 14.4.1 (macOS 15, 26) are **not covered**.

Operation hierarchy
-------------------
A name ending in ``*`` names every operation that starts with the text before
the ``*`` (FACTS.md: "``file-read*`` names every operation starting with
``file-read``"). :data:`PARENT` maps each operation to the closest wildcard
above it (the longest wildcard whose stem is a proper prefix of the name), and
``default`` above the top-level ones, e.g. ``file-read-data -> file-read* ->
file* -> default`` and ``ipc-posix-shm-write-data -> ipc-posix-shm-write* ->
ipc-posix-shm* -> ipc-posix* -> ipc* -> default``. This is derived from the
documented names by that rule; it is how the evaluator falls back.

Not covered by ``(deny default)``
----------------------------------
:data:`NOT_COVERED_BY_DENY_DEFAULT`: operations that stay allowed under
``(deny default)`` unless a rule names them. FACTS.md names ``process-info*``,
``file-map-executable``, ``dynamic-code-generation`` and ``nvram*``; Chromium's
renderer profile (``sandbox/policy/mac/renderer.sb``, crbug.com/799149) states
that ``iokit-get-properties``, ``process-info*`` and ``nvram*`` "are allowed by
default" and denies them explicitly. The set may be incomplete: no public
source lists them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "FILTERS",
    "FILTER_VOCABULARY_14_4",
    "LEGACY",
    "METAFILTERS",
    "MODIFIERS",
    "NETWORK_PROTOCOLS",
    "NOT_COVERED_BY_DENY_DEFAULT",
    "OPERATIONS",
    "OPERATION_ALIASES",
    "PARENT",
    "PROCEDURES",
    "SIGNAL_TARGETS",
    "SPECIAL_FORMS",
    "VNODE_TYPES",
    "VOCABULARY_14_4",
    "FilterInfo",
    "OperationInfo",
    "ancestors",
    "canonical_operation",
    "covers",
    "filter_names",
    "is_covered_by_default",
    "is_operation",
    "object_kind",
    "operation_names",
]

SNAPSHOT_14_4 = "macOS 14.4.1"
SNAPSHOT_LEGACY = "older macOS lists"


@dataclass(frozen=True)
class OperationInfo:
    name: str
    summary: str
    object: str  # which Request field names the object: path | network | target | name | none
    seen_in: tuple[str, ...]

    @property
    def version_range(self) -> str:
        if SNAPSHOT_14_4 in self.seen_in:
            return "present in macOS 14.4.1; first and last versions not known to us"
        return "only in older macOS lists; absent from the macOS 14.4.1 vocabulary"


@dataclass(frozen=True)
class FilterInfo:
    name: str
    summary: str
    vocabulary: str | None  # the 14.4.1 table entry it spells, or None
    modelled: bool  # the evaluator decides it; otherwise it is opaque
    seen_in: tuple[str, ...] = (SNAPSHOT_14_4,)


# ----------------------------------------------------------------------------- operations
#
# (name, object, summary). Summaries are our own one-line descriptions of what
# the name covers; an empty summary means we know nothing beyond the name.

_OPS_14_4: tuple[tuple[str, str, str], ...] = (
    ("default", "none", "the fallback decision of every operation no other rule decides"),
    ("appleevent-send", "name", "sending Apple Events to another application"),
    ("authorization-right-obtain", "name", "obtaining an authorization right from the security server"),
    ("boot-arg-set", "none", "setting kernel boot arguments"),
    ("device*", "none", "every device-* operation"),
    ("device-camera", "none", "using the camera"),
    ("device-microphone", "none", "using the microphone"),
    ("darwin-notification-post", "name", "posting a Darwin (notify) notification"),
    ("distributed-notification-post", "name", "posting a distributed notification"),
    ("dynamic-code-generation", "none", "creating executable memory at run time (JIT)"),
    ("file*", "path", "every file-* operation"),
    ("file-chroot", "path", "changing the root directory"),
    ("file-clone", "path", "cloning a file (copy-on-write)"),
    ("file-ioctl", "path", "ioctl on a file or device"),
    ("file-issue-extension", "path", "issuing a sandbox extension for a path"),
    ("file-link", "path", "creating a hard link"),
    ("file-lock", "path", "locking a file"),
    ("file-map-executable", "path", "mapping a file into memory as executable (loading a library)"),
    ("file-mknod", "path", "creating a device node"),
    ("file-mount", "path", "mounting a file system"),
    ("file-mount-update", "path", "updating a mount"),
    ("file-read*", "path", "every file-read-* operation"),
    ("file-read-data", "path", "reading a file's contents or listing a directory"),
    ("file-read-metadata", "path", "reading a file's metadata (stat, getattrlist, readlink)"),
    ("file-read-xattr", "path", "reading extended attributes"),
    ("file-revoke", "path", "revoking access to a device"),
    ("file-search", "path", "searching (traversing) a directory"),
    ("file-test-existence", "path", "testing whether a path exists"),
    ("file-unmount", "path", "unmounting a file system"),
    ("file-write*", "path", "every file-write-* operation"),
    ("file-write-acl", "path", "changing a file's ACL"),
    ("file-write-create", "path", "creating a file, directory or link"),
    ("file-write-data", "path", "writing a file's contents"),
    ("file-write-finderinfo", "path", "writing Finder info"),
    ("file-write-flags", "path", "changing file flags (chflags)"),
    ("file-write-mode", "path", "changing permissions (chmod)"),
    ("file-write-owner", "path", "changing owner (chown)"),
    ("file-write-setugid", "path", "setting set-user-ID / set-group-ID bits"),
    ("file-write-times", "path", "changing time stamps"),
    ("file-write-unlink", "path", "deleting a file or directory"),
    ("file-write-xattr", "path", "writing extended attributes"),
    ("fs-quota*", "path", "every fs-quota-* operation"),
    ("fs-quota-get", "path", ""),
    ("fs-quota-on", "path", ""),
    ("fs-quota-off", "path", ""),
    ("fs-quota-set*", "path", "every fs-quota-set-* operation"),
    ("fs-quota-set-limits", "path", ""),
    ("fs-quota-set-usage", "path", ""),
    ("fs-quota-stat", "path", ""),
    ("fs-quota-sync", "path", ""),
    ("fs-rename", "path", "renaming (checked in addition to the file operations)"),
    ("fs-snapshot*", "path", "every fs-snapshot-* operation"),
    ("fs-snapshot-create", "path", ""),
    ("fs-snapshot-delete", "path", ""),
    ("fs-snapshot-mount", "path", ""),
    ("fs-snapshot-revert", "path", ""),
    ("generic-issue-extension", "none", "issuing a generic sandbox extension"),
    ("qtn-user", "none", "quarantine operations on behalf of the user"),
    ("hid-control", "none", "controlling HID devices"),
    ("iokit*", "name", "every iokit-* operation"),
    ("iokit-get-properties", "name", "reading IOKit registry properties"),
    ("iokit-issue-extension", "name", "issuing an IOKit sandbox extension"),
    ("iokit-open*", "name", "every iokit-open-* operation (the `iokit-open` spelling)"),
    ("iokit-open-user-client", "name", "opening an IOKit user client"),
    ("iokit-open-service", "name", "opening an IOKit service"),
    ("iokit-set-properties", "name", "setting IOKit registry properties"),
    ("ipc*", "name", "every ipc-* operation"),
    ("ipc-posix*", "name", "every ipc-posix-* operation"),
    ("ipc-posix-issue-extension", "name", ""),
    ("ipc-posix-sem*", "name", "every POSIX semaphore operation (the `ipc-posix-sem` spelling)"),
    ("ipc-posix-sem-create", "name", ""),
    ("ipc-posix-sem-open", "name", ""),
    ("ipc-posix-sem-post", "name", ""),
    ("ipc-posix-sem-unlink", "name", ""),
    ("ipc-posix-sem-wait", "name", ""),
    ("ipc-posix-shm*", "name", "every POSIX shared memory operation (the `ipc-posix-shm` spelling)"),
    ("ipc-posix-shm-read-data", "name", ""),
    ("ipc-posix-shm-write*", "name", ""),
    ("ipc-posix-shm-write-create", "name", ""),
    ("ipc-posix-shm-write-data", "name", ""),
    ("ipc-posix-shm-write-unlink", "name", ""),
    ("ipc-sysv*", "none", "every System V IPC operation"),
    ("ipc-sysv-msg", "none", ""),
    ("ipc-sysv-sem", "none", ""),
    ("ipc-sysv-shm", "none", ""),
    ("job-creation", "none", "submitting launchd jobs"),
    ("lsopen", "none", "opening documents or applications through Launch Services"),
    ("mach*", "name", "every mach-* operation"),
    ("mach-bootstrap", "name", ""),
    ("mach-cross-domain-lookup", "name", "looking up a Mach service in another domain"),
    ("mach-derive-port", "name", ""),
    ("mach-host*", "none", "every mach-host-* operation"),
    ("mach-host-exception-port-set", "none", ""),
    ("mach-host-special-port-set", "none", ""),
    ("mach-issue-extension", "name", "issuing a Mach sandbox extension"),
    ("mach-kernel-endpoint", "none", ""),
    ("mach-lookup", "name", "looking up a Mach service by name"),
    ("mach-priv*", "none", "every mach-priv-* operation"),
    ("mach-priv-host-port", "none", "obtaining the privileged host port"),
    ("mach-priv-task-port", "target", "obtaining another task's port"),
    ("mach-register", "name", "registering a Mach service name"),
    ("mach-task*", "target", "every mach-task-* operation"),
    ("mach-task-inspect", "target", ""),
    ("mach-task-name", "target", ""),
    ("mach-task-read", "target", ""),
    ("mach-task-special-port*", "target", ""),
    ("mach-task-special-port-get", "target", ""),
    ("mach-task-special-port-set", "target", ""),
    ("necp-client-open", "none", "opening a network policy (NECP) client"),
    ("network*", "network", "every network-* operation"),
    ("network-inbound", "network", "receiving on a socket (accept, inbound traffic)"),
    ("network-bind", "network", "binding a socket to a local address"),
    ("network-outbound", "network", "connecting or sending to a remote address"),
    ("nvram*", "none", "every nvram-* operation"),
    ("nvram-delete", "none", ""),
    ("nvram-get", "none", ""),
    ("nvram-set", "none", ""),
    ("opendirectory-user-modify", "none", ""),
    ("process*", "none", "every process-* operation"),
    ("process-codesigning", "target", ""),
    ("process-exec*", "path", "executing a program (the `process-exec` spelling)"),
    ("process-exec-interpreter", "path", "executing a script's interpreter"),
    ("process-fork", "none", "forking"),
    ("process-info*", "target", "every process-info-* operation"),
    ("process-info-codesignature", "target", ""),
    ("process-info-dirtycontrol", "target", ""),
    ("process-info-ledger", "target", ""),
    ("process-info-listpids", "target", ""),
    ("process-info-rusage", "target", ""),
    ("process-info-pidinfo", "target", ""),
    ("process-info-pidfdinfo", "target", ""),
    ("process-info-pidfileportinfo", "target", ""),
    ("process-info-setcontrol", "target", ""),
    ("process-legacy-codesigning*", "target", ""),
    ("process-legacy-codesigning-blob-get", "target", ""),
    ("process-legacy-codesigning-cdhash-get", "target", ""),
    ("process-legacy-codesigning-entitlements-blob-get", "target", ""),
    ("process-legacy-codesigning-entitlements-der-blob-get", "target", ""),
    ("process-legacy-codesigning-identity-get", "target", ""),
    ("process-legacy-codesigning-status*", "target", ""),
    ("process-legacy-codesigning-status-get", "target", ""),
    ("process-legacy-codesigning-status-set", "target", ""),
    ("process-legacy-codesigning-teamid-get", "target", ""),
    ("process-legacy-codesigning-text-offset-get", "target", ""),
    ("pseudo-tty", "none", "allocating a pseudo-terminal"),
    ("signal", "target", "sending a signal"),
    ("socket-ioctl", "none", ""),
    ("socket-option*", "none", ""),
    ("socket-option-get", "none", ""),
    ("socket-option-set", "none", ""),
    ("syscall*", "none", "every syscall-* operation"),
    ("syscall-unix", "none", "making a BSD system call (filtered by number)"),
    ("syscall-mach", "none", "making a Mach trap"),
    ("syscall-mig", "none", "calling a kernel MIG routine"),
    ("sysctl*", "name", "every sysctl-* operation"),
    ("sysctl-read", "name", "reading a sysctl"),
    ("sysctl-write", "name", "writing a sysctl"),
    ("system*", "none", "every system-* operation"),
    ("system-acct", "none", ""),
    ("system-audit", "none", ""),
    ("system-automount", "none", ""),
    ("system-debug", "none", ""),
    ("system-fcntl", "none", ""),
    ("system-fsctl", "none", ""),
    ("system-info", "none", ""),
    ("system-kas-info", "none", ""),
    ("system-kext*", "none", ""),
    ("system-kext-load", "none", ""),
    ("system-kext-unload", "none", ""),
    ("system-kext-query", "none", ""),
    ("system-mac*", "none", ""),
    ("system-mac-label", "none", ""),
    ("system-mac-syscall", "none", ""),
    ("system-memorystatus-control", "none", ""),
    ("system-necp-client-action", "none", ""),
    ("system-nfssvc", "none", ""),
    ("system-package-check", "none", ""),
    ("system-privilege", "none", ""),
    ("system-reboot", "none", ""),
    ("system-sched", "none", ""),
    ("system-set-time", "none", ""),
    ("system-socket", "none", "creating a socket of a system domain (AF_SYSTEM, ...)"),
    ("system-suspend-resume", "none", ""),
    ("system-swap", "none", ""),
    ("user-preference*", "name", "every user-preference-* operation"),
    ("user-preference-read", "name", "reading preferences (a preference domain)"),
    ("managed-preference-read", "name", "reading managed preferences"),
    ("user-preference-write", "name", "writing preferences"),
    ("storage-class-map", "none", ""),
    ("process-exec-update-label", "path", ""),
    ("default-message-filter", "none", ""),
    ("iokit-async-external-method", "name", ""),
    ("iokit-external-method", "name", ""),
    ("iokit-external-trap", "name", ""),
    ("mach-message-send", "name", ""),
    ("xpc-message-send", "name", ""),
)

_OPS_LEGACY: tuple[tuple[str, str, str], ...] = (
    ("ipc-posix-shm-read*", "name", ""),
    ("ipc-posix-shm-read-metadata", "name", ""),
    ("mach-per-user-lookup", "name", ""),
    ("process-codesigning-status*", "target", ""),
    ("process-codesigning-status-get", "target", ""),
    ("process-codesigning-status-set", "target", ""),
    ("system-chud", "none", ""),
)

#: Spellings in common use that stand for a vocabulary entry (modelling assumption).
OPERATION_ALIASES: Mapping[str, str] = {
    "process-exec": "process-exec*",
    "iokit-open": "iokit-open*",
    "ipc-posix-shm": "ipc-posix-shm*",
    "ipc-posix-sem": "ipc-posix-sem*",
}

OPERATIONS: Mapping[str, OperationInfo] = {
    **{name: OperationInfo(name, summary, obj, (SNAPSHOT_14_4,)) for name, obj, summary in _OPS_14_4},
    **{name: OperationInfo(name, summary, obj, (SNAPSHOT_LEGACY,)) for name, obj, summary in _OPS_LEGACY},
}

VOCABULARY_14_4: frozenset[str] = frozenset(name for name, _, _ in _OPS_14_4)
LEGACY: frozenset[str] = frozenset(name for name, _, _ in _OPS_LEGACY)


def _derive_parents(names) -> dict[str, str]:
    """Closest wildcard above each name (see module docstring), 'default' at the top."""
    stems = sorted((n[:-1] for n in names if n.endswith("*")), key=len, reverse=True)
    parents: dict[str, str] = {}
    for name in names:
        if name == "default":
            continue
        own = name.removesuffix("*")
        parent = "default"
        for stem in stems:  # longest first
            if stem != own and own.startswith(stem):
                parent = stem + "*"
                break
        parents[name] = parent
    return parents


#: Operation -> the operation it falls back to (its closest wildcard, or "default").
PARENT: Mapping[str, str] = _derive_parents(OPERATIONS)

#: Operations that ``(deny default)`` leaves allowed unless a rule names them (with descendants).
NOT_COVERED_BY_DENY_DEFAULT: frozenset[str] = frozenset(
    name
    for name in OPERATIONS
    if name in ("file-map-executable", "dynamic-code-generation", "iokit-get-properties")
    or name in ("process-info*", "nvram*")
    or name.startswith(("process-info-", "nvram-"))
)


# ----------------------------------------------------------------------------- filters

_FILTERS_14_4: tuple[tuple[str, str], ...] = (
    ("path", "a file path (written literal / path / subpath / prefix / regex)"),
    ("mount-relative-path", ""),
    ("xattr", "an extended attribute name"),
    ("file-mode", "file permission bits"),
    ("ipc-posix-name", "a POSIX IPC object name"),
    ("global-name", "a Mach service name in the global bootstrap namespace"),
    ("local-name", "a Mach service name in the process-local namespace"),
    ("local", "the local address of a socket"),
    ("remote", "the remote address of a socket"),
    ("control-name", "a kernel control name (AF_SYSTEM sockets)"),
    ("socket-domain", "a socket domain (AF_...)"),
    ("socket-type", "a socket type"),
    ("socket-protocol", "a socket protocol number"),
    ("target", "the process a signal or process-info call is aimed at"),
    ("fsctl-command", ""),
    ("ioctl-command", ""),
    ("iokit-registry-entry-class", "an IOKit class"),
    ("iokit-property", "an IOKit registry property name"),
    ("iokit-connection", ""),
    ("device-major", ""),
    ("device-minor", ""),
    ("device-conforms-to", ""),
    ("extension", "a sandbox extension held by the process"),
    ("extension-class", ""),
    ("appleevent-destination", ""),
    ("system-attribute", ""),
    ("right-name", "an authorization right name"),
    ("preference-domain", "a preferences domain"),
    ("vnode-type", "the kind of file (REGULAR-FILE, DIRECTORY, SYMLINK, ...)"),
    ("%entitlement-load", "internal"),
    ("%entitlement-boolean", "internal"),
    ("%entitlement-string", "internal"),
    ("kext-bundle-id", ""),
    ("info-type", ""),
    ("notification-name", ""),
    ("notification-payload", ""),
    ("semaphore-owner", ""),
    ("sysctl-name", "a sysctl name"),
    ("process-path", ""),
    ("rootless-boot-device-filter", ""),
    ("rootless-disk-filter", ""),
    ("privilege-id", ""),
    ("process-attribute", ""),
    ("uid", ""),
    ("nvram-variable", ""),
    ("csr", ""),
    ("host-special-port", ""),
    ("filesystem-name", ""),
    ("boot-arg", ""),
    ("xpc-service-name", ""),
    ("signing-identifier", ""),
    ("signal-number", ""),
    ("target-signing-identifier", ""),
    ("reboot-flags", ""),
    ("datavault-disk-filter", ""),
    ("extension-path-ancestor", ""),
    ("file-attribute", ""),
    ("storage-class", ""),
    ("storage-class-extension", ""),
    ("iokit-usb-interface-class", ""),
    ("iokit-usb-interface-subclass", ""),
    ("ancestor-signing-identifier", ""),
    ("require-ancestor-with-entitlement", ""),
    ("persona-type", ""),
    ("syscall-number", ""),
    ("require-target-with-entitlement", ""),
    ("iokit-registry-entry-attribute", ""),
    ("user-intent-extension", ""),
    ("snapshot-name", ""),
    ("mach-derived-port-role", ""),
    ("message-number", ""),
    ("message-name", ""),
    ("iokit-method-number", ""),
    ("iokit-trap-number", ""),
    ("machtrap-number", ""),
    ("kernel-mig-routine", ""),
    ("iokit-user-client-type", ""),
    ("fcntl-command", ""),
    ("socket-option-level", ""),
    ("socket-option-name", ""),
    ("mac-policy-name", ""),
    ("mac-syscall-number", ""),
    ("necp-client-action", ""),
    ("memorystatus-control-command", ""),
    ("state-flag", ""),
    ("require-responsible-binary-with-entitlement", ""),
    ("%entitlement-is-bool-true", "internal"),
    ("%entitlement-is-present", "internal"),
    ("task-special-port", ""),
    ("fileprovider-syncroot-path", ""),
    ("mount-root-path", ""),
    ("codesigning-operation", ""),
    ("kas-info-selector", ""),
)

#: All 93 filter names of the macOS 14.4.1 table, internal ``%`` entries included.
FILTER_VOCABULARY_14_4: frozenset[str] = frozenset(name for name, _ in _FILTERS_14_4)

#: SBPL spellings that are not table names: (spelling, table entry, summary, modelled).
_FILTER_SPELLINGS: tuple[tuple[str, str | None, str, bool], ...] = (
    ("literal", "path", "exactly this path", True),
    ("subpath", "path", "this path and everything below it (directory boundary)", True),
    ("prefix", "path", "any path starting with this text (no directory boundary)", True),
    ("regex", "path", "any path a POSIX extended regex finds a match in", True),
    ("path-literal", "path", "older spelling of literal (seen inside unix-socket filters)", True),
    ("global-name-prefix", "global-name", "a global Mach name starting with this text", True),
    ("global-name-regex", "global-name", "a global Mach name a regex matches", True),
    ("local-name-prefix", "local-name", "a local Mach name starting with this text", True),
    ("local-name-regex", "local-name", "a local Mach name a regex matches", True),
    ("sysctl-name-prefix", "sysctl-name", "a sysctl name starting with this text", True),
    ("sysctl-name-regex", "sysctl-name", "a sysctl name a regex matches", True),
    ("xpc-service-name-prefix", "xpc-service-name", "", False),
    ("xpc-service-name-regex", "xpc-service-name", "", False),
    ("iokit-user-client-class", "iokit-registry-entry-class", "an IOKit user client class", False),
    ("entitlement-is-present", "%entitlement-is-present", "", False),
    ("entitlement-is-bool-true", "%entitlement-is-bool-true", "", False),
)

_MODELLED_TABLE_FILTERS = frozenset(
    {"path", "global-name", "local-name", "local", "remote", "target", "vnode-type", "sysctl-name", "preference-domain"}
)

FILTERS: Mapping[str, FilterInfo] = {
    **{
        name: FilterInfo(name, summary, name, name in _MODELLED_TABLE_FILTERS)
        for name, summary in _FILTERS_14_4
        if not name.startswith("%")
    },
    **{
        name: FilterInfo(name, summary, table, modelled, ("public profiles",))
        for name, table, summary, modelled in _FILTER_SPELLINGS
    },
}

#: Filters that combine filters.
METAFILTERS: frozenset[str] = frozenset({"require-any", "require-all", "require-not"})

#: Rule modifiers written ``(with NAME ...)``; the evaluator records them all and
#: interprets report / no-log / send-signal / message.
MODIFIERS: frozenset[str] = frozenset(
    {
        "report", "no-report", "no-log", "send-signal", "message", "deprecated",
        "rootless", "user-approval", "file-approval-override", "no-times",
    }
)

VNODE_TYPES: frozenset[str] = frozenset(
    {"REGULAR-FILE", "DIRECTORY", "SYMLINK", "CHARACTER-DEVICE", "BLOCK-DEVICE", "FIFO", "SOCKET", "TTY"}
)
SIGNAL_TARGETS: frozenset[str] = frozenset({"self", "pgrp", "others", "children", "same-sandbox"})
#: Protocol words of local/remote filters; ip/tcp/udp are modelled, the rest are opaque
#: except unix/unix-socket, which never match a tcp/udp request.
NETWORK_PROTOCOLS: frozenset[str] = frozenset(
    {"ip", "tcp", "udp", "ip4", "ip6", "tcp4", "tcp6", "udp4", "udp6", "unix", "unix-socket"}
)

#: Forms the evaluator gives special meaning to (not procedures).
SPECIAL_FORMS: frozenset[str] = frozenset(
    {
        "version", "allow", "deny", "define", "lambda", "let", "let*", "letrec", "if", "cond", "when",
        "unless", "and", "or", "begin", "quote", "import", "debug", "with", "else",
    }
)

#: Scheme procedures the evaluator provides.
PROCEDURES: frozenset[str] = frozenset(
    {
        "param", "string-append", "string=?", "string?", "string-length", "string-prefix?",
        "string-suffix?", "equal?", "eq?", "eqv?", "not", "list", "cons", "car", "cdr", "append", "null?",
        "pair?", "list?", "length", "apply", "map", "for-each", "number->string", "symbol->string",
        "string->symbol", "boolean?", "symbol?", "number?", "procedure?", "+", "-", "=", "<", ">",
        "positive?", "param-true?", "_IO", "_IOR", "_IOW", "_IOWR",
    }
)


# ----------------------------------------------------------------------------- helpers


def operation_names() -> frozenset[str]:
    """Every operation name lint accepts: vocabulary, legacy and aliases."""
    return frozenset(OPERATIONS) | frozenset(OPERATION_ALIASES)


def filter_names() -> frozenset[str]:
    """Every filter spelling lint accepts (metafilters included)."""
    return frozenset(FILTERS) | METAFILTERS


def is_operation(name: str) -> bool:
    return name in OPERATIONS or name in OPERATION_ALIASES


def canonical_operation(name: str) -> str:
    """The catalog entry a spelling stands for (aliases resolved); KeyError if unknown."""
    if name in OPERATIONS:
        return name
    return OPERATION_ALIASES[name]


def ancestors(name: str) -> tuple[str, ...]:
    """``name`` (canonical) followed by each fallback above it, ending with 'default'."""
    name = canonical_operation(name)
    chain = [name]
    while name != "default":
        name = PARENT[name]
        chain.append(name)
    return tuple(chain)


def covers(rule_operation: str, operation: str) -> bool:
    """Whether a rule naming ``rule_operation`` applies to ``operation`` (both spellings)."""
    return canonical_operation(rule_operation) in ancestors(operation)


def is_covered_by_default(operation: str) -> bool:
    """False for operations ``(deny default)`` leaves allowed (see module docstring)."""
    return canonical_operation(operation) not in NOT_COVERED_BY_DENY_DEFAULT


def object_kind(operation: str) -> str:
    """Which Request field names the object of ``operation``: path | network | target | name | none."""
    return OPERATIONS[canonical_operation(operation)].object
