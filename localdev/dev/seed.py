"""Dev component: applies every demo config file in localdev/demo/config/ through the same path as `portico apply`."""

from __future__ import annotations

import time

from localdev.dev.run import DevRun


def start(run: DevRun) -> None:
    from portico.adapters.aws import table_names
    from portico.adapters.caller import caller_identity
    from portico.adapters.dynamodb.config_store import DynamoDbConfigStore
    from portico.controlplane import Audit, apply_documents, read_files
    from portico.core.config.context import ValidationSettings

    files = sorted((run.root / "localdev" / "demo" / "config").glob("*.yaml"))
    if not files:
        return
    docs = read_files(files, ValidationSettings(allow_loopback=True))
    store = DynamoDbConfigStore(table_names(run.env)["config"])
    result = apply_documents(store, docs, audit=Audit(who=caller_identity(), at=time.time()))
    run.facts["demo config"] = (
        f"{len(docs)} documents from {len(files)} file(s), {len(result.plan.changes)} changed, "
        f"version {result.version_after}"
    )
