"""A named file does not exist, is a directory, or cannot be read.

What it does
------------
Reports a path given to awpolicy that cannot be read as a policy file.

Why is this bad?
----------------
The policy you meant to check was not checked at all.

Example
-------
awpolicy lint polcy/project.awp (a typo in the path).

Use instead
-----------
awpolicy lint policy/project.awp
"""
