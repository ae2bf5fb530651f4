"""App Mesh value types turned into Portico's: durations, weights, retry events, names."""

from __future__ import annotations

import re
from typing import Any

from portico.core.appmesh.errors import ImportFailure
from portico.core.config.base import check_regex, format_duration

# App Mesh's defaults, each next to Istio's and Portico's (docs/appmesh.md renders this table).
DEFAULTS: tuple[tuple[str, str, str, str], ...] = (
    ("route timeout (perRequest)", "15 s", "none (disabled)", "none; the import writes `timeout: 15s`"),
    ("listener timeout (perRequest)", "15 s", "none", "none; folded into the route timeout (the smaller wins)"),
    (
        "retries when a route sets none",
        "2 on 503, gRPC UNAVAILABLE, connect-failure, refused-stream; any method",
        "2 on connect-failure, refused-stream, unavailable, cancelled, 503",
        "Istio's, idempotent methods only; the import writes App Mesh's, with `non-idempotent`",
    ),
    ("server-error retry event", "500-511 and reset", "`5xx` (+ `reset`)", "`5xx,reset`"),
    ("gateway-error retry event", "502, 503, 504 and reset", "`gateway-error`", "`gateway-error,reset`"),
    ("client-error retry event", "409", "`retriable-4xx`", "`retriable-4xx`"),
    ("stream-error retry event", "refused stream", "`refused-stream`", "`refused-stream`"),
    ("TCP connection-error retry event", "connect failure", "`connect-failure`", "`connect-failure`"),
    (
        "gRPC retry events",
        "cancelled, deadline-exceeded, internal, resource-exhausted, unavailable",
        "the same tokens",
        "the same tokens (gRPC through the sidecar: docs/mesh-protocols.md)",
    ),
    ("weighted targets", "integers 0-100, relative (1:1 is 50/50)", "must sum to 100", "must sum to 100; scaled"),
    ("outlier interval / baseEjectionDuration", "{value, unit} in ms or s", "duration string", "duration string"),
    ("outlier maxServerErrors", "consecutive 5xx", "`consecutive5xxErrors` (default 5)", "`consecutive5xxErrors`"),
    ("outlier ejection percent", "maxEjectionPercent (required)", "10 %", "10 %"),
    (
        "gateway route prefix rewrite",
        "matched prefix replaced by `/` (defaultPrefix ENABLED)",
        "none",
        "none; the import writes the rewrite",
    ),
    ("gateway route Host rewrite", "target service name (defaultTargetHostname ENABLED)", "none", "the service name"),
)

APPMESH_TIMEOUT = 15.0
HTTP_EVENTS = {
    "server-error": ("5xx", "reset"),
    "gateway-error": ("gateway-error", "reset"),
    "client-error": ("retriable-4xx",),
    "stream-error": ("refused-stream",),
}
TCP_EVENTS = {"connection-error": ("connect-failure",)}
GRPC_EVENTS = {e: (e,) for e in ("cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable")}
DEFAULT_RETRIES = {"attempts": 2, "retryOn": "connect-failure,refused-stream,unavailable,503,non-idempotent"}


def seconds(value: Any, file: str, resource: str, field: str) -> float:
    """An App Mesh Duration `{value: 15, unit: s}` in seconds."""
    if not isinstance(value, dict):
        raise ImportFailure(file, "a duration is {value, unit}", resource=resource, field=field)
    amount, unit = value.get("value"), value.get("unit")
    if isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount < 0:
        raise ImportFailure(file, f"duration value {amount!r} is not a number >= 0", resource=resource, field=field)
    if unit not in ("s", "ms"):
        raise ImportFailure(file, f"duration unit {unit!r} is not s or ms", resource=resource, field=field)
    return float(amount) / (1000.0 if unit == "ms" else 1.0)


def duration(value: float) -> str:
    return format_duration(value)


def scale_weights(weights: list[int]) -> list[int]:
    """Relative weights scaled to sum to 100 by largest remainder (ties to the earlier target)."""
    total = sum(weights)
    exact = [w * 100 / total for w in weights]
    out = [int(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - out[i]), i))
    for i in order[: 100 - sum(out)]:
        out[i] += 1
    return out


def retry_on(policy: dict[str, Any], file: str, resource: str, field: str) -> str:
    tokens: list[str] = []
    for key, table in (
        ("httpRetryEvents", HTTP_EVENTS),
        ("tcpRetryEvents", TCP_EVENTS),
        ("grpcRetryEvents", GRPC_EVENTS),
    ):
        events = policy.get(key, [])
        if not isinstance(events, list):
            raise ImportFailure(file, f"{key} must be a list", resource=resource, field=f"{field}.{key}")
        for event in events:
            if not isinstance(event, str) or event not in table:
                known = ", ".join(table)
                raise ImportFailure(
                    file,
                    f"unknown retry event {event!r}; App Mesh's are {known}",
                    resource=resource,
                    field=f"{field}.{key}",
                )
            tokens.extend(t for t in table[event] if t not in tokens)
    tokens.append("non-idempotent")  # Envoy retries every method; App Mesh does not restrict it
    return ",".join(tokens)


def service_of(host: str) -> str:
    """The Portico service of an App Mesh virtual service name: its first DNS label, as the sidecar reads Host."""
    return host.split(".", 1)[0] if not host.startswith("${") else host


def slug(name: str) -> str:
    """A DNS-style metadata name from an App Mesh name (`color_server` -> `color-server`)."""
    text = re.sub(r"[^a-z0-9.-]+", "-", name.lower()).strip("-.")
    text = re.sub(r"-{2,}", "-", text)
    return (text or "unnamed")[:253].rstrip("-.")


def render_defaults() -> str:
    """The defaults table of docs/appmesh.md."""
    lines = ["| setting | App Mesh | Istio | Portico (and what the import writes) |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in DEFAULTS]
    return "\n".join(lines) + "\n"


def user_regex(pattern: Any, file: str, resource: str, field: str) -> str:
    """An App Mesh regex that Portico will run with RE2 semantics; refused here, with its App Mesh field."""
    try:
        check_regex(str(pattern))
    except ValueError as exc:
        raise ImportFailure(file, str(exc), resource=resource, field=field) from None
    return str(pattern)
