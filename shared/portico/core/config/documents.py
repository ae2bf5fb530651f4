"""The typed document of each kind: envelope (apiVersion, kind, metadata) plus its spec.

The mesh's kinds live in mesh_documents.py (the sidecar loads only those) and are re-exported here.
"""

from __future__ import annotations

from typing import Any, Literal

from portico.core.config.base import Model
from portico.core.config.identity import ConsumerSpec, IssuerSpec
from portico.core.config.mesh_documents import (
    MESH_KINDS,
    NETWORKING_VERSIONS,
    PORTICO_V1,
    SECURITY_VERSIONS,
    AuthorizationPolicy,
    DestinationRule,
    ObjectMeta,
    VirtualService,
)
from portico.core.config.metadata import Metadata
from portico.core.config.portal import PortalSpec
from portico.core.config.ratelimit import RateLimitPolicySpec
from portico.core.config.route import RouteSpec

__all__ = [
    "KINDS",
    "NETWORKING_VERSIONS",
    "PORTICO_V1",
    "SECURITY_VERSIONS",
    "AuthorizationPolicy",
    "Consumer",
    "DestinationRule",
    "Document",
    "Issuer",
    "ObjectMeta",
    "Portal",
    "RateLimitPolicy",
    "Route",
    "VirtualService",
    "to_mapping",
]


class Route(Model):
    api_version: Literal["portico/v1"]
    kind: Literal["Route"]
    metadata: Metadata
    spec: RouteSpec


class Issuer(Model):
    api_version: Literal["portico/v1"]
    kind: Literal["Issuer"]
    metadata: Metadata
    spec: IssuerSpec


class RateLimitPolicy(Model):
    api_version: Literal["portico/v1"]
    kind: Literal["RateLimitPolicy"]
    metadata: Metadata
    spec: RateLimitPolicySpec


class Consumer(Model):
    api_version: Literal["portico/v1"]
    kind: Literal["Consumer"]
    metadata: Metadata
    spec: ConsumerSpec


class Portal(Model):
    api_version: Literal["portico/v1"]
    kind: Literal["Portal"]
    metadata: Metadata
    spec: PortalSpec


Document = Route | Issuer | RateLimitPolicy | Consumer | Portal | VirtualService | DestinationRule | AuthorizationPolicy

KINDS: dict[str, type[Model]] = {
    "Route": Route,
    "Issuer": Issuer,
    "RateLimitPolicy": RateLimitPolicy,
    "Consumer": Consumer,
    "Portal": Portal,
    **MESH_KINDS,
}


def to_mapping(doc: Model) -> dict[str, Any]:
    """The document as the user would write it: camelCase, defaults left out."""
    out: dict[str, Any] = doc.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)
    # apiVersion and kind are Literals with no default, so they survive exclude_defaults; metadata.name too.
    return out
