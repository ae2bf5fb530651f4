"""The shape of an App Mesh spec, checked before translation: objects where App Mesh has objects, lists of
objects where it has lists, names where a matcher needs one. A wrong type is an error naming its field, never a
crash halfway through the translation.

The object paths come from the catalogue: every proper prefix of a listed field is an object in App Mesh's API.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from portico.core.appmesh.catalogue import ROWS
from portico.core.appmesh.errors import ImportFailure
from portico.core.appmesh.inputs import Resource

OBJECT_LISTS = frozenset(
    {"listeners", "backends", "weightedTargets", "headers", "queryParameters", "metadata", "attributes"}
)
DURATIONS = frozenset({"perRequest", "idle", "perRetryTimeout", "interval", "baseEjectionDuration"})
_ROUTE_BODIES = ("httpRoute", "http2Route", "grpcRoute", "tcpRoute")
_TLS_ROOTS = ("listeners.tls", "backendDefaults.clientPolicy.tls", "backends.virtualService.clientPolicy.tls")
_TLS_PARTS = (
    "",
    ".certificate",
    ".certificate.acm",
    ".certificate.file",
    ".certificate.sds",
    ".validation",
    ".validation.trust",
    ".validation.trust.acm",
    ".validation.trust.file",
    ".validation.trust.sds",
    ".validation.subjectAlternativeNames",
    ".validation.subjectAlternativeNames.match",
)
_TLS = frozenset(f"{root}{part}" for root in _TLS_ROOTS for part in _TLS_PARTS)
EXTRA_OBJECTS = {
    "Route": frozenset(f"{r}{p}" for r in _ROUTE_BODIES for p in ("", ".action", ".match", ".retryPolicy", ".timeout")),
    "GatewayRoute": frozenset(
        f"{r}{p}"
        for r in _ROUTE_BODIES
        for p in (
            "",
            ".action",
            ".match",
            ".match.path",
            ".match.hostname",
            ".action.target",
            ".action.target.virtualService",
            ".action.rewrite",
            ".action.rewrite.prefix",
            ".action.rewrite.path",
            ".action.rewrite.hostname",
        )
    ),
    "VirtualNode": _TLS | {"listeners.timeout.grpc", "listeners.healthCheck"},
    "VirtualGateway": _TLS | {"listeners.portMapping", "listeners.healthCheck", "listeners.connectionPool"},
}
LIST_SUFFIXES = (
    "subjectAlternativeNames.match.exact",
    "certificateAuthorityArns",
    "httpRetryEvents",
    "tcpRetryEvents",
    "grpcRetryEvents",
    "ports",
)
NAMED = frozenset({"headers", "queryParameters", "metadata"})  # each item names the header or parameter it matches


@cache
def _objects(kind: str) -> frozenset[str]:
    """Paths (list indexes dropped) that hold an object in App Mesh's API for this kind."""
    found: set[str] = set()
    for row in ROWS:
        if row.kind != kind or not row.field or row.field.startswith("@"):
            continue
        parts = row.field.split(".")
        for i in range(1, len(parts)):
            if parts[i - 1] not in OBJECT_LISTS or i > 1:
                found.add(".".join(parts[:i]))
    found |= EXTRA_OBJECTS.get(kind, frozenset())
    return frozenset(p for p in found if p.rsplit(".", 1)[-1] not in OBJECT_LISTS)


def check_shape(res: Resource) -> None:
    _walk(res, res.spec, "", "spec")


def _walk(res: Resource, value: Any, pattern: str, where: str) -> None:
    key = pattern.rsplit(".", 1)[-1]
    if key in OBJECT_LISTS:
        if not isinstance(value, list):
            raise ImportFailure(res.file, "must be a list", resource=res.label, field=where)
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise ImportFailure(res.file, "must be an object", resource=res.label, field=f"{where}[{i}]")
            if key in NAMED and not isinstance(item.get("name"), str):
                raise ImportFailure(res.file, "a name is required", resource=res.label, field=f"{where}[{i}].name")
            _children(res, item, pattern, f"{where}[{i}]")
        return
    if pattern.endswith(LIST_SUFFIXES) and not isinstance(value, list):
        raise ImportFailure(res.file, "must be a list", resource=res.label, field=where)
    if pattern in _objects(res.kind) or not pattern or key in DURATIONS:
        if not isinstance(value, dict):
            raise ImportFailure(res.file, "must be an object", resource=res.label, field=where)
        _children(res, value, pattern, where)


def _children(res: Resource, value: dict[str, Any], pattern: str, where: str) -> None:
    for k, v in value.items():
        _walk(res, v, f"{pattern}.{k}" if pattern else str(k), f"{where}.{k}")
