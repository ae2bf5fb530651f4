"""The control plane's audit trail: one record per change (who, when, version, content hash, every document's
before and after), and what follows from the records: the config at any kept version, and a diff between two.

Records hold both sides of each change, so a version's config is rebuilt from the current one by undoing the
newer records in turn, and no full copy of the config is stored per version. Pure: time and identity come in.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from portico.core.config.plan import Change, Plan
from portico.core.ports import StoredDocument

Key = tuple[str, str]  # (kind, name)
Body = Mapping[str, Any]


DEFAULT_KEEP = 100


class HistoryError(LookupError):
    """A version cannot be rebuilt: it is not kept, or a record between it and now is missing or unreadable."""


def history_limit(env: Mapping[str, str]) -> int:
    """PORTICO_HISTORY_LIMIT: how many records to keep after a change (default 100), for the CLI and the portal.

    Raises ValueError with the message to show when it is not a whole number of at least 1.
    """
    raw = env.get("PORTICO_HISTORY_LIMIT", str(DEFAULT_KEEP))
    try:
        keep = int(raw)
    except ValueError:
        keep = 0
    if keep < 1:
        raise ValueError(f"PORTICO_HISTORY_LIMIT must be a whole number of records, at least 1 (got {raw!r})")
    return keep


@dataclass(frozen=True, slots=True)
class DocumentChange:
    kind: str
    name: str
    before: Body | None  # None: the document did not exist
    after: Body | None  # None: deleted

    @property
    def action(self) -> str:
        if self.before is None:
            return "create"
        return "delete" if self.after is None else "update"


@dataclass(frozen=True, slots=True)
class ChangeRecord:
    version: int  # the version this change produced
    at: float  # epoch seconds
    who: str  # the caller's identity (an AWS ARN from STS GetCallerIdentity)
    action: str  # apply | delete | rollback | portal (a consumer's own key change, from the developer portal)
    content_hash: str  # of the whole config at `version`
    changes: tuple[DocumentChange, ...]
    note: str = ""  # e.g. "to version 3" for a rollback
    complete: bool = True  # False: the bodies were too large to keep; this record cannot be undone

    def touches(self, kind: str, name: str | None) -> bool:
        return any(c.kind == kind and (name is None or c.name == name) for c in self.changes)

    def summary(self) -> str:
        return ", ".join(f"{c.action} {c.kind}/{c.name}" for c in self.changes)


@dataclass(frozen=True, slots=True)
class History:
    """Records newest first, and the stored items that could not be read (skipped, never fatal)."""

    records: tuple[ChangeRecord, ...]
    skipped: tuple[str, ...] = field(default=())


def content_hash(documents: Iterable[StoredDocument]) -> str:
    """sha256 over the canonical JSON of every (kind, name, body), sorted: equal configs hash equal."""
    rows = sorted(([d.kind, d.name, d.body] for d in documents), key=lambda row: (row[0], row[1]))
    canonical = json.dumps(rows, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def record_for(
    plan_changes: Sequence[Change],
    before: Sequence[StoredDocument],
    *,
    version: int,
    at: float,
    who: str,
    action: str,
    note: str = "",
) -> ChangeRecord:
    """The record of applying `plan_changes` to the config `before`, producing `version`."""
    state = {(d.kind, d.name): d for d in before}
    for c in plan_changes:
        if c.after is None:
            state.pop((c.kind, c.name), None)
        else:
            state[(c.kind, c.name)] = c.after
    changes = tuple(
        DocumentChange(
            c.kind, c.name, dict(c.before.body) if c.before else None, dict(c.after.body) if c.after else None
        )
        for c in plan_changes
    )
    return ChangeRecord(version, at, who, action, content_hash(state.values()), changes, note)


def state_at(
    current: Sequence[StoredDocument], current_version: int, history: History, version: int
) -> dict[Key, Body]:
    """The config as it was at `version`, rebuilt by undoing every newer record from the current config."""
    state: dict[Key, Body] = {(d.kind, d.name): d.body for d in current}
    if version == current_version:
        return state
    if version > current_version or version < 0:
        raise HistoryError(f"version {version} does not exist (the config is at version {current_version})")
    by_version = {r.version: r for r in history.records}
    for v in range(current_version, version, -1):
        record = by_version.get(v)
        if record is None:
            raise HistoryError(
                f"version {version} cannot be rebuilt: the record of version {v} is not kept"
                + (" (unreadable item skipped)" if history.skipped else "")
            )
        if not record.complete:
            raise HistoryError(f"version {version} cannot be rebuilt: version {v} changed more than a record can hold")
        for change in record.changes:
            key = (change.kind, change.name)
            if change.before is None:
                state.pop(key, None)
            else:
                state[key] = change.before
    return state


def diff_plan(old: Mapping[Key, Body], new: Mapping[Key, Body]) -> Plan:
    """The changes that turn config `old` into config `new` (a Plan, so render_diff shows it like apply does)."""
    changes: list[Change] = []
    unchanged = 0
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a == b:
            unchanged += 1
            continue
        kind, name = key
        changes.append(
            Change(
                kind,
                name,
                StoredDocument(kind, name, a) if a is not None else None,
                StoredDocument(kind, name, b) if b is not None else None,
            )
        )
    return Plan(tuple(changes), unchanged, ())


def encode(record: ChangeRecord, max_bytes: int) -> dict[str, Any]:
    """The record as plain data; bodies are dropped (and the record marked incomplete) past `max_bytes`."""
    out: dict[str, Any] = {
        "version": record.version,
        "at": record.at,
        "who": record.who,
        "action": record.action,
        "hash": record.content_hash,
        "note": record.note,
        "changes": [{"kind": c.kind, "name": c.name, "before": c.before, "after": c.after} for c in record.changes],
        "complete": True,
    }
    if len(json.dumps(out["changes"], separators=(",", ":"))) > max_bytes:
        out["changes"] = [
            {"kind": c.kind, "name": c.name, "action": c.action, "before": None, "after": None} for c in record.changes
        ]
        out["complete"] = False
    return out


def decode(data: Any) -> ChangeRecord:
    """A record from plain data; ValueError when anything is missing or of the wrong type."""
    if not isinstance(data, dict):
        raise ValueError("not an object")
    try:
        changes = []
        for raw in data["changes"]:
            if not isinstance(raw, dict) or not isinstance(raw["kind"], str) or not isinstance(raw["name"], str):
                raise ValueError("a change lacks kind or name")
            before, after = raw.get("before"), raw.get("after")
            if not all(x is None or isinstance(x, dict) for x in (before, after)):
                raise ValueError("a document body is not an object")
            if data.get("complete", True) and before is None and after is None:
                raise ValueError("a change has neither side")
            changes.append(DocumentChange(raw["kind"], raw["name"], before, after))
        record = ChangeRecord(
            version=_int(data["version"]),
            at=float(data["at"]),
            who=str(data["who"]),
            action=str(data["action"]),
            content_hash=str(data["hash"]),
            changes=tuple(changes),
            note=str(data.get("note", "")),
            complete=bool(data.get("complete", True)),
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"missing or malformed field: {exc}") from exc
    return record


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value or value < 1:
        raise ValueError(f"version {value!r} is not a positive integer")
    return int(value)
