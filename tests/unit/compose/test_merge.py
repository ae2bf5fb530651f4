"""Aggregate merging: object and shallow modes, failed parts, and field allowlists (OWASP API3)."""

from __future__ import annotations

from portico.core.compose.merge import PartOutcome, allow_fields, merge_parts


def test_object_mode_keys_by_part_and_nulls_failures() -> None:
    merged = merge_parts(
        [PartOutcome("user", {"id": 1}), PartOutcome("orders", error="timed out", status=504)], "object"
    )
    assert merged.body == {"user": {"id": 1}, "orders": None}
    assert merged.errors() == [{"part": "orders", "detail": "timed out", "status": 504}]
    assert not merged.complete


def test_shallow_mode_later_part_wins_and_failed_allowlisted_fields_are_null() -> None:
    merged = merge_parts(
        [PartOutcome("a", {"x": 1, "y": 1}), PartOutcome("b", {"y": 2}), PartOutcome("c", error="down")],
        "shallow",
        {"c": ["stock", "price.amount"]},
    )
    assert merged.body == {"x": 1, "y": 2, "stock": None, "price": None}
    assert [p.name for p in merged.failed] == ["c"]


def test_shallow_mode_refuses_a_part_that_is_not_an_object() -> None:
    merged = merge_parts([PartOutcome("a", {"x": 1}), PartOutcome("b", [1, 2])], "shallow")
    assert merged.body == {"x": 1}
    assert merged.errors()[0]["part"] == "b"


def test_allowlist_drops_everything_else_including_nested_and_in_lists() -> None:
    value = {"id": 1, "secret": "s", "address": {"city": "Oslo", "internal": True}}
    assert allow_fields(value, ["id", "address.city"]) == {"id": 1, "address": {"city": "Oslo"}}
    assert allow_fields([value, value], ["id"]) == [{"id": 1}, {"id": 1}]
    assert allow_fields(value, None) is value
    assert allow_fields("scalar", ["id"]) == "scalar"


def test_allowlist_applies_per_part_in_object_mode() -> None:
    merged = merge_parts([PartOutcome("user", {"id": 1, "passwordHash": "x"})], "object", {"user": ["id"]})
    assert merged.body == {"user": {"id": 1}}
