"""The mesh's document kinds (VirtualService, DestinationRule, AuthorizationPolicy): all the sidecar validates.

Kept apart from the edge's kinds (documents.py) so that a sidecar never imports, builds or checks the models of
Routes, Issuers, Consumers and rate-limit policies it does not serve.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from portico.core.config.base import Model
from portico.core.config.istio_networking import DestinationRuleSpec, VirtualServiceSpec
from portico.core.config.istio_security import AuthorizationPolicySpec
from portico.core.config.metadata import Metadata

PORTICO_V1 = "portico/v1"
NETWORKING_VERSIONS = (
    "networking.istio.io/v1alpha3",
    "networking.istio.io/v1beta1",
    "networking.istio.io/v1",
    PORTICO_V1,
)
SECURITY_VERSIONS = ("security.istio.io/v1beta1", "security.istio.io/v1", PORTICO_V1)


class ObjectMeta(Metadata):
    """Metadata as `kubectl get -o yaml` writes it: the server-set fields are accepted and ignored."""

    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: datetime | str | None = None
    managed_fields: list[Any] | None = None
    owner_references: list[Any] | None = None
    finalizers: list[str] | None = None
    generate_name: str | None = None


class VirtualService(Model):
    api_version: Literal[
        "networking.istio.io/v1alpha3", "networking.istio.io/v1beta1", "networking.istio.io/v1", "portico/v1"
    ]
    kind: Literal["VirtualService"]
    metadata: ObjectMeta
    spec: VirtualServiceSpec
    status: dict[str, Any] | None = Field(default=None, exclude=True)


class DestinationRule(Model):
    api_version: Literal[
        "networking.istio.io/v1alpha3", "networking.istio.io/v1beta1", "networking.istio.io/v1", "portico/v1"
    ]
    kind: Literal["DestinationRule"]
    metadata: ObjectMeta
    spec: DestinationRuleSpec
    status: dict[str, Any] | None = Field(default=None, exclude=True)


class AuthorizationPolicy(Model):
    api_version: Literal["security.istio.io/v1beta1", "security.istio.io/v1", "portico/v1"]
    kind: Literal["AuthorizationPolicy"]
    metadata: ObjectMeta
    spec: AuthorizationPolicySpec
    status: dict[str, Any] | None = Field(default=None, exclude=True)


MeshDocument = VirtualService | DestinationRule | AuthorizationPolicy

MESH_KINDS: dict[str, type[Model]] = {
    "VirtualService": VirtualService,
    "DestinationRule": DestinationRule,
    "AuthorizationPolicy": AuthorizationPolicy,
}
