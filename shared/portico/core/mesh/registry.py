"""The service registry's domain model and port: one Instance per sidecar, readers drop stale heartbeats."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

Health = Literal["HEALTHY", "UNHEALTHY", "DRAINING"]


@dataclass(frozen=True, slots=True)
class Instance:
    """One registered instance. `port` is its sidecar's inbound port, never the app's own port."""

    service: str
    instance_id: str
    address: str
    port: int
    labels: Mapping[str, str] = field(default_factory=dict)
    weight: int = 1
    health: Health = "HEALTHY"
    heartbeat: float = 0.0
    zone: str = ""

    @property
    def key(self) -> str:
        """Identity of the endpoint for balancing and outlier state: a re-registered instance keeps its history."""
        return f"{self.service}/{self.instance_id}"

    @property
    def authority(self) -> str:
        return f"{self.address}:{self.port}"


class RegistryStore(Protocol):
    def register(self, instance: Instance, ttl: float) -> None: ...

    def heartbeat(self, instance: Instance, ttl: float) -> None:
        """Refresh the heartbeat (and health) of an instance; re-creates it if TTL removed it meanwhile."""
        ...

    def deregister(self, service: str, instance_id: str) -> None: ...

    def instances(self, service: str) -> list[Instance]:
        """Every stored item of a service, stale or not: freshness is the reader's decision (see `live`)."""
        ...

    def all_instances(self) -> list[Instance]: ...


def is_fresh(instance: Instance, now: float, stale_after: float) -> bool:
    return now - instance.heartbeat <= stale_after


def live(instances: Iterable[Instance], now: float, stale_after: float) -> list[Instance]:
    """Instances that can take traffic: healthy, with a heartbeat newer than `stale_after` seconds.

    DynamoDB's TTL deletes expired items only eventually (often hours later), so readers must not trust presence.
    """
    return [i for i in instances if i.health == "HEALTHY" and is_fresh(i, now, stale_after)]


def matching(instances: Sequence[Instance], labels: Mapping[str, str]) -> list[Instance]:
    """The instances of a subset: every subset label must be present with the same value."""
    return [i for i in instances if all(i.labels.get(k) == v for k, v in labels.items())]


def parse_labels(text: str) -> dict[str, str]:
    """`k=v,k2=v2` -> dict; raises ValueError naming the bad pair."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"label {part!r} is not key=value")
        out[key.strip()] = value.strip()
    return out
