"""User regexes run with RE2 semantics: catastrophic patterns are linear, what RE2 cannot compile is refused."""

from __future__ import annotations

import pytest

from portico.core.regex import RegexError, UserRegex
from tests.unit.hardening.timing import best_of


@pytest.mark.parametrize("pattern", [r"(a+)+b", r"(a|aa)+b", r"(a*)*b", r"(.*a){20}b", r"^(([a-z])+.)+[A-Z]([a-z])+$"])
def test_catastrophic_patterns_run_in_linear_time(pattern: str) -> None:
    regex = UserRegex(pattern)
    subject = "a" * 10_000 + "!"
    assert not regex.matches(subject)
    assert best_of(5, lambda: regex.matches(subject)) < 0.010


@pytest.mark.parametrize("pattern", [r"(a)\1", r"(?=a)b", r"(?<!a)b", r"a++", "[", r"\Z"])
def test_what_re2_cannot_compile_is_refused(pattern: str) -> None:
    with pytest.raises(RegexError, match="RE2"):
        UserRegex(pattern)


def test_groups_substitution_and_case() -> None:
    regex = UserRegex(r"/v(\d+)/(.*)")
    assert regex.fullmatch("/v12/ünï") == ("12", "ünï")
    assert regex.fullmatch("/x/v12/a") is None  # full match, as Istio's StringMatch and route pathRegex
    assert regex.sub(r"/api/\2?v=\1", "/v3/orders") == "/api/orders?v=3"
    assert UserRegex("(a)|(b)").fullmatch("b") == ("", "b")
    assert UserRegex("abc", ignore_case=True).matches("AbC")
    assert not UserRegex("abc").matches("AbC")
