"""In-memory stores for tests and benchmarks: the same contracts as the DynamoDB adapters, without I/O."""

from __future__ import annotations

from collections.abc import Sequence

from portico.core.ports import ConcurrentChange, Snapshot, StoredDocument


class InMemoryConfigStore:
    def __init__(self, documents: Sequence[StoredDocument] = ()) -> None:
        self._docs = {(d.kind, d.name): d for d in documents}
        self._version = 1 if documents else 0

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
    ) -> int:
        if expected_version is not None and expected_version != self._version:
            raise ConcurrentChange(f"expected version {expected_version}, found {self._version}")
        for doc in documents:
            self._docs[(doc.kind, doc.name)] = doc
        for key in deletes:
            self._docs.pop(key, None)
        if documents or deletes:
            self._version += 1
        return self._version


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
