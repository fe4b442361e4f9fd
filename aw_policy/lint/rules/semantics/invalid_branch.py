"""A branch is defined twice, names an unknown parent, or hides a path outside its base.

What it does
------------
Reports branch blocks that cannot be realized.

Why is this bad?
----------------
The copy-on-write branch the agent works in would not be what the policy says.

Example
-------
    # file: policy.awp
    scope project
    branch "agent" {
      base "${WORKSPACE}"
      hide "~/.ssh"
    }

Use instead
-----------
    # file: policy.awp
    scope project
    branch "agent" {
      base "${WORKSPACE}"
      hide "${WORKSPACE}/.env"
    }
"""
