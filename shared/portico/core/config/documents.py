"""The typed document of each kind: envelope (apiVersion, kind, metadata) plus its spec."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from portico.core.config.base import Model
from portico.core.config.identity import ConsumerSpec, IssuerSpec
from portico.core.config.istio_networking import DestinationRuleSpec, VirtualServiceSpec
from portico.core.config.istio_security import AuthorizationPolicySpec
from portico.core.config.metadata import Metadata
from portico.core.config.portal import PortalSpec
from portico.core.config.ratelimit import RateLimitPolicySpec
from portico.core.config.route import RouteSpec

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


Document = Route | Issuer | RateLimitPolicy | Consumer | Portal | VirtualService | DestinationRule | AuthorizationPolicy

KINDS: dict[str, type[Model]] = {
    "Route": Route,
    "Issuer": Issuer,
    "RateLimitPolicy": RateLimitPolicy,
    "Consumer": Consumer,
    "Portal": Portal,
    "VirtualService": VirtualService,
    "DestinationRule": DestinationRule,
    "AuthorizationPolicy": AuthorizationPolicy,
}

API_VERSIONS: dict[str, tuple[str, ...]] = {
    "Route": (PORTICO_V1,),
    "Issuer": (PORTICO_V1,),
    "RateLimitPolicy": (PORTICO_V1,),
    "Consumer": (PORTICO_V1,),
    "Portal": (PORTICO_V1,),
    "VirtualService": NETWORKING_VERSIONS,
    "DestinationRule": NETWORKING_VERSIONS,
    "AuthorizationPolicy": SECURITY_VERSIONS,
}


def to_mapping(doc: Model) -> dict[str, Any]:
    """The document as the user would write it: camelCase, defaults left out."""
    out: dict[str, Any] = doc.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)
    # apiVersion and kind are Literals with no default, so they survive exclude_defaults; metadata.name too.
    return out
