"""An in-memory RegistryStore for unit tests and single-process demos: the DynamoDB adapter's contract, no I/O."""

from __future__ import annotations

import dataclasses

from portico.core.mesh.registry import Instance


class InMemoryRegistryStore:
    def __init__(self) -> None:
        self._items: dict[tuple[str, str], Instance] = {}

    def register(self, instance: Instance, ttl: float) -> None:
        self._items[(instance.service, instance.instance_id)] = instance

    def heartbeat(self, instance: Instance, ttl: float) -> None:
        self._items[(instance.service, instance.instance_id)] = dataclasses.replace(instance)

    def deregister(self, service: str, instance_id: str) -> None:
        self._items.pop((service, instance_id), None)

    def instances(self, service: str) -> list[Instance]:
        return [i for (s, _), i in sorted(self._items.items()) if s == service]

    def all_instances(self) -> list[Instance]:
        return [i for _, i in sorted(self._items.items())]
