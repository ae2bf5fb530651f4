"""A signed-in consumer's account: which Consumer a subject is, and its keys as the portal shows and changes them.

Pure: every function takes the current documents and returns the new Consumer document to apply, so the edge writes
through the same apply path (one transaction, a version bump) as `portico apply` and `portico consumers`.
A consumer only ever reaches its own document: every lookup starts from the session's subject.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from portico.core.config.documents import Consumer
from portico.core.config.identity import ApiKeyRef, ConsumerSpec
from portico.core.config.metadata import Metadata
from portico.core.config.portal import PortalSpec

KEY_PREFIX = "ptk_"  # recognisable in logs and by secret scanners


class AccountError(Exception):
    """A request the account cannot honour; `status` is the HTTP answer (403, 404, 409)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


@dataclass(frozen=True, slots=True)
class NewKey:
    consumer: Consumer
    key: str
    key_id: str


def api_key(secret: bytes) -> str:
    """The key a consumer presents: the prefix and 32 random bytes, URL-safe. Only its SHA-256 is ever stored."""
    return KEY_PREFIX + base64.urlsafe_b64encode(secret).rstrip(b"=").decode("ascii")


def consumer_name(issuer: str, subject: str) -> str:
    """A stable Consumer name for a subject the portal signs up: short, valid as metadata.name, not guessable."""
    return "portal-" + hashlib.sha256(f"{issuer}\n{subject}".encode()).hexdigest()[:16]


def find_consumer(consumers: Mapping[str, Consumer], subject: str) -> Consumer | None:
    """The Consumer that lists `subject` (the same mapping the edge uses for JWT `sub` -> consumer)."""
    for doc in consumers.values():
        if subject in doc.spec.subjects:
            return doc
    return None


def sign_up(portal: PortalSpec, issuer: str, subject: str) -> Consumer:
    status = "pending" if portal.approval == "manual" else "active"
    spec = ConsumerSpec(status=status, plan=portal.plan, subjects=[subject])
    return Consumer(
        api_version="portico/v1",
        kind="Consumer",
        metadata=Metadata(name=consumer_name(issuer, subject)),
        spec=spec,
    )


def _with_keys(doc: Consumer, keys: list[ApiKeyRef]) -> Consumer:
    return doc.model_copy(update={"spec": doc.spec.model_copy(update={"api_keys": keys})})


def _active(doc: Consumer) -> list[ApiKeyRef]:
    return [k for k in doc.spec.api_keys if k.status == "active"]


def _require_active(doc: Consumer) -> None:
    if doc.spec.status != "active":
        raise AccountError(403, "your account is waiting for an operator's approval")


def create_key(doc: Consumer, portal: PortalSpec, label: str, secret: bytes, key_id: str, now: float) -> NewKey:
    """Add a key: `secret` is 32 random bytes, `key_id` a fresh id. Only the key's SHA-256 is kept."""
    _require_active(doc)
    if len(_active(doc)) >= portal.max_keys:
        raise AccountError(409, f"you already hold {portal.max_keys} active keys; revoke one first")
    key = api_key(secret)
    ref = ApiKeyRef(id=key_id, sha256=hashlib.sha256(key.encode()).hexdigest(), label=label or None, created=int(now))
    return NewKey(_with_keys(doc, [*doc.spec.api_keys, ref]), key, key_id)


def revoke_key(doc: Consumer, key_id: str) -> Consumer:
    if key_id not in {k.id for k in _active(doc)}:
        raise AccountError(404, "no such active key")
    keys = [k.model_copy(update={"status": "revoked"}) if k.id == key_id else k for k in doc.spec.api_keys]
    return _with_keys(doc, keys)


def rotate_key(doc: Consumer, key_id: str, secret: bytes, new_id: str, now: float) -> NewKey:
    """Revoke `key_id` and issue its successor with the same label, in one write."""
    _require_active(doc)
    old = next((k for k in _active(doc) if k.id == key_id), None)
    if old is None:
        raise AccountError(404, "no such active key")
    key = api_key(secret)
    new = ApiKeyRef(id=new_id, sha256=hashlib.sha256(key.encode()).hexdigest(), label=old.label, created=int(now))
    keys = [k.model_copy(update={"status": "revoked"}) if k.id == key_id else k for k in doc.spec.api_keys]
    return NewKey(_with_keys(doc, [*keys, new]), key, new_id)


def key_views(doc: Consumer) -> list[dict[str, object]]:
    """What the portal lists: never the hash, only id, label, status and creation time."""
    return [{"id": k.id, "label": k.label, "status": k.status, "created": k.created} for k in doc.spec.api_keys]
