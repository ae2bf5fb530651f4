"""Route options that make the edge an API product: transforms, response cache, API versions and deprecation.

Every expression (JMESPath, regex, path template) is compiled here, at validation, so `portico validate` rejects a
bad one with its field path and a running edge never meets it.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError
from pydantic import Field, field_validator, model_validator

from portico.core.config.base import Duration, Model, check_regex, require_one_of

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 field-name token
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Fields a transform may not touch: identity headers are Portico's to set, framing headers the transport's.
_RESERVED_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "trailer"}
)


def check_jmespath(expression: str) -> str:
    try:
        jmespath.compile(expression)
    except JMESPathError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"invalid JMESPath expression {expression!r}: {reason}") from exc
    return expression


def _header_name(name: str) -> str:
    if not _TOKEN.match(name):
        raise ValueError(f"{name!r} is not a valid header name")
    lower = name.lower()
    if lower.startswith("x-portico-") or lower in _RESERVED_HEADERS:
        raise ValueError(f"header {name!r} is reserved and cannot be transformed")
    return lower


class HeaderEdits(Model):
    """Applied in the order remove, set, add."""

    set: dict[str, str] = Field(default_factory=dict)
    add: dict[str, str] = Field(default_factory=dict)
    remove: list[str] = Field(default_factory=list)

    @field_validator("set", "add")
    @classmethod
    def _names(cls, value: dict[str, str]) -> dict[str, str]:
        return {_header_name(k): v for k, v in value.items()}

    @field_validator("remove")
    @classmethod
    def _removed(cls, value: list[str]) -> list[str]:
        return [_header_name(k) for k in value]


class QueryEdits(Model):
    set: dict[str, str] = Field(default_factory=dict)
    remove: list[str] = Field(default_factory=list)


class PathTransform(Model):
    """The path the upstream sees: a template filled from path parameters, or a regex substitution."""

    template: str | None = None
    regex: str | None = None
    substitution: str | None = None

    @model_validator(mode="after")
    def _one(self) -> PathTransform:
        require_one_of(self, ("template", "regex"))
        if self.template is not None and not self.template.startswith("/"):
            raise ValueError("a path template must start with '/'")
        if self.regex is not None:
            check_regex(self.regex)
            if self.substitution is None:
                raise ValueError("a regex rewrite needs a substitution")
        elif self.substitution is not None:
            raise ValueError("substitution goes with regex")
        return self

    def placeholders(self) -> set[str]:
        return set(_PLACEHOLDER.findall(self.template or ""))


class RequestBodyMap(Model):
    """The JSON body the upstream receives: one JMESPath expression over the client's JSON body."""

    jmespath: str

    @field_validator("jmespath")
    @classmethod
    def _expr(cls, value: str) -> str:
        return check_jmespath(value)


class RequestTransform(Model):
    headers: HeaderEdits | None = None
    query: QueryEdits | None = None
    path: PathTransform | None = None
    body: RequestBodyMap | None = None


class ResponseHeaderEdits(HeaderEdits):
    """`select` keeps only the listed fields (plus content-type); `rename` then renames, before remove/set/add."""

    select: list[str] | None = None
    rename: dict[str, str] = Field(default_factory=dict)

    @field_validator("select")
    @classmethod
    def _selected(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [_header_name(k) for k in value]

    @field_validator("rename")
    @classmethod
    def _renamed(cls, value: dict[str, str]) -> dict[str, str]:
        return {_header_name(k): _header_name(v) for k, v in value.items()}


class ResponseBody(Model):
    """Applied in the order jmespath, select (top-level or dotted fields), rename (top-level keys)."""

    jmespath: str | None = None
    select: list[str] | None = None
    rename: dict[str, str] = Field(default_factory=dict)

    @field_validator("jmespath")
    @classmethod
    def _expr(cls, value: str | None) -> str | None:
        return None if value is None else check_jmespath(value)


class ResponseTransform(Model):
    headers: ResponseHeaderEdits | None = None
    body: ResponseBody | None = None


class Transform(Model):
    request: RequestTransform | None = None
    response: ResponseTransform | None = None


class CachePolicy(Model):
    """A per-route, per-instance response cache. `varyQuery` unset keys on every query parameter."""

    ttl: Duration
    max_entries: int = Field(default=1000, ge=1, le=100_000)
    vary_query: list[str] | None = None
    vary_headers: list[str] = Field(default_factory=list)
    shared: bool = False

    @field_validator("ttl")
    @classmethod
    def _ttl(cls, value: float) -> float:
        if not 0 < value <= 86400:
            raise ValueError("ttl is more than 0 and at most 24h")
        return value

    @field_validator("vary_headers")
    @classmethod
    def _vary(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _TOKEN.match(name):
                raise ValueError(f"{name!r} is not a valid header name")
        return [name.lower() for name in value]


class ApiVersion(Model):
    """The API version a route serves, selected by `/{name}/...`, `Accept-Version: {name}` or
    `Accept: type/subtype; version={name}`; a `default` route also serves requests that name no version."""

    name: str
    default: bool = False

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _VERSION.match(value):
            raise ValueError("a version name is letters, digits, '.', '_' or '-' (at most 32), such as v2 or 2024-06")
        return value


def _utc(value: Any) -> Any:
    """YAML turns `2026-12-31` into a date; an HTTP date needs an instant, so a date means its midnight UTC."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=UTC)
    return value


class Deprecation(Model):
    """RFC 9745 `Deprecation`, RFC 8594 `Sunset`, and a `Link` to migration docs. Its presence deprecates the route."""

    date: datetime | None = None
    sunset: datetime | None = None
    link: str | None = None

    @field_validator("date", "sunset", mode="before")
    @classmethod
    def _instant(cls, value: Any) -> Any:
        return _utc(value)

    @field_validator("link")
    @classmethod
    def _link(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^(https?://[^\s<>]+|/[^\s<>]*)$", value):
            raise ValueError("link is an http(s) URL or an absolute path, without spaces or angle brackets")
        return value

    @model_validator(mode="after")
    def _order(self) -> Deprecation:
        if self.date is not None and self.sunset is not None and self.sunset < self.date:
            raise ValueError("sunset cannot come before the deprecation date")
        return self
