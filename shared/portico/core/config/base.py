"""Shared model settings and value types for config: camelCase aliases, forbidden extras, durations."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import (
    AliasGenerator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)
from pydantic.alias_generators import to_camel

from portico.core.regex import UserRegex

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)")
_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}


def parse_duration(value: Any) -> float:
    """Seconds from `2s`, `100ms`, `1m30s`, `24h`, `30d` (Go/Istio style). Bare numbers are rejected: units matter."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError("a duration is a string with a unit, such as 2s, 100ms, 1m or 24h")
    text = value.strip()
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(f"{value!r} is not a duration; write it like 2s, 100ms, 1m or 24h")
    return total


def format_duration(seconds: float) -> str:
    if seconds >= 1 and float(seconds).is_integer():
        whole = int(seconds)
        for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
            if whole % size == 0:
                return f"{whole // size}{unit}"
        return f"{whole}s"
    return f"{round(seconds * 1000, 6):g}ms"


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {"type": "string", "pattern": r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h|d))+$", "examples": ["2s", "100ms"]}
    ),
]
"""A duration in seconds inside Portico; written as `2s` in YAML and back."""


class Model(BaseModel):
    """Base of every config model: frozen, unknown fields forbidden, camelCase in YAML, snake_case in Python."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=AliasGenerator(validation_alias=to_camel, serialization_alias=to_camel),
        populate_by_name=True,
        # Build each model's validator on first use, not at import: the edge's cold start then pays only for the
        # kinds it validates (Route and friends), not for every Istio model.
        defer_build=True,
    )


class StringMatch(Model):
    """Istio's StringMatch: exactly one of exact, prefix or regex."""

    exact: str | None = None
    prefix: str | None = None
    regex: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> StringMatch:
        require_one_of(self, ("exact", "prefix", "regex"))
        if self.regex is not None:
            check_regex(self.regex)
        return self


def require_one_of(model: BaseModel, fields: tuple[str, ...], *, allow_none: bool = False) -> None:
    """Raise unless exactly one of `fields` is set (or none, when allowed)."""
    present = [f for f in fields if getattr(model, f) is not None]
    if len(present) > 1 or (not present and not allow_none):
        names = ", ".join(to_camel(f) for f in fields)
        raise ValueError(
            f"give exactly one of {names}" + (f" (got {', '.join(map(to_camel, present))})" if present else "")
        )


def check_regex(pattern: str) -> None:
    """Refuse at validation what RE2 cannot compile: user regexes run with RE2 semantics (portico.core.regex)."""
    UserRegex(pattern)
