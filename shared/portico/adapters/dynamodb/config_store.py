"""The control plane in DynamoDB: one item per document plus a version item, changed in one transaction."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from portico.adapters import aws
from portico.core.ports import ChangeTooLarge, ConcurrentChange, SkippedItem, Snapshot, StoredDocument, StoreUnavailable
from portico.core.untrusted import UntrustedInputError, load_json

if TYPE_CHECKING:
    from portico.core.config.history import ChangeRecord, History

log = logging.getLogger("portico.config")

META_KIND = "__meta__"
HISTORY_KIND = "__history__"  # audit records: {kind, name: zero-padded version, record (JSON text)}
VERSION_NAME = "version"
MAX_CHANGES = 98  # DynamoDB transactions hold at most 100 items; one is the version item, one the history record.
MAX_RECORD_BYTES = 300 * 1024  # a record's bodies past this are dropped (the item must stay under 400 KB)
MAX_ITEM_BYTES = 400 * 1024  # DynamoDB's item size limit: a larger body was not written by Portico


def body_hash(body: Mapping[str, Any]) -> str:
    """A stable hash of a document's canonical JSON: equal documents are never rewritten."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class DynamoDbConfigStore:
    """Items: {kind, name, body (JSON text), hash}. The version item is {kind: "__meta__", name: "version", version}."""

    def __init__(self, table_name: str, client: Any = None) -> None:
        self._table = table_name
        self._client = client if client is not None else aws.client("dynamodb")

    def version(self) -> int:
        try:
            item = self._client.get_item(
                TableName=self._table,
                Key={"kind": {"S": META_KIND}, "name": {"S": VERSION_NAME}},
                ConsistentRead=True,
                ProjectionExpression="version",
            ).get("Item")
        except (ClientError, BotoCoreError) as exc:
            raise StoreUnavailable(f"config table {self._table}: {exc}") from exc
        return _version_of(item)

    def snapshot(self) -> Snapshot:
        """Scan the table between two equal version reads, so the documents belong to one version."""
        for _ in range(5):
            before = self.version()
            items = self._scan()
            if self.version() == before:
                return _to_snapshot(before, items)
        raise StoreUnavailable("config kept changing while it was read; try again")

    def _scan(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "ConsistentRead": True,
            # the audit trail lives in this table too; readers never need it
            "FilterExpression": "#k <> :history",
            "ExpressionAttributeNames": {"#k": "kind"},
            "ExpressionAttributeValues": {":history": {"S": HISTORY_KIND}},
        }
        try:
            while True:
                page = self._client.scan(**kwargs)
                items.extend(page.get("Items", []))
                if "LastEvaluatedKey" not in page:
                    return items
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as exc:
            raise StoreUnavailable(f"config table {self._table}: {exc}") from exc

    def apply(
        self,
        documents: Sequence[StoredDocument],
        deletes: Sequence[tuple[str, str]] = (),
        *,
        expected_version: int | None = None,
        record: ChangeRecord | None = None,
    ) -> int:
        if len(documents) + len(deletes) > MAX_CHANGES:
            raise ChangeTooLarge(
                f"{len(documents) + len(deletes)} changes exceed the {MAX_CHANGES} one transaction can hold; "
                "apply the files in smaller parts"
            )
        current = self.version() if expected_version is None else expected_version
        if not documents and not deletes:
            return current
        ops: list[dict[str, Any]] = [{"Put": self._put(doc)} for doc in documents]
        ops += [{"Delete": {"TableName": self._table, "Key": {"kind": {"S": k}, "name": {"S": n}}}} for k, n in deletes]
        ops.append({"Update": self._bump(current)})
        if record is not None:
            ops.append({"Put": self._record(record, current + 1)})
        try:
            self._client.transact_write_items(TransactItems=ops)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                reasons = exc.response.get("CancellationReasons", [])
                if any(r.get("Code") == "ConditionalCheckFailed" for r in reasons) or not reasons:
                    raise ConcurrentChange(
                        f"the config changed since version {current} was read; read it again and retry"
                    ) from exc
            raise StoreUnavailable(f"config table {self._table}: {exc}") from exc
        except BotoCoreError as exc:
            raise StoreUnavailable(f"config table {self._table}: {exc}") from exc
        return current + 1

    def _put(self, doc: StoredDocument) -> dict[str, Any]:
        body = dict(doc.body)
        return {
            "TableName": self._table,
            "Item": {
                "kind": {"S": doc.kind},
                "name": {"S": doc.name},
                "body": {"S": json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)},
                "hash": {"S": body_hash(body)},
            },
        }

    def _record(self, record: ChangeRecord, version: int) -> dict[str, Any]:
        from dataclasses import replace

        from portico.core.config.history import encode

        data = encode(replace(record, version=version), MAX_RECORD_BYTES)
        return {
            "TableName": self._table,
            "Item": {
                "kind": {"S": HISTORY_KIND},
                "name": {"S": f"{version:012d}"},  # sorts by version
                "record": {"S": json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)},
            },
            "ConditionExpression": "attribute_not_exists(#k)",  # a version is recorded once
            "ExpressionAttributeNames": {"#k": "kind"},
        }

    def history(self) -> History:
        """Every kept record, newest first; an item that does not decode is logged and named in `skipped`."""
        from portico.core.config.history import History, decode

        records: list[ChangeRecord] = []
        skipped: list[str] = []
        for item in self._history_items():
            name = item.get("name", {}).get("S", "?") if isinstance(item.get("name"), dict) else "?"
            raw = item.get("record")
            try:
                text = raw.get("S") if isinstance(raw, dict) else None
                if not isinstance(text, str):
                    raise ValueError("no record text")
                record = decode(load_json(text, what="history record", max_bytes=MAX_ITEM_BYTES))
                if f"{record.version:012d}" != name:
                    raise ValueError(f"records version {record.version}")
            except (ValueError, UntrustedInputError) as exc:
                skipped.append(f"history item {name}: {exc}")
                log.error("skipped corrupted history item %s: %s", name, exc)
                continue
            records.append(record)
        records.sort(key=lambda r: r.version, reverse=True)
        return History(tuple(records), tuple(skipped))

    def prune_history(self, keep: int) -> int:
        names = sorted(item["name"]["S"] for item in self._history_items(keys_only=True))
        doomed = names[: max(0, len(names) - keep)]
        try:
            for name in doomed:
                self._client.delete_item(TableName=self._table, Key={"kind": {"S": HISTORY_KIND}, "name": {"S": name}})
        except (ClientError, BotoCoreError) as exc:
            raise StoreUnavailable(f"config table {self._table}: {exc}") from exc
        return len(doomed)

    def _history_items(self, *, keys_only: bool = False) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "ConsistentRead": True,
            "KeyConditionExpression": "#k = :history",
            "ExpressionAttributeNames": {"#k": "kind"},
            "ExpressionAttributeValues": {":history": {"S": HISTORY_KIND}},
        }
        if keys_only:
            kwargs["ProjectionExpression"] = "#k, #n"
            kwargs["ExpressionAttributeNames"]["#n"] = "name"
        try:
            while True:
                page = self._client.query(**kwargs)
                items.extend(page.get("Items", []))
                if "LastEvaluatedKey" not in page:
                    return items
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as exc:
            raise StoreUnavailable(f"config table {self._table}: {exc}") from exc

    def _bump(self, current: int) -> dict[str, Any]:
        return {
            "TableName": self._table,
            "Key": {"kind": {"S": META_KIND}, "name": {"S": VERSION_NAME}},
            "UpdateExpression": "SET version = :next",
            "ConditionExpression": "attribute_not_exists(version) OR version = :current"
            if current == 0
            else "version = :current",
            "ExpressionAttributeValues": {":next": {"N": str(current + 1)}, ":current": {"N": str(current)}},
        }


def _version_of(item: Mapping[str, Any] | None) -> int:
    if not item or "version" not in item:
        return 0
    try:
        return int(item["version"]["N"])
    except (KeyError, TypeError, ValueError):
        log.error("config version item is malformed: %r; treating as 0", item)
        return 0


def _to_snapshot(version: int, items: Sequence[Mapping[str, Any]]) -> Snapshot:
    """Decode items; any item that is not a well-formed document is reported in `skipped`, never raised."""
    docs: list[StoredDocument] = []
    skipped: list[SkippedItem] = []
    for item in items:
        kind = item.get("kind", {}).get("S") if isinstance(item.get("kind"), dict) else None
        name = item.get("name", {}).get("S") if isinstance(item.get("name"), dict) else None
        if kind in (META_KIND, HISTORY_KIND):
            continue
        raw = item.get("body")
        text = raw.get("S") if isinstance(raw, dict) else None
        if not kind or not name or not isinstance(text, str):
            skipped.append(SkippedItem(kind or "?", name or "?", "item lacks kind, name or a string body"))
            continue
        try:
            body = load_json(text, what="body", max_bytes=MAX_ITEM_BYTES)
        except UntrustedInputError as exc:
            skipped.append(SkippedItem(kind, name, str(exc)))
            continue
        if not isinstance(body, dict):
            skipped.append(SkippedItem(kind, name, "body is not a JSON object"))
            continue
        docs.append(StoredDocument(kind=kind, name=name, body=body))
    for line in skipped:
        log.error("skipped corrupted config item: %s", line)
    return Snapshot(version=version, documents=docs, skipped=skipped)
