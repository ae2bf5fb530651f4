"""The I/O seams of the core, as Protocols: adapters implement them, entry points construct them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from portico.core.http import Request, Response


class Clock(Protocol):
    def now(self) -> float:
        """Wall-clock seconds since the epoch."""
        ...

    def monotonic(self) -> float: ...


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """One config document as kept by a ConfigStore: its kind, name and the raw mapping the user wrote."""

    kind: str
    name: str
    body: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A consistent view of the control plane at one version, with the items that failed to load."""

    version: int
    documents: Sequence[StoredDocument]
    skipped: Sequence[str] = ()


class ConfigStore(Protocol):
    def version(self) -> int: ...

    def snapshot(self) -> Snapshot: ...

    def apply(self, documents: Sequence[StoredDocument], deletes: Sequence[tuple[str, str]] = ()) -> int:
        """Write changed documents and delete the named ones with a version bump, atomically. Returns the version."""
        ...


class Transport(Protocol):
    """Sends a request to an upstream. Raises UpstreamTimeout or UpstreamConnectError, never returns a 5xx itself."""

    async def send(self, request: Request, url: str, timeout: float) -> Response: ...


class UpstreamError(Exception):
    """Base of the failures a Transport reports; the dispatcher maps them to 502 or 504."""


class UpstreamTimeout(UpstreamError):
    pass


class UpstreamConnectError(UpstreamError):
    pass


class UpstreamRefused(UpstreamError):
    """The destination was refused by policy (for example it resolved to a metadata address)."""
