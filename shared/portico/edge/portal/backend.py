"""What the portal needs from outside, wired once per process by the entry point and created lazily.

Nothing here is imported until a request reaches /_portico/portal/, so routes that are not the portal pay nothing
for it at cold start.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from portico.core.auth.authenticator import KeySources
from portico.core.config.documents import Consumer, Document
from portico.core.ports import ConcurrentChange, ConfigStore, Transport
from portico.edge.filters.ratelimit import QuotaFactory

R = TypeVar("R")
Change = Callable[[Consumer | None], tuple[Consumer, R]]


@dataclass(slots=True)
class PortalBackend:
    store: Callable[[], ConfigStore]
    session_key: Callable[[], bytes]
    client_secret: Callable[[], str | None]
    quota: QuotaFactory
    transport: Callable[[], Transport]
    key_sources: KeySources
    rng: Callable[[int], bytes]
    # How many history records the config table keeps (PORTICO_HISTORY_LIMIT, as for the CLI): a portal change is
    # recorded like an apply, and the oldest records beyond this are deleted after it.
    history_keep: int = 100
    # Consumer documents this process wrote, newer than the config it serves: a consumer sees its own change at
    # once, while other edges take it on their next refresh (the version item they poll).
    written: dict[str, tuple[int, Consumer]] = field(default_factory=dict)

    def consumer(self, name: str, served_version: int, served: Consumer | None) -> Consumer | None:
        recent = self.written.get(name)
        if recent is not None and recent[0] > served_version:
            return recent[1]
        return served

    async def save(
        self, name: str, current: Consumer | None, change: Change[R], *, who: str, at: float, note: str
    ) -> tuple[int, R]:
        """Apply `change(current)` through the control plane's apply (validation, one transaction, a version bump,
        and a history record naming `who` (the signed-in subject, `portal:<issuer subject>`) at `at` with `note`).

        When another apply wins the race (any document: the version item is one), the consumer is read again and
        the change recomputed on the fresh state, at most twice more, so no concurrent change is lost.
        """
        from portico.controlplane import Audit, apply_documents  # the write path: on the first portal change

        store = self.store()
        for attempt in range(3):
            doc, result = change(current)
            docs: Sequence[Document] = [doc]
            try:
                audit = Audit(who=who, at=at, keep=self.history_keep)
                write = functools.partial(apply_documents, store, docs, audit=audit, action="portal", note=note)
                applied = await asyncio.to_thread(write)
            except ConcurrentChange:
                if attempt == 2:
                    raise
                current = await asyncio.to_thread(_read_consumer, store, name)
                continue
            self.written[name] = (applied.version_after, doc)
            return applied.version_after, result
        raise AssertionError("unreachable")


def _read_consumer(store: ConfigStore, name: str) -> Consumer | None:
    from portico.core.config.context import ValidationSettings
    from portico.core.config.snapshot import load_snapshot

    return load_snapshot(store.snapshot(), ValidationSettings(allow_loopback=True)).config.consumers.get(name)
