"""Import helpers for the App Mesh tests: read files here (the core does no I/O), translate, validate the output."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from portico.core.appmesh.inputs import Resource, resources_in
from portico.core.appmesh.source import load_text
from portico.core.appmesh.translate import Translation, render, translate
from portico.core.config.configset import ConfigSet
from portico.core.config.loader import parse_documents

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "fixtures" / "appmesh"
# AWS's walkthrough files sit beside the repository (../shared/appmesh-examples); a worktree may point elsewhere.
EXAMPLES = Path(os.environ.get("PORTICO_APPMESH_EXAMPLES", REPO.parent / "shared" / "appmesh-examples"))


@functools.cache
def _parsed(path: Path) -> Any:
    return load_text(str(path), path.read_text(encoding="utf-8"))


def resources(paths: Sequence[Path], params: Mapping[str, str] | None = None) -> list[Resource]:
    out: list[Resource] = []
    for path in paths:
        out.extend(resources_in(str(path), _parsed(path), params or {}))
    return out


def import_files(paths: Sequence[Path], params: Mapping[str, str] | None = None) -> Translation:
    return translate(resources(paths, params))


def assert_valid(result: Translation) -> list[Any]:
    """What `portico validate` checks: every document's schema and the references between them."""
    docs, issues = parse_documents(render(result), file="<imported>")
    assert not issues, issues
    assert not ConfigSet.of(docs).reference_errors()
    return docs
