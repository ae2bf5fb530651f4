"""Fail-open warnings: one per policy per interval, and the next one counts every failure in between."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from portico.core.quota.failopen import FailOpenWarnings


def test_first_failure_warns_then_the_interval_is_quiet_and_the_next_warning_counts_the_rest() -> None:
    book = FailOpenWarnings(interval=10.0)
    assert book.due("standard", 100.0) == 1
    assert [book.due("standard", 100.0 + i) for i in range(1, 10)] == [None] * 9
    assert book.due("standard", 110.0) == 10  # the nine quiet ones and this one
    assert book.due("other", 110.5) == 1  # policies are counted apart


@given(st.lists(st.floats(min_value=0, max_value=1000, allow_nan=False), min_size=1, max_size=200))
def test_every_failure_is_reported_exactly_once(gaps: list[float]) -> None:
    book = FailOpenWarnings(interval=10.0)
    now, reported = 0.0, 0
    for gap in gaps:
        now += gap
        reported += book.due("p", now) or 0
    assert reported + book._unsaid["p"] == len(gaps)
