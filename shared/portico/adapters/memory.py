"""In-memory stores for tests and benchmarks: the same contracts as the DynamoDB adapters, without I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from portico.core.ports import ConcurrentChange, Snapshot, StoredDocument

if TYPE_CHECKING:  # the audit trail's types only: readers of this store never load the history code
    from portico.core.config.history import ChangeRecord, History


class InMemoryConfigStore:
    def __init__(self, documents: Sequence[StoredDocument] = ()) -> None:
        self._docs = {(d.kind, d.name): d for d in documents}
        self._version = 1 if documents else 0
        self.records: list[ChangeRecord] = []

    def version(self) -> int:
        return self._version

    def snapshot(self) -> Snapshot:
        return Snapshot(version=self._version, documents=list(self._docs.values()))

    def apply(
        self,
        documents: Sequence[StoredDocument],
        deletes: Sequence[tuple[str, str]] = (),
        *,
        expected_version: int | None = None,
        record: ChangeRecord | None = None,
    ) -> int:
        if expected_version is not None and expected_version != self._version:
            raise ConcurrentChange(f"expected version {expected_version}, found {self._version}")
        for doc in documents:
            self._docs[(doc.kind, doc.name)] = doc
        for key in deletes:
            self._docs.pop(key, None)
        if documents or deletes:
            self._version += 1
            if record is not None:
                self.records.append(replace(record, version=self._version))
        return self._version

    def history(self) -> History:
        from portico.core.config.history import History

        return History(tuple(reversed(self.records)))

    def prune_history(self, keep: int) -> int:
        dropped = max(0, len(self.records) - keep)
        del self.records[:dropped]
        return dropped


class InMemoryQuotaStore:
    """QuotaStore with DynamoDB's conditional-ADD semantics; counts its writes like the DynamoDB adapter does."""

    def __init__(self) -> None:
        self.values: dict[str, int] = {}
        self.expires: dict[str, int] = {}
        self.writes = 0

    async def add(self, key: str, amount: int, ceiling: int, expires_at: int) -> int | None:
        self.writes += 1
        current = self.values.get(key, 0)
        if current + amount > ceiling:
            return None
        self.values[key] = current + amount
        self.expires.setdefault(key, expires_at)
        return current + amount

    async def counts(self, keys: Sequence[str]) -> dict[str, int]:
        return {key: self.values.get(key, 0) for key in keys}
