"""Every construct of the language, written once in the DSL and once in YAML (shared by tests)."""

# Each case: one construct written in the DSL and in YAML.
CASES = {
    "scope-and-default": (
        'scope org\ndefault deny\n',
        "scope: org\ndefault: deny\n",
    ),
    "class-defaults": (
        "fs { default prompt }\nnet { default allow }\n",
        "default:\n  fs: prompt\n  net: allow\n",
    ),
    "fs-subtree-literal-glob": (
        'fs { allow read,write "/usr" literal "/etc/hosts" glob "${WORKSPACE}/**/*.py" }\n',
        ('fs:\n  - allow: [read, write]\n    paths: ["/usr"]\n    literal: ["/etc/hosts"]\n'
        '    glob: ["${WORKSPACE}/**/*.py"]\n'),
    ),
    "fs-kind-keyword-applies-to-following-paths": (
        'fs { allow read "/usr" "/opt" literal "/" "/dev" glob "/a/*.c" "/b/*.h" }\n',
        ('fs:\n  - allow: read\n    literal: ["/", "/dev"]\n    glob: ["/a/*.c", "/b/*.h"]\n'
        '    paths: ["/usr", "/opt"]\n'),
    ),
    "fs-enforce-audit": (
        'fs { enforce audit deny read "~/.ssh" }\n',
        'fs:\n  - deny: read\n    paths: ["~/.ssh"]\n    enforce: true\n    audit: true\n',
    ),
    "fs-prompt-exec": (
        'fs { prompt exec "/opt/tools" }\n',
        'fs:\n  - prompt: exec\n    paths: ["/opt/tools"]\n',
    ),
    "exec-block": (
        'exec { allow "/usr/bin" "/bin" }\nexec { prompt "*" }\n',
        'exec:\n  - allow: ["/usr/bin", "/bin"]\n  - prompt: "*"\n',
    ),
    "net-connect-bind": (
        'net { allow connect,bind "localhost:*"; prompt connect "*.github.com:443" }\n',
        ('net:\n  - allow: [connect, bind]\n    hosts: ["localhost:*"]\n'
        '  - prompt: connect\n    hosts: ["*.github.com:443"]\n'),
    ),
    "signal": (
        "signal { allow same-sandbox children; deny others }\n",
        "signal:\n  - allow: [same-sandbox, children]\n  - deny: others\n",
    ),
    "mach": (
        'mach { allow "com.apple.SecurityServer" "com.apple.cfprefsd.*" }\n',
        'mach:\n  - allow: ["com.apple.SecurityServer", "com.apple.cfprefsd.*"]\n',
    ),
    "include-and-params": (
        'include "linux-base"\ninclude "./more.awp"\nparam CACHE = "${HOME}/.cache"\nparam TOKEN_DIR\n',
        'include: ["linux-base", "./more.awp"]\nparams:\n  CACHE: "${HOME}/.cache"\n  TOKEN_DIR: null\n',
    ),
    "branch": (
        ('branch "agent" { base "${WORKSPACE}"; cow; hide "${WORKSPACE}/.env"; '
        'readonly "${WORKSPACE}/.git/hooks"; on-exit keep; parent "main" }\n'),
        ('branch:\n  agent:\n    base: "${WORKSPACE}"\n    cow: true\n    hide: ["${WORKSPACE}/.env"]\n'
        '    readonly: ["${WORKSPACE}/.git/hooks"]\n    on_exit: keep\n    parent: main\n'),
    ),
    "env": (
        'env { HOME = "${WORKSPACE}/.awpolicy/home"; pass GITHUB_TOKEN LANG }\n',
        'env:\n  set:\n    HOME: "${WORKSPACE}/.awpolicy/home"\n  pass: [GITHUB_TOKEN, LANG]\n',
    ),
}
