"""Parses multi-document YAML into typed documents, with errors that name file, document, field path and reason."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from portico.core.config.context import ValidationSettings
from portico.core.config.unsupported import unsupported
from portico.core.untrusted import UntrustedInputError, load_yaml_all

if TYPE_CHECKING:
    from portico.core.config.documents import Document

# kind name -> its document model; the accepted apiVersions are the model's `api_version` Literal
Kinds = Mapping[str, type[BaseModel]]


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem in one document. `index` counts documents in the file from 1."""

    file: str
    index: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: document {self.index}" if self.index else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(Exception):
    def __init__(self, issues: Sequence[ConfigIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


def _format_loc(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _aliases(model: type[BaseModel]) -> dict[str, Any]:
    """Field names as the user writes them, mapped to their annotations."""
    out: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        alias = info.validation_alias if isinstance(info.validation_alias, str) else info.alias
        out[alias or name] = info.annotation
    return out


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The model classes an annotation may hold (through Optional, list, dict and unions)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _models_in(args[0])
    if origin in (typing.Union, types.UnionType, list, tuple, dict, set, frozenset):
        found: list[type[BaseModel]] = []
        for arg in args[1:] if origin is dict else args:
            found.extend(_models_in(arg))
        return found
    return []


def _known_fields(root: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """The field names valid at `loc` (the parent of an unknown field), walking the model tree."""
    candidates: list[type[BaseModel]] = [root]
    for part in loc:
        if isinstance(part, int):
            continue
        nxt: list[type[BaseModel]] = []
        for model in candidates:
            fields = _aliases(model)
            if part in fields:
                nxt.extend(_models_in(fields[part]))
        if not nxt:  # a dict key (e.g. a part name or a header name): stay on the value models
            nxt = candidates
        candidates = nxt
    names: list[str] = []
    for model in candidates:
        names.extend(_aliases(model))
    return names


def _issues_from(err: ValidationError, model: type[BaseModel], file: str, index: int) -> list[ConfigIssue]:
    issues = []
    for e in err.errors(include_url=False):
        loc = [p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        message = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden" and loc:
            unknown = str(loc[-1])
            close = difflib.get_close_matches(unknown, _known_fields(model, loc[:-1]), n=1, cutoff=0.6)
            message = f"unknown field {unknown!r}" + (f"; did you mean {close[0]!r}?" if close else "")
        elif e["type"] == "literal_error" and loc and loc[-1] == "apiVersion":
            message = f"{message}"
        issues.append(ConfigIssue(file, index, _format_loc(loc), message))
    return issues


def all_kinds() -> Kinds:
    """Every kind Portico knows. Imported on first use: the sidecar passes only the mesh kinds (MESH_KINDS) and
    never loads the edge's models."""
    from portico.core.config.documents import KINDS

    return KINDS


def api_versions(model: type[BaseModel]) -> tuple[str, ...]:
    return typing.get_args(model.model_fields["api_version"].annotation)


def validate_document(
    raw: Any,
    *,
    file: str = "<input>",
    index: int = 0,
    settings: ValidationSettings | None = None,
    kinds: Kinds | None = None,
) -> tuple[Document | None, list[ConfigIssue]]:
    """Validate one already-parsed document against `kinds` (default: all). The typed document, or None with the
    issues."""
    known = all_kinds() if kinds is None else kinds
    if not isinstance(raw, dict):
        return None, [
            ConfigIssue(file, index, "", "a document must be a mapping with apiVersion, kind, metadata, spec")
        ]
    gaps = unsupported(raw)
    if gaps:  # before the models: an Istio feature Portico lacks is named, never "unknown field"
        return None, [ConfigIssue(file, index, path, message) for path, message in gaps]
    kind = raw.get("kind")
    if not isinstance(kind, str) or kind not in known:
        close = difflib.get_close_matches(str(kind), list(known), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else f"; known kinds: {', '.join(known)}"
        return None, [ConfigIssue(file, index, "kind", f"unknown kind {kind!r}{hint}")]
    model = known[kind]
    version = raw.get("apiVersion")
    if version not in api_versions(model):
        accepted = ", ".join(api_versions(model))
        return None, [ConfigIssue(file, index, "apiVersion", f"{version!r} is not accepted for {kind}; use {accepted}")]
    try:
        doc = model.model_validate(raw, context={"settings": settings or ValidationSettings()})
    except ValidationError as err:
        return None, _issues_from(err, model, file, index)
    return typing.cast("Document", doc), []


def parse_documents(
    text: str, *, file: str = "<input>", settings: ValidationSettings | None = None
) -> tuple[list[Document], list[ConfigIssue]]:
    """Parse and validate every document of a multi-document YAML text. Empty documents are ignored."""
    try:
        raws = load_yaml_all(text)
    except UntrustedInputError as exc:
        return [], [ConfigIssue(file, 0, "", str(exc))]
    docs: list[Document] = []
    issues: list[ConfigIssue] = []
    for index, raw in enumerate(raws, start=1):
        if raw is None:
            continue
        doc, found = validate_document(raw, file=file, index=index, settings=settings)
        issues.extend(found)
        if doc is not None:
            docs.append(doc)
    seen: dict[tuple[str, str], int] = {}
    for doc in docs:
        key = (doc.kind, doc.metadata.name)
        if key in seen:
            issues.append(ConfigIssue(file, 0, "", f"{doc.kind} {doc.metadata.name!r} is defined twice"))
        seen[key] = 1
    return docs, issues
