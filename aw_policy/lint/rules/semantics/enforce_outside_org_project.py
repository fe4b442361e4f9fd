"""`enforce` is used in a user or session policy.

What it does
------------
Reports rules marked enforce in a layer other than org or project.

Why is this bad?
----------------
Only org and project policies can pin a rule against inner layers; in a user or session
layer the keyword would promise something that does not hold.

Example
-------
    # file: policy.awp
    scope user
    fs { enforce deny read "~/.ssh" }

Use instead
-----------
    # file: policy.awp
    scope user
    fs { deny read "~/.ssh" }
"""
