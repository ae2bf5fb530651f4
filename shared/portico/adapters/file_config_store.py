"""A read-only ConfigStore over YAML files, for development and benchmarks without a config table."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from portico.core.ports import SkippedItem, Snapshot, StoredDocument
from portico.core.untrusted import UntrustedInputError, load_yaml_all

if TYPE_CHECKING:
    from portico.core.config.history import ChangeRecord


class FileConfigStore:
    """The version is a hash of the files' bytes, so an edit is picked up by the usual version polling."""

    def __init__(self, paths: Sequence[Path | str]) -> None:
        self._paths = [Path(p) for p in paths]

    def _read(self) -> list[tuple[Path, bytes]]:
        return [(p, p.read_bytes()) for p in self._paths]

    def version(self) -> int:
        digest = hashlib.sha256()
        for path, data in self._read():
            digest.update(str(path).encode() + b"\0" + data + b"\0")
        return int(digest.hexdigest()[:12], 16)

    def snapshot(self) -> Snapshot:
        docs: list[StoredDocument] = []
        skipped: list[SkippedItem] = []
        digest = hashlib.sha256()
        for path, data in self._read():
            digest.update(str(path).encode() + b"\0" + data + b"\0")
            try:
                raws = load_yaml_all(data)
            except UntrustedInputError as exc:
                skipped.append(SkippedItem("", str(path), str(exc)))
                continue
            for raw in raws:
                if not isinstance(raw, dict):
                    continue
                meta = raw.get("metadata")
                name = meta.get("name") if isinstance(meta, dict) else None
                docs.append(StoredDocument(kind=str(raw.get("kind")), name=str(name), body=raw))
        return Snapshot(version=int(digest.hexdigest()[:12], 16), documents=docs, skipped=skipped)

    def apply(
        self,
        documents: Sequence[StoredDocument],
        deletes: Sequence[tuple[str, str]] = (),
        *,
        expected_version: int | None = None,
        record: ChangeRecord | None = None,
    ) -> int:
        raise NotImplementedError("a file config store is read-only; edit the YAML file instead")
