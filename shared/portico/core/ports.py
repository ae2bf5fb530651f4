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

    def apply(
        self,
        documents: Sequence[StoredDocument],
        deletes: Sequence[tuple[str, str]] = (),
        *,
        expected_version: int | None = None,
    ) -> int:
        """Write documents, delete the named ones and bump the version in one atomic step; return the new version.

        With `expected_version`, raise ConcurrentChange if another writer bumped the version first.
        """
        ...


class ConcurrentChange(Exception):
    """The control plane changed between reading it and writing to it."""


class StoreUnavailable(Exception):
    """A store could not be reached or refused the call (throttled, timed out, down)."""


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
