"""The I/O seams of the core, as Protocols: adapters implement them, entry points construct them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from portico.core.http import Request, Response

if TYPE_CHECKING:
    from portico.core.config.history import ChangeRecord, History


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
class SkippedItem:
    """A stored item that is not served: which one (kind and name as keyed in the store) and why."""

    kind: str
    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}: {self.reason}" if self.kind else f"{self.name}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A consistent view of the control plane at one version, with the items that failed to load."""

    version: int
    documents: Sequence[StoredDocument]
    skipped: Sequence[SkippedItem] = ()


class ConfigStore(Protocol):
    def version(self) -> int: ...

    def snapshot(self) -> Snapshot: ...

    def apply(
        self,
        documents: Sequence[StoredDocument],
        deletes: Sequence[tuple[str, str]] = (),
        *,
        expected_version: int | None = None,
        record: ChangeRecord | None = None,
    ) -> int:
        """Write documents, delete the named ones and bump the version in one atomic step; return the new version.

        With `expected_version`, raise ConcurrentChange if another writer bumped the version first. A `record` (the
        audit trail's entry for this change) is written in the same atomic step, or the change is not made.
        """
        ...


@runtime_checkable
class HistoryStore(Protocol):
    """The control plane's audit trail, kept beside the config (see core/config/history.py)."""

    def history(self) -> History:
        """Every kept record, newest first; unreadable items are named in `skipped`, never raised."""
        ...

    def prune_history(self, keep: int) -> int:
        """Delete all but the newest `keep` records; return how many were deleted."""
        ...


class ConcurrentChange(Exception):
    """The control plane changed between reading it and writing to it."""


class ChangeTooLarge(ValueError):
    """One apply would change more documents than the store can write atomically; nothing was written."""


class StoreUnavailable(Exception):
    """A store could not be reached or refused the call (throttled, timed out, down)."""


class QuotaStore(Protocol):
    """Counters for rate limits and quotas. `add` is the hot path: one conditional write, never a read."""

    async def add(self, key: str, amount: int, ceiling: int, expires_at: int) -> int | None:
        """Atomically add `amount` to counter `key` unless the result would exceed `ceiling`.

        Returns the new count, or None when refused (the counter is unchanged). A new counter starts at 0 and
        expires (TTL) at `expires_at` epoch seconds. Raises StoreUnavailable when the store cannot answer.
        A negative `amount` gives back an earlier charge (a timed-out check whose request was refused).
        """
        ...

    async def counts(self, keys: Sequence[str]) -> dict[str, int]:
        """Current values of the given counters (absent ones are 0). For operators, never on the request path."""
        ...


class Transport(Protocol):
    """Sends one request to the origin `url` names (the engine has already chosen it) and returns its response.

    `timeout` bounds this one try, connecting included (None: no limit). A failure raises an UpstreamError: connect
    failure (nothing was sent), reset (the connection broke after sending), timeout, refused (policy) or overflow
    (the connection pool is full). It never answers a 5xx of its own and never retries on another instance.
    """

    async def send(self, request: Request, url: str, timeout: float | None) -> Response: ...


class UpstreamError(Exception):
    """Base of the failures a Transport reports; the dispatcher maps them to 502 or 504."""


class UpstreamTimeout(UpstreamError):
    pass


class UpstreamConnectError(UpstreamError):
    """No connection could be made: nothing was sent, so any method may be retried elsewhere."""


class UpstreamReset(UpstreamError):
    """The connection broke after the request went out, before a whole response came back."""


class UpstreamOverflow(UpstreamError):
    """The connection pool's connection and pending limits are both reached: fail fast (circuit breaking)."""


class UpstreamRefused(UpstreamError):
    """The destination was refused by policy (for example it resolved to a metadata address)."""


@dataclass(frozen=True, slots=True)
class IssuedCert:
    """A workload certificate and its private key as a CertSource hands them over, PEM throughout.

    `chain_pem` is the leaf followed by any intermediates (what the sidecar presents); the key never leaves memory.
    """

    chain_pem: bytes
    key_pem: bytes
    serial: int
    not_before: float
    not_after: float
    identity: str  # the SPIFFE ID the certificate names


class CertSource(Protocol):
    """Where a sidecar's identity comes from (AWS Private CA, an exported ACM certificate, files). Blocking I/O:
    callers on an event loop run it in a thread."""

    def issue(self) -> IssuedCert:
        """A certificate to present from now on: freshly issued, or the current one for sources that renew
        themselves. Raises CertSourceError when none can be had."""
        ...

    def trust_bundle(self) -> bytes:
        """PEM CA certificates that peers' certificates must chain to."""
        ...


class CertSourceError(Exception):
    """A certificate or trust bundle could not be obtained (CA unreachable, not active, bad response)."""
