"""The file is not UTF-8 text, or contains a NUL byte.

What it does
------------
Reports the first byte that is not valid UTF-8, or a NUL character, with its line and
column.

Why is this bad?
----------------
Policy files are text; a binary or mis-encoded file is not what its author thinks it is.

Example
-------
A file saved as Latin-1 whose comment contains the byte 0xe9 (an accented letter).

Use instead
-----------
The same file saved as UTF-8.
"""
