"""User regexes with RE2 semantics, as Istio and Envoy run them: linear time, and what RE2 cannot compile is refused.

Every regex a user writes (route paths, header and query matches, VirtualService StringMatch, rewrites) is compiled
here. RE2 has no backreferences or lookaround, so `(a+)+b` cannot backtrack: matching is linear in the input, and
one bad pattern cannot stall every other request of the process. Patterns are compiled in bytes mode over UTF-8:
the binding's str mode converts character offsets on every call, which costs five times the match itself.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

MAX_PATTERN_LENGTH = 4096


@functools.cache
def _re2() -> Any:
    """The binding, imported on the first pattern: configs without regexes (most sidecars) skip its ~3 MB and 6 ms."""
    import re2

    return re2


class RegexError(ValueError):
    """A pattern RE2 does not accept; the message is RE2's reason."""


def _options(ignore_case: bool) -> Any:
    options = _re2().Options()
    options.log_errors = False  # RE2 would print each refused pattern to stderr; we raise instead
    options.case_sensitive = not ignore_case
    return options


class UserRegex:
    """One compiled user pattern. Matching is RE2's: full-match means the whole value, as in Istio's StringMatch."""

    __slots__ = ("_compiled", "pattern")

    def __init__(self, pattern: str, *, ignore_case: bool = False) -> None:
        if len(pattern) > MAX_PATTERN_LENGTH:
            raise RegexError(f"invalid regex: longer than {MAX_PATTERN_LENGTH} characters")
        self.pattern = pattern
        re2 = _re2()
        try:
            self._compiled = re2.compile(pattern.encode("utf-8"), _options(ignore_case))
        except re2.error as exc:
            reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else exc
            raise RegexError(f"invalid regex {pattern!r} (RE2 syntax): {reason}") from None

    @property
    def groups(self) -> int:
        return int(self._compiled.groups)

    def fullmatch(self, text: str) -> tuple[str, ...] | None:
        """The capture groups ('' for one that did not take part) when the whole of `text` matches, else None."""
        found = self._compiled.fullmatch(text.encode("utf-8", "surrogateescape"))
        if found is None:
            return None
        return tuple(g.decode("utf-8", "surrogateescape") for g in found.groups(default=b""))

    def search(self, text: str) -> bool:
        """True when the pattern matches anywhere in `text` (JSON Schema's `pattern` is unanchored, as ECMA-262).

        Runs once per string a schema checks, so it asks RE2 for the match span directly: the binding's `search`
        builds a generator and a Match object per call, which costs twice the match itself.
        """
        data = text.encode("utf-8", "surrogateescape")
        binding = _re2()
        if hasattr(binding, "_Anchor") and hasattr(binding, "_NULL_SPAN"):  # google-re2 1.x's span matcher
            spans = self._compiled._regexp.Match(binding._Anchor.UNANCHORED, data, 0, len(data))
            return bool(spans[0] != binding._NULL_SPAN)
        return self._compiled.search(data) is not None

    def searcher(self) -> Callable[[str], bool]:
        """`search` with the binding's matcher, anchor and sentinel bound once: for a caller that keeps the pattern
        and runs it on every request (request validation's `pattern` keywords), where the lookups in `search` cost
        as much as the match."""
        binding = _re2()
        compiled = self._compiled
        if not (hasattr(binding, "_Anchor") and hasattr(binding, "_NULL_SPAN")):
            return self.search
        match, unanchored, null = compiled._regexp.Match, binding._Anchor.UNANCHORED, binding._NULL_SPAN

        def search(text: str) -> bool:
            data = text.encode("utf-8", "surrogateescape")
            return bool(match(unanchored, data, 0, len(data))[0] != null)

        return search

    def matches(self, text: str) -> bool:
        return self._compiled.fullmatch(text.encode("utf-8", "surrogateescape")) is not None

    def sub(self, substitution: str, text: str) -> str:
        """Replace every match; `\\1` in the substitution names a group, as Envoy's regex_rewrite and Python do."""
        out = self._compiled.sub(substitution.encode("utf-8"), text.encode("utf-8", "surrogateescape"))
        return str(out.decode("utf-8", "surrogateescape"))


def check_regex(pattern: str) -> None:
    """Raise ValueError (for pydantic) unless RE2 compiles `pattern`."""
    UserRegex(pattern)
