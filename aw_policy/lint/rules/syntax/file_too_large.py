"""The file is larger than a policy source may be (4 MiB).

What it does
------------
Reports policy files over the size limit before reading them.

Why is this bad?
----------------
No real policy is that large; a huge input is a mistake or an attempt to exhaust the
compiler.

Example
-------
A generated policy of 5 MiB in one file.

Use instead
-----------
Split the policy into files joined with include, or generate fewer, broader rules.
"""
