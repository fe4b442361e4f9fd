"""A large profile in the shape of vendor profiles (system services, agents, browsers).

Written for these tests in our own words: every section uses the constructs
that big published profiles lean on (helper defines over params, lists of
paths mapped through filters, conditionals on params, long mach-lookup lists,
sysctl and IOKit rules, require-* combinators, regexes, modifiers, block
comments, quoted lists), with names made up here. ``PARAMS`` fills every
param it reads and ``IMPORTS`` holds the one profile it imports.
"""

from __future__ import annotations

PARAMS = {
    "HOME": "/Users/agent",
    "WORKSPACE": "/Users/agent/work",
    "TMPDIR": "/private/var/folders/zz/T",
    "ENABLE_DEBUG": "NO",
    "BUNDLE": "/Applications/Example.app",
}

IMPORTS = {
    "example-base.sb": """;; the shared base every service imports
(version 1)
(deny default)
(allow process-fork)
(allow sysctl-read (sysctl-name "hw.ncpu") (sysctl-name-prefix "kern.os"))
(allow file-read* (subpath "/usr/lib") (subpath "/System/Library/Frameworks"))
""",
}

_HEADER = """;;
;; Example service profile (generated for the awpolicy test suite).
;;
#| This block comment spans
   several lines and holds ( unbalanced parens ) and "quotes" that the
   reader must skip. |#
(version 1)
(import "example-base.sb")
(debug deny)

(define (home-path rel) (string-append (param "HOME") rel))
(define (home-subpath rel) (subpath (home-path rel)))
(define (home-literal rel) (literal (home-path rel)))
(define (workspace-subpath rel) (subpath (string-append (param "WORKSPACE") rel)))
(define (allow-read-all . filters) (apply allow file-read* filters))
(define (global-names . names) (apply require-any (map global-name names)))
(define debug-enabled (equal? (param "ENABLE_DEBUG") "YES"))
(define system-roots '("/usr/share" "/System/Library/CoreServices" "/Library/Preferences"))

; a profile may redefine a builtin; denials first for what (deny default) leaves open
(define (param-true? name) (string=? (param name) "YES"))
(define quiet-denials "ENABLE_DEBUG")
(if (param-true? quiet-denials)
  (deny iokit-get-properties process-info* nvram* (with no-log))
  (deny iokit-get-properties process-info* nvram*))
(allow process-info-pidinfo)
(allow process-info-setcontrol (target self))
"""

_SECTION = """
;; ---------------------------------------------------------------- section {i}
(allow file-read*
  (home-subpath "/Library/Caches/com.example.svc{i}")
  (literal "/usr/share/example/{i}.dat")
  (regex #"^/private/var/db/example{i}/[^/]+\\.plist$"))
(allow file-read-metadata (literal "/") (literal "/private") (vnode-type DIRECTORY SYMLINK))
(allow file-write*
  (require-all
    (workspace-subpath "/out{i}")
    (require-not (regex #"^/Users/agent/work/out{i}/\\.git(/|$)"))
    (require-any (vnode-type REGULAR-FILE) (vnode-type DIRECTORY))))
(deny file-write* (home-subpath "/.ssh{i}") (with report))
(apply allow-read-all (map subpath system-roots))
(allow mach-lookup
  (global-names "com.example.svc{i}.agent" "com.example.svc{i}.helper")
  (global-name-prefix "com.example.shared{i}.")
  (local-name "com.example.local{i}"))
(allow ipc-posix-shm-read-data (ipc-posix-name "example.shm.{i}"))
(allow iokit-open (iokit-user-client-class "ExampleUserClient{i}"))
(allow sysctl-read (sysctl-name "kern.example{i}") (sysctl-name-regex #"^hw\\.example{i}\\."))
(allow network-outbound (remote tcp "localhost:{port}") (remote udp "*:53"))
(allow network-bind (local ip "localhost:{port}"))
(deny network-outbound (remote tcp "*:{port2}") (with send-signal SIGKILL))
(allow signal (target children))
(deny process-info* (target others) (with no-log))
(let ((cache (string-append (param "TMPDIR") "/svc{i}")))
  (allow file-read* file-write* (subpath cache)))
(if debug-enabled
  (allow process-exec (literal "/usr/bin/lldb"))
  (deny process-exec (literal "/usr/bin/lldb") (with report)))
(when (string-prefix? "/Applications" (param "BUNDLE"))
  (allow file-read* (subpath (string-append (param "BUNDLE") "/Contents/Resources{i}"))))
(cond ((equal? {i} 0) (allow user-preference-read (preference-domain "com.example")))
      (else (allow user-preference-read (preference-domain "com.example.svc{i}"))))
"""


def vendor_like_profile(sections: int = 120) -> str:
    """About 40 lines per section: 120 sections is about 4,900 lines."""
    parts = [_HEADER]
    for i in range(sections):
        parts.append(_SECTION.format(i=i, port=20000 + i, port2=30000 + i))
    return "".join(parts)
