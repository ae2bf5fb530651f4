"""Turns a stored snapshot into validated config, skipping (and reporting) any document that fails validation."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from portico.core.config.configset import ConfigSet
from portico.core.config.context import ValidationSettings
from portico.core.config.loader import Kinds, validate_document
from portico.core.ports import Snapshot

if TYPE_CHECKING:
    from portico.core.config.documents import Document

log = logging.getLogger("portico.config")


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    version: int
    config: ConfigSet
    skipped: tuple[str, ...] = field(default=())


def load_snapshot(
    snapshot: Snapshot, settings: ValidationSettings | None = None, kinds: Kinds | None = None
) -> LoadedConfig:
    """Validate each stored document on its own: a bad one is logged and skipped, it never takes the rest down.

    With `kinds`, documents of other kinds are left out unread: a sidecar neither validates nor reports the edge's
    Routes, whose upstream rules (e.g. no loopback targets) are the edge's to enforce.
    """
    docs: list[Document] = []
    skipped = list(snapshot.skipped)
    for stored in snapshot.documents:
        if kinds is not None and stored.kind not in kinds:
            continue
        doc, issues = validate_document(
            stored.body, file=f"{stored.kind}/{stored.name}", settings=settings, kinds=kinds
        )
        if doc is None or doc.kind != stored.kind or doc.metadata.name != stored.name:
            reason = "; ".join(str(i) for i in issues) or "kind or name differs from the item key"
            skipped.append(f"{stored.kind}/{stored.name}: {reason}")
            continue
        docs.append(doc)
    for line in skipped[len(snapshot.skipped) :]:
        log.error("skipped invalid config item: %s", line)
    return LoadedConfig(version=snapshot.version, config=ConfigSet.of(docs), skipped=tuple(skipped))
