"""The sidecar's view of the registry: per-service instance lists, fetched on first use, refreshed in the background."""

from __future__ import annotations

import asyncio
import logging

from portico.core.mesh.registry import Instance, RegistryStore, live
from portico.core.ports import Clock

log = logging.getLogger("portico.mesh.discovery")

LIVE_RECHECK = 0.5  # seconds a computed live view is reused while the stored list is unchanged


class Discovery:
    """Readers get the last good list; a registry outage keeps serving it (the data path never waits on DynamoDB
    except for the very first call to a service it has never seen)."""

    def __init__(self, store: RegistryStore, clock: Clock, *, stale_after: float, refresh_interval: float) -> None:
        self._store = store
        self._clock = clock
        self.stale_after = stale_after
        self.refresh_interval = refresh_interval
        self._stored: dict[str, list[Instance]] = {}
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._live: dict[str, tuple[float, list[Instance], list[Instance]]] = {}

    def known(self) -> list[str]:
        return sorted(self._stored)

    def stored(self, service: str) -> list[Instance]:
        return self._stored.get(service, [])

    async def instances(self, service: str) -> list[Instance]:
        """Live instances (healthy, fresh heartbeat) of `service`."""
        if service not in self._stored:
            await self._fetch(service)
        return self.known_instances(service)

    def fetched(self, service: str) -> bool:
        return service in self._stored

    def known_instances(self, service: str) -> list[Instance]:
        """`instances` for a service already fetched once (the data path's case: no coroutine, no wait)."""
        stored = self._stored.get(service, [])
        now = self._clock.now()
        cached = self._live.get(service)
        # the live view is recomputed when the list changes and at most every LIVE_RECHECK seconds otherwise (a
        # heartbeat turns stale at a resolution of seconds), not on every request
        if cached is None or cached[1] is not stored or now - cached[0] >= LIVE_RECHECK:
            cached = self._live[service] = (now, stored, live(stored, now, self.stale_after))
        return cached[2]

    async def _fetch(self, service: str) -> None:
        task = self._inflight.get(service)
        if task is None:  # one fetch per service at a time, however many requests wait for it
            task = self._inflight[service] = asyncio.create_task(self._load(service))
            task.add_done_callback(lambda _: self._inflight.pop(service, None))
        await asyncio.shield(task)

    async def _load(self, service: str) -> None:
        try:
            self._stored[service] = await asyncio.to_thread(self._store.instances, service)
        except Exception:  # DynamoDB errors are many; keep the last list and say so
            log.exception("registry read failed for %s; keeping %d known instances", service, len(self.stored(service)))
            self._stored.setdefault(service, [])

    async def refresh_all(self) -> None:
        await asyncio.gather(*(self._fetch(s) for s in self.known()))

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_interval)
            await self.refresh_all()
