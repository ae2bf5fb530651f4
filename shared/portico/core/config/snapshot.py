"""Turns a stored snapshot into validated config, skipping (and reporting) any document that fails validation."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from portico.core.config.configset import ConfigSet
from portico.core.config.context import ValidationSettings
from portico.core.config.loader import Kinds, validate_document
from portico.core.ports import SkippedItem, Snapshot

if TYPE_CHECKING:
    from portico.core.config.documents import Document

log = logging.getLogger("portico.config")

# A Route without its Issuer or RateLimitPolicy, or a Consumer without its plan, would be served with less
# protection than its author wrote: such a document fails closed, skipped like an invalid one. A VirtualService
# that names a missing subset stays: the sidecar answers 503 for that destination, as Istio does.
FAIL_CLOSED_KINDS = frozenset({"Route", "Consumer"})


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    version: int
    config: ConfigSet
    skipped: tuple[SkippedItem, ...] = field(default=())


def load_snapshot(
    snapshot: Snapshot, settings: ValidationSettings | None = None, kinds: Kinds | None = None
) -> LoadedConfig:
    """Validate each stored document on its own: a bad one is logged and skipped, it never takes the rest down.

    With `kinds`, documents of other kinds are left out unread: a sidecar neither validates nor reports the edge's
    Routes, whose upstream rules (e.g. no loopback targets) are the edge's to enforce.
    """
    docs: list[Document] = []
    skipped: list[SkippedItem] = []
    for stored in snapshot.documents:
        if kinds is not None and stored.kind not in kinds:
            continue
        doc, issues = validate_document(
            stored.body, file=f"{stored.kind}/{stored.name}", settings=settings, kinds=kinds
        )
        if doc is None or doc.kind != stored.kind or doc.metadata.name != stored.name:
            reason = "; ".join(str(i) for i in issues) or "kind or name differs from the item key"
            skipped.append(SkippedItem(stored.kind, stored.name, reason))
            continue
        docs.append(doc)
    config = ConfigSet.of(docs)
    dangling = [d for d in config.dangling_references() if d.kind in FAIL_CLOSED_KINDS]
    if dangling:
        skipped.extend(SkippedItem(d.kind, d.name, d.reason) for d in dangling)
        config = config.without((d.kind, d.name) for d in dangling)
    for item in skipped:
        log.error("skipped invalid config item: %s", item)
    # items the store could not decode: with `kinds`, only those that could be ours (or whose kind is unreadable)
    unreadable = [s for s in snapshot.skipped if kinds is None or s.kind in kinds or s.kind in ("", "?")]
    return LoadedConfig(version=snapshot.version, config=config, skipped=(*unreadable, *skipped))
