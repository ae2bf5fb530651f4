"""The audit trail's pure parts: records, rebuilding a version from the current config, and decoding stored data."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portico.core.config.history import (
    ChangeRecord,
    DocumentChange,
    History,
    HistoryError,
    content_hash,
    decode,
    diff_plan,
    encode,
    state_at,
)
from portico.core.ports import StoredDocument

bodies = st.dictionaries(st.sampled_from(["a", "b", "c"]), st.integers(0, 3), min_size=1)
configs = st.dictionaries(st.sampled_from([("Route", "x"), ("Route", "y"), ("Issuer", "z")]), bodies)


def _docs(config: dict[tuple[str, str], dict[str, int]]) -> list[StoredDocument]:
    return [StoredDocument(k, n, b) for (k, n), b in config.items()]


@given(st.lists(configs, min_size=1, max_size=6))
def test_every_kept_version_is_rebuilt_exactly_from_the_current_config(versions: list[dict[Any, Any]]) -> None:
    records = []
    for v in range(1, len(versions)):
        old, new = versions[v - 1], versions[v]
        changes = tuple(
            DocumentChange(k, n, old.get((k, n)), new.get((k, n)))
            for (k, n) in sorted(set(old) | set(new))
            if old.get((k, n)) != new.get((k, n))
        )
        records.append(ChangeRecord(v, 0.0, "arn", "apply", content_hash(_docs(new)), changes))
    history = History(tuple(reversed(records)))
    current = _docs(versions[-1])
    for v, expected in enumerate(versions):
        assert state_at(current, len(versions) - 1, history, v) == expected
        assert diff_plan(state_at(current, len(versions) - 1, history, v), expected).changes == ()


def test_a_missing_record_or_version_is_a_clear_error() -> None:
    current = [StoredDocument("Route", "x", {"a": 1})]
    record = ChangeRecord(3, 0.0, "arn", "apply", "h", (DocumentChange("Route", "x", {"a": 0}, {"a": 1}),))
    history = History((record,), skipped=("history item 000000000002: bad",))
    assert state_at(current, 3, history, 2) == {("Route", "x"): {"a": 0}}
    with pytest.raises(HistoryError, match=r"record of version 2 is not kept \(unreadable item skipped"):
        state_at(current, 3, history, 1)
    with pytest.raises(HistoryError, match="does not exist"):
        state_at(current, 3, history, 4)


def test_content_hash_ignores_order_and_sees_every_byte() -> None:
    a, b = StoredDocument("Route", "x", {"a": 1}), StoredDocument("Route", "y", {"b": 2})
    assert content_hash([a, b]) == content_hash([b, a])
    assert content_hash([a, b]) != content_hash([a, StoredDocument("Route", "y", {"b": 3})])


def test_records_round_trip_and_large_ones_drop_their_bodies() -> None:
    record = ChangeRecord(
        7, 1.5, "arn:aws:iam::1:user/x", "rollback", "sha256:0", (DocumentChange("Route", "x", None, {"a": 1}),), "to 3"
    )
    assert decode(encode(record, 10_000)) == record
    big = encode(record, 10)
    assert big["complete"] is False and decode(big).complete is False


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        {"version": 1},
        {"version": "one", "at": 0, "who": "x", "action": "apply", "hash": "h", "changes": []},
        {"version": 0, "at": 0, "who": "x", "action": "apply", "hash": "h", "changes": []},
        {"version": 1, "at": 0, "who": "x", "action": "apply", "hash": "h", "changes": [{"kind": 1, "name": "n"}]},
        {"version": 1, "at": 0, "who": "x", "action": "apply", "hash": "h", "changes": [{"kind": "R", "name": "n"}]},
        {"version": 1, "at": "x", "who": "x", "action": "apply", "hash": "h", "changes": []},
    ],
)
def test_malformed_records_raise_value_error(data: object) -> None:
    with pytest.raises(ValueError):
        decode(data)
