"""A network host:port or mach service name is malformed.

What it does
------------
Reports hosts that are not valid names or addresses, ports outside 1-65535, and bad
wildcards.

Why is this bad?
----------------
A target that matches nothing silently grants or denies nothing.

Example
-------
    # file: policy.awp
    scope project
    net { allow connect "localhost:99999" }

Use instead
-----------
    # file: policy.awp
    scope project
    net { allow connect "localhost:9999" }
"""
