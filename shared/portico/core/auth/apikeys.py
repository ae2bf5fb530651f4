"""API-key lookup over the Consumer documents' SHA-256 hashes: an index built once per config version.

Keys are random 256-bit secrets, so one SHA-256 is the right hash (no salt or stretching needed, unlike
passwords). The index is a dict keyed by the digest: the presented key is hashed first, so the dict's timing can at
most reveal bits of a hash nobody can invert; the final check is `hmac.compare_digest` over the two digests.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from portico.core.auth.errors import InvalidKey
from portico.core.config.documents import Consumer


@dataclass(frozen=True, slots=True)
class KeyOwner:
    consumer: str
    key_id: str
    digest: bytes
    scopes: frozenset[str]


def key_digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


class ApiKeyIndex:
    """Active keys only: a revoked key is simply absent, so revocation is one `apply` and one config refresh."""

    def __init__(self, owners: Mapping[bytes, KeyOwner]) -> None:
        self._owners = dict(owners)

    @classmethod
    def from_consumers(cls, consumers: Mapping[str, Consumer]) -> ApiKeyIndex:
        owners: dict[bytes, KeyOwner] = {}
        for name, consumer in consumers.items():
            if consumer.spec.status != "active":
                continue  # a pending consumer's keys open nothing until an operator approves it
            scopes = frozenset(consumer.spec.scopes)
            for ref in consumer.spec.api_keys:
                if ref.status == "active":
                    digest = bytes.fromhex(ref.sha256)
                    owners[digest] = KeyOwner(name, ref.id, digest, scopes)
        return cls(owners)

    def lookup(self, key: str) -> KeyOwner:
        digest = key_digest(key)
        owner = self._owners.get(digest)
        if owner is None or not hmac.compare_digest(owner.digest, digest):
            raise InvalidKey("the API key is not valid")
        return owner

    def __len__(self) -> int:
        return len(self._owners)


def subjects_index(consumers: Mapping[str, Consumer]) -> dict[str, str]:
    """JWT `sub` -> Consumer name, from each Consumer's `subjects`."""
    return {sub: name for name, consumer in consumers.items() for sub in consumer.spec.subjects}
