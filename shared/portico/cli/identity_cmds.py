"""`portico consumers create-key|revoke-key` and `portico dev token`: API keys and local dev-issuer tokens.

A new key is printed once and only its SHA-256 is stored, in the Consumer document, through the same
apply path as `portico apply` (one transaction with a version bump; edges pick it up on their next refresh).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path
from typing import Annotated

import typer

from portico.cli import dev_cmds
from portico.cli.config_cmds import open_store
from portico.cli.output import EXIT_UNAVAILABLE, err, fail, out
from portico.controlplane import apply_documents
from portico.core.config.context import ValidationSettings
from portico.core.config.documents import Consumer
from portico.core.config.identity import ApiKeyRef, ConsumerSpec
from portico.core.config.metadata import Metadata
from portico.core.config.snapshot import load_snapshot
from portico.core.portal.accounts import api_key
from portico.core.ports import ConcurrentChange, ConfigStore, StoreUnavailable

consumers = typer.Typer(help="API consumers and their keys.", no_args_is_help=True)


def new_key() -> str:
    return api_key(secrets.token_bytes(32))  # 256 bits from the OS CSPRNG


def _current(store: ConfigStore, name: str) -> Consumer | None:
    loaded = load_snapshot(store.snapshot(), ValidationSettings(allow_loopback=True))
    return loaded.config.consumers.get(name)


def _save(store: ConfigStore, doc: Consumer) -> int:
    try:
        from portico.cli.history_cmds import audit_now  # key changes are config changes: recorded like apply

        return apply_documents(store, [doc], audit=audit_now()).version_after
    except ConcurrentChange as exc:
        fail(f"{exc}; nothing was written, run the command again")
    except StoreUnavailable as exc:
        fail(f"config store unavailable: {exc}; nothing was written", EXIT_UNAVAILABLE)


@consumers.command("create-key")
def create_key(
    name: Annotated[str, typer.Argument(help="The Consumer; created when it does not exist.")],
    key_id: Annotated[str | None, typer.Option("--id", help="A name for the key (default: random).")] = None,
    plan: Annotated[str | None, typer.Option(help="RateLimitPolicy for a new Consumer.")] = None,
) -> None:
    """Create an API key for NAME: the key is printed once (last line), only its SHA-256 is stored."""
    store = open_store()
    try:
        existing = _current(store, name)
    except StoreUnavailable as exc:
        fail(f"config store unavailable: {exc}", EXIT_UNAVAILABLE)
    spec = existing.spec if existing is not None else ConsumerSpec(plan=plan)
    ids = {k.id for k in spec.api_keys}
    kid = key_id or f"key-{secrets.token_hex(4)}"
    if kid in ids:
        fail(f"Consumer {name!r} already has a key with id {kid!r}")
    key = new_key()
    ref = ApiKeyRef(id=kid, sha256=hashlib.sha256(key.encode()).hexdigest())
    updated = spec.model_copy(update={"api_keys": [*spec.api_keys, ref]})
    doc = Consumer(api_version="portico/v1", kind="Consumer", metadata=Metadata(name=name), spec=updated)
    version = _save(store, doc)
    err.print(f"created key {kid!r} for Consumer {name!r} (config version {version}); it is shown only now:")
    out.print(key, markup=False, highlight=False, soft_wrap=True)


@consumers.command("revoke-key")
def revoke_key(name: Annotated[str, typer.Argument()], key_id: Annotated[str, typer.Argument()]) -> None:
    """Mark one key revoked; edges refuse it from their next config refresh."""
    store = open_store()
    existing = _current(store, name)
    if existing is None or key_id not in {k.id for k in existing.spec.api_keys}:
        fail(f"Consumer {name!r} has no key {key_id!r}")
    keys = [k.model_copy(update={"status": "revoked"}) if k.id == key_id else k for k in existing.spec.api_keys]
    doc = existing.model_copy(update={"spec": existing.spec.model_copy(update={"api_keys": keys})})
    version = _save(store, doc)
    out.print(f"revoked key {key_id!r} of Consumer {name!r}; config version {version}")


@consumers.command("pending")
def pending() -> None:
    """List consumers who signed up in the developer portal and wait for approval (Portal approval: manual)."""
    store = open_store()
    try:
        loaded = load_snapshot(store.snapshot(), ValidationSettings(allow_loopback=True))
    except StoreUnavailable as exc:
        fail(f"config store unavailable: {exc}", EXIT_UNAVAILABLE)
    waiting = sorted(n for n, c in loaded.config.consumers.items() if c.spec.status == "pending")
    if not waiting:
        err.print("no consumers are waiting for approval")
        return
    for name in waiting:
        spec = loaded.config.consumers[name].spec
        subjects = ",".join(spec.subjects)
        line = f"{name}  plan={spec.plan or '-'}  subjects={subjects}"
        out.print(line, markup=False, highlight=False, soft_wrap=True)


@consumers.command("approve")
def approve(name: Annotated[str, typer.Argument(help="A pending Consumer's name (see `consumers pending`).")]) -> None:
    """Approve a pending consumer: its keys work from the edges' next config refresh."""
    store = open_store()
    try:
        existing = _current(store, name)
    except StoreUnavailable as exc:
        fail(f"config store unavailable: {exc}", EXIT_UNAVAILABLE)
    if existing is None:
        fail(f"no Consumer named {name!r}")
    if existing.spec.status == "active":
        err.print(f"Consumer {name!r} is already active; nothing was written")
        return
    doc = existing.model_copy(update={"spec": existing.spec.model_copy(update={"status": "active"})})
    version = _save(store, doc)
    out.print(f"approved Consumer {name!r}; config version {version}")


def _issuer_dir() -> Path:
    explicit = os.environ.get("PORTICO_DEV_ISSUER_DIR")
    return Path(explicit) if explicit else dev_cmds.repo_root() / ".portico" / "issuer"


def token(
    sub: Annotated[str, typer.Option(help="The subject (sub claim).")] = "dev-user",
    scope: Annotated[list[str] | None, typer.Option(help="A scope; repeat, or give several space-separated.")] = None,
    aud: Annotated[str | None, typer.Option(help="The audience (default: the demo's api://portico-demo).")] = None,
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds.", min=1, max=86400)] = 3600,
) -> None:
    """Mint a JWT from the local dev issuer (its key is created by `portico dev up`)."""
    dev_cmds.add_localdev_path()
    from localdev.issuer import AUDIENCE, DEFAULT_SCOPES, KEY_FILE, ensure_key, mint

    directory = _issuer_dir()
    if not (directory / KEY_FILE).exists():
        fail(f"no dev issuer key in {directory}; start the local stack with `portico dev up` first")

    scopes = " ".join(scope) if scope is not None else DEFAULT_SCOPES
    minted = mint(ensure_key(directory), sub=sub, scope=scopes, aud=aud or AUDIENCE, ttl=ttl)
    out.print(minted, markup=False, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.add_typer(consumers, name="consumers")
    dev_cmds.dev.command("token")(token)
