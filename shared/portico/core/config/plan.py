"""Plans an apply: which documents change, what the diff looks like, and whether the result stays consistent."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

import yaml

from portico.core.config.configset import ConfigSet, DanglingReference
from portico.core.config.documents import Document, to_mapping
from portico.core.ports import StoredDocument


@dataclass(frozen=True, slots=True)
class Change:
    kind: str
    name: str
    before: StoredDocument | None
    after: StoredDocument | None

    @property
    def action(self) -> str:
        if self.before is None:
            return "create"
        return "delete" if self.after is None else "update"


@dataclass(frozen=True, slots=True)
class Plan:
    changes: tuple[Change, ...]
    unchanged: int
    reference_errors: tuple[str, ...]  # introduced by this change: it is refused
    standing_errors: tuple[
        DanglingReference, ...
    ] = ()  # already in the stored config and untouched: reported, not refused

    @property
    def writes(self) -> list[StoredDocument]:
        return [c.after for c in self.changes if c.after is not None]

    @property
    def deletes(self) -> list[tuple[str, str]]:
        return [(c.kind, c.name) for c in self.changes if c.after is None]


def stored(doc: Document) -> StoredDocument:
    return StoredDocument(kind=doc.kind, name=doc.metadata.name, body=to_mapping(doc))


def plan_apply(current: Sequence[Document], incoming: Sequence[Document]) -> Plan:
    """Create or update `incoming` over `current`; documents equal after normalisation are left alone."""
    existing: dict[tuple[str, str], StoredDocument] = {(d.kind, d.metadata.name): stored(d) for d in current}
    changes: list[Change] = []
    unchanged = 0
    for doc in incoming:
        new = stored(doc)
        old = existing.get((new.kind, new.name))
        if old is not None and old.body == new.body:
            unchanged += 1
            continue
        changes.append(Change(new.kind, new.name, old, new))
    merged: dict[tuple[str, str], Document] = {(d.kind, d.metadata.name): d for d in current}
    merged.update({(d.kind, d.metadata.name): d for d in incoming})
    touched: set[tuple[str, str]] = {(d.kind, d.metadata.name) for d in incoming}
    introduced, standing = _split_errors(ConfigSet.of(current), ConfigSet.of(merged.values()), touched)
    return Plan(tuple(changes), unchanged, introduced, standing)


def _split_errors(
    before: ConfigSet, after: ConfigSet, touched: set[tuple[str, str]]
) -> tuple[tuple[str, ...], tuple[DanglingReference, ...]]:
    """Dangling references the change introduces (or writes again), and those the stored config already had.

    An apply is refused only for the first: a hand-edited item that is already broken must not block every
    unrelated change; it is named instead, with how to remove it.
    """
    existing = {str(d) for d in before.dangling_references()}
    introduced: list[str] = []
    standing: list[DanglingReference] = []
    for ref in after.dangling_references():
        if (ref.kind, ref.name) in touched or str(ref) not in existing:
            introduced.append(str(ref))
        else:
            standing.append(ref)
    return tuple(introduced), tuple(standing)


def plan_delete(current: Sequence[Document], kind: str, name: str) -> Plan:
    existing: dict[tuple[str, str], Document] = {(d.kind, d.metadata.name): d for d in current}
    target = existing.pop((kind, name), None)
    if target is None:
        return Plan((), 0, ())
    introduced, standing = _split_errors(ConfigSet.of(current), ConfigSet.of(existing.values()), set())
    return Plan((Change(kind, name, stored(target), None),), 0, introduced, standing)


def render_diff(plan: Plan) -> str:
    """A unified diff per changed document, as YAML, for `apply --dry-run`."""
    out: list[str] = []
    for change in plan.changes:
        before = _yaml(change.before)
        after = _yaml(change.after)
        label = f"{change.kind}/{change.name}"
        out.extend(difflib.unified_diff(before, after, fromfile=f"a/{label}", tofile=f"b/{label}", lineterm=""))
    return "\n".join(out)


def _yaml(doc: StoredDocument | None) -> list[str]:
    if doc is None:
        return []
    return yaml.safe_dump(dict(doc.body), sort_keys=False, default_flow_style=False).splitlines()
