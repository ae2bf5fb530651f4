"""The edge runtime behind the Lambda handler: config cache, pipeline cache and one persistent event loop."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Mapping
from typing import Any

from portico.core.chain import Context
from portico.core.config.context import ValidationSettings
from portico.core.config.refresh import ConfigCache
from portico.core.ports import ConfigStore
from portico.core.problem import problem
from portico.edge.events import MalformedEvent, http_api, parse_event
from portico.edge.pipeline import EdgeDeps, PipelineCache
from portico.edge.root import default_deps, store_for
from portico.edge.settings import EdgeSettings

log = logging.getLogger("portico.edge")


class Edge:
    def __init__(self, store: ConfigStore, settings: EdgeSettings, deps: EdgeDeps) -> None:
        self.settings = settings
        self._config = ConfigCache(
            store,
            interval=settings.refresh_interval,
            settings=ValidationSettings(allow_loopback=settings.allow_loopback),
        )
        self._pipelines = PipelineCache(deps)
        self._quota = deps.quota
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Edge:
        """Build from PORTICO_* settings; raises SettingsError at once on a bad value."""
        settings = EdgeSettings.from_env(os.environ if env is None else env)
        store = overrides.pop("store", None) or store_for(settings)
        deps = default_deps(settings, store=store, **overrides)
        return cls(store, settings, deps)

    def warm(self, connections: int = 1) -> None:
        """Load config and build the pipeline now (Lambda init runs with more CPU); failures retry per request.

        With rate-limit policies, the quota store opens `connections` connections too: one for a Lambda instance
        (one request at a time), as many as it serves at once for a long-running process (the local front door).
        """
        try:
            loaded = self._config.current(time.monotonic())
            self._pipelines.get(loaded)
        except Exception:  # the store may be unreachable at init; requests answer 503 until it is back
            log.exception("config not loaded at init")
            return
        if loaded.config.rate_limit_policies:
            # Importing boto3 and building the quota client takes ~1 s cold; done inside the first requests, that
            # time counts against their policy's timeout (100 ms by default) and a burst fails open.
            try:
                store = self._quota().store
                warm = getattr(store, "warm", None)  # the DynamoDB store; in-memory ones need none
                if warm is not None:
                    warm(connections)
            except Exception:  # no store wired or reachable: the filter applies each policy's failure mode
                log.warning("quota store not ready at init", exc_info=True)

    async def handle_async(self, event: Any) -> dict[str, Any]:
        try:
            inbound = parse_event(event)
        except MalformedEvent as exc:
            return http_api.serialize(problem(400, f"malformed event: {exc}"))
        ctx = Context(request=inbound.request, now=time.time(), request_id=inbound.request_id)
        try:
            pipeline = self._pipelines.get(self._config.current(time.monotonic()))
        except Exception:  # no config at all yet (store down since cold start): a clear 503, never a trace
            log.exception("config unavailable")
            return inbound.serialize(problem(503, "configuration unavailable", request_id=ctx.request_id or None))
        return inbound.serialize(await pipeline.handler(ctx))

    def handle(self, event: Any) -> dict[str, Any]:
        """Synchronous entry for Lambda: one event loop for the life of the execution environment."""
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(self.handle_async(event))

    def close(self) -> None:
        """Close the persistent loop (tests and the benchmark; Lambda just freezes the environment)."""
        if self._loop is not None:
            self._loop.close()
            self._loop = None
