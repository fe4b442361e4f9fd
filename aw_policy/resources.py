"""Locate data files (grammars, templates, schemas) in both layouts we ship.

* Installed wheel: ``pyproject.toml`` maps ``grammar/`` to the package
  ``aw_policy.grammar`` (and likewise ``templates``, ``schemas``), so the files
  sit next to this module: ``<site-packages>/aw_policy/grammar/sbpl.lark``.
* Source tree: the folders live at the repository root, one level above the
  ``aw_policy`` package: ``<repo>/grammar/sbpl.lark``.

The installed layout is tried first. This module finds its own directory from
``__file__`` rather than ``aw_policy.__file__`` so it also works while
``aw_policy`` is a namespace package (no ``__init__.py``).
"""

from __future__ import annotations

from pathlib import Path

KINDS = ("grammar", "templates", "schemas")

_PACKAGE_DIR = Path(__file__).resolve().parent


def resource_path(kind: str, name: str) -> Path:
    """Path of the data file ``name`` of the given ``kind`` ("grammar", "templates", "schemas").

    Returns the installed-layout path when that file exists, else the
    source-tree path (which may not exist; callers report that themselves).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown resource kind {kind!r}; expected one of {', '.join(KINDS)}")
    if not name or Path(name).is_absolute() or ".." in Path(name).parts:
        raise ValueError(f"invalid resource name {name!r}")
    installed = _PACKAGE_DIR / kind / name
    if installed.exists():
        return installed
    return _PACKAGE_DIR.parent / kind / name
