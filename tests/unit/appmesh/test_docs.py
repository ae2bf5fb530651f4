"""docs/appmesh.md shows the importer's own tables: the field catalogue and the defaults, word for word."""

from __future__ import annotations

from portico.core.appmesh.catalogue import render_markdown
from portico.core.appmesh.values import render_defaults
from tests.unit.appmesh.support import REPO

DOC = (REPO / "docs" / "appmesh.md").read_text(encoding="utf-8")


def test_field_table_is_the_catalogue() -> None:
    assert render_markdown() in DOC


def test_defaults_table_is_the_code() -> None:
    assert render_defaults() in DOC
