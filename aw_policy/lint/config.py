"""Lint configuration: ``[tool.awpolicy]`` in ``pyproject.toml`` or a ``.awpolicy.toml``.

The first of these found walking up from the working directory is used
(``.awpolicy.toml`` before ``pyproject.toml`` in the same folder; a
``pyproject.toml`` without a ``[tool.awpolicy]`` table is skipped). Keys, all
optional; command-line options override them::

    [tool.awpolicy]
    select = ["AWP1", "risk"]        # codes, code prefixes, categories or rule names
    ignore = ["AWP303"]
    fail-level = "warning"           # error (default) | warning | info
    landlock-abi = 4                 # oldest Landlock ABI your Linux machines have (default 4)
    interactive = false              # no supervisor ever answers prompts (CI agents)
    proxy = true                     # agents run with the domain-filtering proxy
    params = { WORKSPACE = "/src" }  # reference binding for params without defaults

In ``.awpolicy.toml`` the same keys sit at the top level (or under
``[tool.awpolicy]``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

FAIL_LEVELS = ("error", "warning", "info")
_KEYS = {"select", "ignore", "fail-level", "landlock-abi", "interactive", "params", "extend-ignore", "proxy"}


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message names the file and key."""


@dataclass(frozen=True)
class Config:
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    fail_level: str = "error"
    landlock_abi: int = 4
    interactive: bool = True
    proxy: bool = False
    params: dict[str, str] = field(default_factory=dict)
    path: str | None = None  # the file it came from

    def enabled(self, code: str) -> bool:
        from aw_policy.lint import registry

        if self.select and not registry.matches(code, self.select):
            return False
        return not registry.matches(code, self.ignore)

    def override(self, **changes) -> Config:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def find_config(start: Path | None = None) -> Path | None:
    here = (start or Path.cwd()).absolute()
    for folder in (here, *here.parents):
        dotfile = folder / ".awpolicy.toml"
        if dotfile.is_file():
            return dotfile
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and b"[tool.awpolicy" in pyproject.read_bytes():
            return pyproject
    return None


def load_config(path: Path | None = None, *, search: bool = True) -> Config:
    """Read the configuration file ``path`` (or the one found from the cwd)."""
    if path is None:
        path = find_config() if search else None
        if path is None:
            return Config()
    import tomllib

    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    table = data.get("tool", {}).get("awpolicy")
    if table is None:
        table = {} if Path(path).name == "pyproject.toml" else {k: v for k, v in data.items() if k != "tool"}
    return _from_table(table, str(path))


def _from_table(table: dict, where: str) -> Config:
    from aw_policy.diagnostics import did_you_mean

    for key in table:
        if key not in _KEYS:
            hint = did_you_mean(key, _KEYS)
            raise ConfigError(f"{where}: unknown key {key!r}" + (f"; {hint}" if hint else ""))

    def codes(key: str) -> tuple[str, ...]:
        value = table.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: {key} must be a list of codes, prefixes or categories")
        return tuple(value)

    fail_level = table.get("fail-level", "error")
    if fail_level not in FAIL_LEVELS:
        raise ConfigError(f"{where}: fail-level must be one of {', '.join(FAIL_LEVELS)}")
    abi = table.get("landlock-abi", 4)
    if not isinstance(abi, int) or isinstance(abi, bool) or abi < 1:
        raise ConfigError(f"{where}: landlock-abi must be a positive integer")
    interactive = table.get("interactive", True)
    if not isinstance(interactive, bool):
        raise ConfigError(f"{where}: interactive must be true or false")
    proxy = table.get("proxy", False)
    if not isinstance(proxy, bool):
        raise ConfigError(f"{where}: proxy must be true or false")
    params = table.get("params", {})
    if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
        raise ConfigError(f"{where}: params must be a table of NAME = \"VALUE\"")
    return Config(
        select=codes("select"), ignore=codes("ignore") + codes("extend-ignore"), fail_level=fail_level,
        landlock_abi=abi, interactive=interactive, proxy=proxy, params=dict(params), path=where,
    )


def split_codes(values) -> tuple[str, ...]:
    """``--select AWP1,risk --select AWP401`` -> ("AWP1", "risk", "AWP401")."""
    out: list[str] = []
    for value in values or ():
        out += [v.strip() for v in value.split(",") if v.strip()]
    return tuple(out)
