"""The edge's mesh client, made on the first `service` call: its own SPIFFE identity, the registry, mTLS pools.

Settings (docs/mtls.md, "Edge to mesh"): PORTICO_EDGE_IDENTITY (the service account, default `edge`), and the same
PORTICO_TRUST_DOMAIN, PORTICO_NAMESPACE, PORTICO_PCA_ARN / ACM / file variables and PORTICO_REGISTRY_TABLE as the
sidecars. A failure to get an identity answers 502 and is retried after a pause, so a misconfigured edge does not
call the CA on every request.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Mapping

from portico.core.ports import UpstreamConnectError
from portico.edge.dispatch.service import MeshCaller

log = logging.getLogger("portico.edge")

RETRY_AFTER = 5.0  # seconds between attempts to get an identity after one failed


class LazyMeshClient:
    """`await get()` gives the one MeshServiceClient of this execution environment, creating it once."""

    def __init__(self, env: Mapping[str, str] | None = None, *, retry_after: float = RETRY_AFTER) -> None:
        self._env = dict(os.environ) if env is None else dict(env)
        self._retry_after = retry_after
        self._client: MeshCaller | None = None
        self._lock: asyncio.Lock | None = None
        self._failed_at: float | None = None
        self._failure = ""
        self._renewal: asyncio.Task[None] | None = None

    async def get(self) -> MeshCaller:
        if self._client is not None:
            return self._client
        if self._lock is None:
            self._lock = asyncio.Lock()  # made inside the running loop, which owns it
        async with self._lock:  # concurrent first requests share one certificate issue
            if self._client is None:
                self._client = await self._create()
        return self._client

    async def _create(self) -> MeshCaller:
        now = time.monotonic()
        if self._failed_at is not None and now - self._failed_at < self._retry_after:
            raise UpstreamConnectError(self._failure)
        from portico.adapters.aws import table_names
        from portico.adapters.clock import SystemClock
        from portico.adapters.dynamodb.registry_store import DynamoDbRegistryStore
        from portico.core.ports import CertSourceError
        from portico.mesh.client import MeshServiceClient, mtls_settings
        from portico.mesh.identity import mesh_identity, resolve_identity

        name = self._env.get("PORTICO_EDGE_IDENTITY") or "edge"
        try:
            stale = float(self._env.get("PORTICO_REGISTRY_STALE_AFTER") or 15.0)
            identity = mesh_identity(resolve_identity(name, self._env))
            await identity.start()
        except (ValueError, CertSourceError, OSError) as exc:
            self._failed_at, self._failure = now, f"the edge has no mesh identity: {exc}"
            log.error("%s", self._failure)
            raise UpstreamConnectError(self._failure) from exc
        # renewal runs on the edge's persistent loop: while warm in Lambda, always in the local front door
        self._renewal = asyncio.create_task(identity.run())
        registry = DynamoDbRegistryStore(table_names(self._env)["registry"])
        log.info("edge mesh identity %s ready", identity.identity)
        return MeshServiceClient(registry, mtls_settings(identity), SystemClock(), stale_after=stale)
