"""What every event adapter shares: the parsed inbound result, malformed-event errors and body encoding rules."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from portico.core.headers import Headers
from portico.core.http import Request, Response

_TEXT_TYPES = ("text/", "application/json", "application/problem+json", "application/xml", "application/javascript")
_TEXT_SUFFIXES = ("+json", "+xml")


class MalformedEvent(ValueError):
    """The Lambda event is not one Portico understands; the message says which field is wrong."""


@dataclass(frozen=True, slots=True)
class Inbound:
    """A parsed event: the Request, the front door's request id (may be empty), and how to answer in kind."""

    request: Request
    request_id: str
    serialize: Callable[[Response], dict[str, Any]]


def field(event: Mapping[str, Any], name: str, kind: type, *, required: bool = False) -> Any:
    """Read one field with its expected JSON type; None when absent and optional."""
    value = event.get(name)
    if value is None:
        if required:
            raise MalformedEvent(f"event field {name!r} is missing")
        return None
    if not isinstance(value, kind):
        raise MalformedEvent(f"event field {name!r} must be a {kind.__name__}")
    return value


def decode_body(event: Mapping[str, Any]) -> bytes:
    body: str | None = field(event, "body", str)
    if body is None:
        return b""
    if event.get("isBase64Encoded"):
        try:
            return bytes(base64.b64decode(body, validate=True))
        except (binascii.Error, ValueError) as exc:
            raise MalformedEvent("event body is marked isBase64Encoded but is not base64") from exc
    return body.encode("utf-8")


def is_text(content_type: str | None) -> bool:
    if not content_type:
        return False
    ct = content_type.split(";", 1)[0].strip().lower()
    return ct.startswith(_TEXT_TYPES) or ct.endswith(_TEXT_SUFFIXES) or ct == "application/x-www-form-urlencoded"


def encode_body(response: Response) -> tuple[str, bool]:
    """The body as event text: UTF-8 text when it is textual (or empty), base64 otherwise."""
    if not response.body:
        return "", False
    if is_text(response.content_type):
        try:
            return response.body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(response.body).decode("ascii"), True


def single_headers(raw: Mapping[str, Any] | None) -> Headers:
    """Headers from a name -> value map (values may hold comma-joined repeats, as API Gateway sends them)."""
    if not raw:
        return Headers()
    return Headers((str(k), str(v)) for k, v in raw.items() if v is not None)


def multi_headers(raw: Mapping[str, Any] | None) -> Headers:
    if not raw:
        return Headers()
    pairs: list[tuple[str, str]] = []
    for k, values in raw.items():
        if not isinstance(values, list):
            raise MalformedEvent("multiValueHeaders values must be lists")
        pairs.extend((str(k), str(v)) for v in values)
    return Headers(pairs)


def joined_headers(headers: Headers) -> dict[str, str]:
    """Repeated fields comma-joined into one value (RFC 9110 5.3), for formats with single-value headers."""
    out: dict[str, str] = {}
    for name, value in headers:
        out[name] = f"{out[name]},{value}" if name in out else value
    return out


def grouped_headers(headers: Headers) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in headers:
        out.setdefault(name, []).append(value)
    return out


def host_of(headers: Headers, fallback: str = "") -> str:
    return headers.get("host") or fallback
