"""Aggregate responses: per-part field allowlists, and merging parts into one JSON object (by name or shallow)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

MergeMode = Literal["object", "shallow"]


@dataclass(frozen=True, slots=True)
class PartOutcome:
    """One part's result: its JSON value, or `error` (a short reason safe to show clients) when it failed."""

    name: str
    value: Any = None
    error: str | None = None
    status: int | None = None


@dataclass(frozen=True, slots=True)
class Merged:
    body: dict[str, Any]
    failed: list[PartOutcome] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.failed

    def errors(self) -> list[dict[str, Any]]:
        """The `errors` member: which parts failed and why, in declaration order."""
        out: list[dict[str, Any]] = []
        for part in self.failed:
            item: dict[str, Any] = {"part": part.name, "detail": part.error}
            if part.status is not None:
                item["status"] = part.status
            out.append(item)
        return out


def allow_fields(value: Any, fields: Sequence[str] | None) -> Any:
    """Keep only the allowlisted fields (dotted for nested ones) of an object, or of each object in a list.

    Everything else is dropped, so a field an internal service adds later never leaks (OWASP API3).
    """
    if fields is None:
        return value
    if isinstance(value, list):
        return [allow_fields(item, fields) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    nested: dict[str, list[str]] = {}
    for name in fields:
        head, dot, rest = name.partition(".")
        if dot:
            nested.setdefault(head, []).append(rest)
        elif head in value:
            out[head] = value[head]
    for head, rests in nested.items():
        if head in value and head not in out:
            out[head] = allow_fields(value[head], rests)
    return out


def merge_parts(
    outcomes: Sequence[PartOutcome], mode: MergeMode, fields: dict[str, list[str] | None] | None = None
) -> Merged:
    """`object`: `{part: value}`, failed parts null. `shallow`: the parts' objects merged in declaration order (a
    later part wins a clash); a failed part's allowlisted fields are null, and a part that answered something other
    than an object counts as failed."""
    fields = fields or {}
    body: dict[str, Any] = {}
    failed: list[PartOutcome] = []
    for part in outcomes:
        allowed = fields.get(part.name)
        if part.error is None and mode == "shallow" and not isinstance(part.value, dict):
            part = PartOutcome(part.name, None, "the part did not answer a JSON object", part.status)
        if part.error is not None:
            failed.append(part)
            if mode == "object":
                body[part.name] = None
            else:
                for name in allowed or ():
                    body.setdefault(name.partition(".")[0], None)
            continue
        value = allow_fields(part.value, allowed)
        if mode == "object":
            body[part.name] = value
        else:
            body.update(value)
    return Merged(body, failed)
