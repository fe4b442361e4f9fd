"""Lint results as text (with rich colour on a terminal), JSON, SARIF 2.1.0 and GitHub annotations.

Rendering happens only here, at the edge; rich is imported only for text written
to a terminal, the rule docs only for SARIF (which carries each rule's help).
"""

from __future__ import annotations

import json
from urllib.parse import quote

from aw_policy.diagnostics import Severity, render_json, render_text

FORMATS = ("text", "json", "sarif", "github")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
GITHUB_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def render(result, fmt: str, *, color: bool = False) -> str:
    if fmt == "json":
        return render_json(result.diagnostics)
    if fmt == "sarif":
        return json.dumps(sarif(result), indent=2, sort_keys=True) + "\n"
    if fmt == "github":
        return github(result.diagnostics)
    return text(result, color=color)


def summary(result) -> str:
    counts = {s: sum(d.severity == s for d in result.diagnostics) for s in Severity}
    parts = [f"{n} {s.value}{'s' if n != 1 else ''}" for s, n in counts.items() if n]
    fixed = f", {len(result.fixed)} file(s) fixed" if result.fixed else ""
    return f"{len(result.files)} file(s) checked: {', '.join(parts) or 'no findings'}{fixed}"


# --------------------------------------------------------------------------- text


def text(result, *, color: bool = False) -> str:
    body = render_text(result.diagnostics, result.sources)
    body += "".join(result.diffs[name] for name in sorted(result.diffs))
    if not color or not body:
        return body
    return _colored(body)


def _colored(body: str) -> str:
    """The plain text with severities, carets and diffs coloured (rich markup, rendered to ANSI)."""
    import re

    from rich.console import Console
    from rich.text import Text

    styles = {"error": "bold red", "warning": "bold yellow", "info": "bold cyan"}
    header = re.compile(r"^\S.*?: (error|warning|info)\[AWP\d{3}\]: ")
    console = Console(force_terminal=True, soft_wrap=True, highlight=False)
    with console.capture() as captured:
        for line in body.splitlines():
            style = ""
            if line.startswith(("+", "-")) and not line.startswith(("+++", "---")):
                style = "green" if line.startswith("+") else "red"
            elif line.lstrip().startswith("|") and "^" in line:
                style = "bold red"
            elif line.startswith("  = "):
                style = "dim"
            elif header.match(line):
                style = styles[header.match(line).group(1)]
            console.print(Text(line, style=style))
    return captured.get()


# --------------------------------------------------------------------------- GitHub


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def github(diagnostics) -> str:
    """Workflow commands: ``::error file=F,line=L,col=C,...,title=CODE::message``."""
    out = []
    for d in diagnostics:
        props = [f"file={_escape_property(d.span.file)}", f"line={d.span.line}", f"col={d.span.col}"]
        if d.span.end_line:
            props.append(f"endLine={d.span.end_line}")
        if d.span.end_col and d.span.end_line == d.span.line:
            props.append(f"endColumn={d.span.end_col}")
        props.append(f"title={_escape_property(d.code)}")
        message = d.message + (f"\n{d.hint}" if d.hint else "")
        out.append(f"::{GITHUB_LEVEL[d.severity]} {','.join(props)}::{_escape_data(message)}")
    return "".join(line + "\n" for line in out)


# --------------------------------------------------------------------------- SARIF


def _location(span, message: str | None = None) -> dict:
    region = {"startLine": max(1, span.line), "startColumn": max(1, span.col)}
    if span.end_line:
        region["endLine"] = span.end_line
        if span.end_col:
            region["endColumn"] = span.end_col
    # the file name's own bytes, percent-encoded: an undecodable name (a surrogate escape) too
    uri = quote(span.file.replace("\\", "/").encode("utf-8", "surrogateescape"), safe="/:")
    artifact = {"uri": uri}
    if not span.file.startswith("/") and ":" not in span.file.split("/")[0]:
        artifact["uriBaseId"] = "%SRCROOT%"
    location = {"physicalLocation": {"artifactLocation": artifact, "region": region}}
    if message:
        location["message"] = {"text": message}
    return location


def _rule(code: str) -> dict:
    from aw_policy.lint import registry

    spec = registry.get(code)
    if spec is None:  # codes from other stages (bundle 6xx): still a valid rule entry
        return {"id": code, "shortDescription": {"text": code}}
    docs = spec.docs
    return {
        "id": code,
        "name": "".join(w.capitalize() for w in spec.name.split("-")),
        "shortDescription": {"text": spec.summary},
        "fullDescription": {"text": spec.section("What it does") or spec.summary},
        "help": {"text": docs, "markdown": docs},
        "defaultConfiguration": {"level": SARIF_LEVEL[spec.severity]},
        "properties": {"tags": [spec.category], "awpolicy-name": spec.name},
    }


def sarif(result) -> dict:
    from aw_policy import __version__

    codes = sorted({d.code for d in result.diagnostics})
    index = {code: i for i, code in enumerate(codes)}
    results = []
    for d in result.diagnostics:
        entry = {
            "ruleId": d.code,
            "ruleIndex": index[d.code],
            "level": SARIF_LEVEL[d.severity],
            "message": {"text": d.message + (f" (hint: {d.hint})" if d.hint else "")},
            "locations": [_location(d.span)],
        }
        if d.related:
            entry["relatedLocations"] = [dict(_location(span, msg), id=i) for i, (msg, span) in
                                         enumerate(d.related)]
        results.append(entry)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "awpolicy",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": [_rule(code) for code in codes],
            }},
            "columnKind": "unicodeCodePoints",
            "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "the directory awpolicy ran in"}}},
            "results": results,
        }],
    }
