"""What every fuzzer in tests/fuzz checks, in one place.

* ``fuzz_settings(n)``: hypothesis settings bounded for CI (``n`` examples);
  ``AWPOLICY_FUZZ_EXAMPLES=N`` runs N examples per fuzzer instead (local soak).
* ``time_bound(seconds)``: an example that runs longer is a hang, reported as one.
* ``check_rejection(error, file)``: every diagnostic has an AWP code and a location.
"""

from __future__ import annotations

import os
import re
import signal
from contextlib import contextmanager

from hypothesis import HealthCheck, settings

#: Seconds one example may take before it counts as a hang (generous: CI machines are shared).
EXAMPLE_SECONDS = float(os.environ.get("AWPOLICY_FUZZ_SECONDS", "10"))


def fuzz_settings(examples: int) -> settings:
    scaled = os.environ.get("AWPOLICY_FUZZ_EXAMPLES")
    return settings(
        max_examples=int(scaled) if scaled else examples,
        deadline=None,  # wall-clock bounds are time_bound's job; the CI machine's load is not a bug
        database=None,  # no .hypothesis/ in the checkout
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                               HealthCheck.function_scoped_fixture],
    )


class Hang(BaseException):
    """Raised by the alarm; a BaseException so no ``except Exception`` in the code under test hides it."""


@contextmanager
def time_bound(what: str, seconds: float = EXAMPLE_SECONDS):
    def alarm(signum, frame):
        raise Hang(f"{what} ran for more than {seconds}s (a hang on fuzzed input)")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


CODE = re.compile(r"AWP[0-9]{3}")


def check_rejection(error, file: str | None, text: str | None = None) -> None:
    """A PolicyError that a user can act on: each diagnostic has a code, a message and a location
    (in ``file``; any named file when None)."""
    assert error.diagnostics, "a rejection without a diagnostic"
    for d in error.diagnostics:
        assert CODE.fullmatch(d.code), d
        assert d.message and isinstance(d.message, str), d
        assert d.span.file == file if file is not None else d.span.file, (d.span.file, file)
        assert d.span.line >= 1 and d.span.col >= 1, d
        if text is not None:
            # YAML also breaks lines at \r, \x85, \u2028, \u2029: count lines as splitlines() does
            assert d.span.line <= len(text.splitlines()) + 2, (d.span, "a line past the end of the input")


def mutate_text(data, text: str, tokens: list[str]) -> str:
    """A few random edits of ``text`` (hypothesis ``data``): deletions, duplications, inserted tokens."""
    from hypothesis import strategies as st

    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        n = len(text)
        i = data.draw(st.integers(0, n), label="at")
        j = data.draw(st.integers(i, min(n, i + 40)), label="to")
        action = data.draw(st.sampled_from(["delete", "duplicate", "insert", "replace"]), label="action")
        if action == "delete":
            text = text[:i] + text[j:]
        elif action == "duplicate":
            text = text[:j] + text[i:j] + text[j:]
        else:
            piece = data.draw(st.one_of(st.sampled_from(tokens), st.text(max_size=8)), label="piece")
            text = text[:i] + piece + (text[i:] if action == "insert" else text[j:])
    return text


def json_paths(value, prefix: tuple = ()):
    """Every place in a JSON-like value, as the tuple of keys and indexes that reaches it (root first)."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from json_paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from json_paths(item, (*prefix, i))
