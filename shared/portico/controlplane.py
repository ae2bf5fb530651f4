"""Control-plane operations shared by the CLI and `dev up`: read config files, plan, and apply them to a store."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Union

import yaml
from pydantic import Field, TypeAdapter

from portico.adapters.config_files import with_file_reader
from portico.core.config.configset import ConfigSet
from portico.core.config.context import ValidationSettings
from portico.core.config.documents import (
    KINDS,
    Document,
    to_mapping,
)
from portico.core.config.history import ChangeRecord, HistoryError, diff_plan, record_for, state_at
from portico.core.config.loader import ConfigError, ConfigIssue, parse_documents
from portico.core.config.plan import Change, Plan, plan_apply, plan_delete
from portico.core.config.snapshot import LoadedConfig, load_snapshot
from portico.core.ports import ConfigStore, HistoryStore, StoredDocument


def read_files(paths: Sequence[Path], settings: ValidationSettings) -> list[Document]:
    """Parse and validate every document of every file; raise ConfigError listing all issues, cross-refs included."""
    docs: list[Document] = []
    issues: list[ConfigIssue] = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            issues.append(ConfigIssue(str(path), 0, "", f"cannot read file: {exc}"))
            continue
        found, problems = parse_documents(text, file=str(path), settings=with_file_reader(settings, path))
        docs.extend(found)
        issues.extend(problems)
    if issues:
        raise ConfigError(issues)
    return docs


def check_references(docs: Sequence[Document], source: str) -> None:
    """Every reference of every document given must resolve among the documents given (as `istioctl analyze`).

    Files may hold alternatives of one document (Istio's samples have several `reviews` VirtualServices and
    DestinationRules, each meant to replace the other): each alternative is checked, against every
    DestinationRule given, so the result does not depend on which alternative comes last.
    """
    config = ConfigSet.of(docs)
    for i, rule in enumerate(d for d in docs if d.kind == "DestinationRule"):
        config.destination_rules[f"{rule.metadata.name}#{i}"] = rule
    errors: dict[str, None] = {}
    for doc in docs:
        if doc.kind not in ("Route", "Consumer", "VirtualService"):
            continue
        config.put(doc)
        for ref in config.dangling_references():
            if (ref.kind, ref.name) == (doc.kind, doc.metadata.name):
                errors[str(ref)] = None
    if errors:
        raise ConfigError([ConfigIssue(source, 0, "", e) for e in errors])


@dataclass(frozen=True, slots=True)
class ApplyResult:
    plan: Plan
    version_before: int
    version_after: int
    loaded: LoadedConfig


def broken_items(result: ApplyResult) -> list[str]:
    """Stored items that are broken and that this change left alone: each named, with the command that removes it."""
    found = [(s.kind, s.name, f"{s.reason}; it is not served") for s in result.loaded.skipped]
    found += [(d.kind, d.name, d.reason) for d in result.plan.standing_errors]
    return [
        f"stored {kind} {name!r} is broken: {reason}. Apply a fixed version, or remove it with "
        f"`portico delete {kind.lower()} {name}`"
        for kind, name, reason in found
    ]


@dataclass(frozen=True, slots=True)
class Audit:
    """Who makes a change and when (read by the caller: the core reads no clock and calls no STS), and how many
    history records to keep afterwards."""

    who: str
    at: float
    keep: int = 100


def _write(
    store: ConfigStore, plan: Plan, loaded: LoadedConfig, audit: Audit | None, action: str, note: str = ""
) -> int:
    """Apply `plan` with its history record in the same transaction, then trim the history to `audit.keep`."""
    record: ChangeRecord | None = None
    if audit is not None:
        current = [StoredDocument(d.kind, d.metadata.name, to_mapping(d)) for d in loaded.config.documents()]
        record = record_for(
            plan.changes, current, version=loaded.version + 1, at=audit.at, who=audit.who, action=action, note=note
        )
    version = store.apply(plan.writes, plan.deletes, expected_version=loaded.version, record=record)
    if audit is not None and isinstance(store, HistoryStore):
        store.prune_history(audit.keep)
    return version


def _refuse_duplicates(docs: Sequence[Document]) -> None:
    """One apply writes each document once: two files defining the same one would leave the table to chance (and
    one DynamoDB transaction cannot write an item twice), so the user is asked to choose."""
    seen: set[tuple[str, str]] = set()
    twice: dict[tuple[str, str], None] = {}
    for doc in docs:
        key = (doc.kind, doc.metadata.name)
        if key in seen:
            twice[key] = None
        seen.add(key)
    if twice:
        raise ConfigError(
            [
                ConfigIssue("<apply>", 0, "", f"{kind} {name!r} is defined more than once; apply one of them")
                for kind, name in twice
            ]
        )


def apply_documents(
    store: ConfigStore,
    docs: Sequence[Document],
    *,
    dry_run: bool = False,
    audit: Audit | None = None,
    action: str = "apply",
    note: str = "",
) -> ApplyResult:
    """Plan against the stored config and, unless `dry_run`, write the changes with one version bump (and, with an
    `audit`, their history record: `action` is "apply" for the CLI, "portal" for a consumer's key change).

    The stored config is read with the loopback allowance: what is already stored is not re-judged here.
    """
    _refuse_duplicates(docs)
    loaded = load_snapshot(store.snapshot(), ValidationSettings(allow_loopback=True))
    plan = plan_apply(loaded.config.documents(), docs)
    if plan.reference_errors:
        raise ConfigError([ConfigIssue("<apply>", 0, "", e) for e in plan.reference_errors])
    if dry_run or not plan.changes:
        return ApplyResult(plan, loaded.version, loaded.version, loaded)
    version = _write(store, plan, loaded, audit, action, note)
    return ApplyResult(plan, loaded.version, version, loaded)


def rollback_to(
    store: ConfigStore, target: int, settings: ValidationSettings, *, dry_run: bool = False, audit: Audit | None = None
) -> ApplyResult:
    """Make the config what it was at version `target`: an ordinary apply (validated, one transaction, its own
    history record) that writes the documents that differ and deletes those that did not exist then."""
    if not isinstance(store, HistoryStore):
        raise HistoryError("this config store keeps no history")
    snapshot = store.snapshot()
    loaded = load_snapshot(snapshot, ValidationSettings(allow_loopback=True))
    state = state_at(snapshot.documents, snapshot.version, store.history(), target)
    text = yaml.safe_dump_all([dict(body) for body in state.values()], sort_keys=False)
    docs, issues = parse_documents(text, file=f"<version {target}>", settings=settings)
    if issues:
        raise ConfigError(list(issues))
    check_references(docs, f"<version {target}>")
    current = loaded.config.documents()
    applied = plan_apply(current, docs)
    removed = [
        Change(d.kind, d.metadata.name, StoredDocument(d.kind, d.metadata.name, to_mapping(d)), None)
        for d in current
        if (d.kind, d.metadata.name) not in state
    ]
    plan = Plan(applied.changes + tuple(removed), applied.unchanged, ())
    if dry_run or not plan.changes:
        return ApplyResult(plan, loaded.version, loaded.version, loaded)
    version = _write(store, plan, loaded, audit, "rollback", note=f"to version {target}")
    return ApplyResult(plan, loaded.version, version, loaded)


def diff_versions(store: ConfigStore, old: int, new: int) -> Plan:
    """The changes from version `old` to version `new`, rebuilt from the history."""
    if not isinstance(store, HistoryStore):
        raise HistoryError("this config store keeps no history")
    snapshot = store.snapshot()
    history = store.history()
    return diff_plan(
        state_at(snapshot.documents, snapshot.version, history, old),
        state_at(snapshot.documents, snapshot.version, history, new),
    )


def delete_document(store: ConfigStore, kind: str, name: str, *, audit: Audit | None = None) -> ApplyResult:
    loaded = load_snapshot(store.snapshot(), ValidationSettings(allow_loopback=True))
    plan = plan_delete(loaded.config.documents(), kind, name)
    if not plan.changes and any((s.kind, s.name) == (kind, name) for s in loaded.skipped):
        # A broken stored item is not served, so nothing depends on it: it goes as it is, however it is broken.
        plan = Plan((Change(kind, name, StoredDocument(kind, name, {}), None),), 0, ())
    if not plan.changes:
        raise LookupError(f"{kind} {name!r} does not exist")
    if plan.reference_errors:
        raise ConfigError([ConfigIssue("<delete>", 0, "", e) for e in plan.reference_errors])
    version = _write(store, plan, loaded, audit, "delete")
    return ApplyResult(plan, loaded.version, version, loaded)


# Every kind the loader accepts (KINDS), so a new kind cannot be left out of the editors' schema.
_DOCUMENT_UNION: Any = Union[tuple(KINDS.values())]  # noqa: UP007 - built from the tuple of kinds
_ANY_DOCUMENT: TypeAdapter[Any] = TypeAdapter(Annotated[_DOCUMENT_UNION, Field(discriminator="kind")])


def json_schema() -> str:
    """The JSON Schema of a config document of any kind, for editors (yaml-language-server and the like).

    The top level (what a document is: one of the kinds, told apart by `kind`) comes first and the definitions
    last, so a reader sees the shape before 80-odd `$defs`.
    """
    schema = _ANY_DOCUMENT.json_schema(by_alias=True, mode="validation")
    top = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "Portico config document"}
    top.update({k: v for k, v in schema.items() if k != "$defs"})
    top["$defs"] = schema.get("$defs", {})
    return json.dumps(top, indent=2)
