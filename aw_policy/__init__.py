"""awpolicy: one declarative sandbox policy for AI coding agents.

Kept import-free on purpose: `awpolicy run` and `awpolicy lint` start fast only
if importing the package costs nothing.
"""

__version__ = "0.1.0"
