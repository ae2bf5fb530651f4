"""Apply planning: only changed documents are written; normalised equality means no write."""

from __future__ import annotations

from pathlib import Path

from portico.core.config.loader import parse_documents
from portico.core.config.plan import plan_apply, plan_delete, render_diff

FIXTURES = Path(__file__).parents[2] / "fixtures" / "config"


def _docs(text: str):  # type: ignore[no-untyped-def]
    docs, issues = parse_documents(text)
    assert issues == []
    return docs


def test_first_apply_creates_everything_and_reapply_changes_nothing() -> None:
    docs = _docs((FIXTURES / "valid-all.yaml").read_text())
    first = plan_apply([], docs)
    assert [c.action for c in first.changes] == ["create"] * len(docs)
    again = plan_apply(docs, docs)
    assert again.changes == () and again.unchanged == len(docs)


def test_spelling_differences_that_normalise_equal_are_not_changes() -> None:
    text = (FIXTURES / "valid-all.yaml").read_text()
    docs = _docs(text)
    respelled = _docs(text.replace("timeout: 2s", "timeout: 2000ms").replace("methods: [GET]", "methods: [get]"))
    assert plan_apply(docs, respelled).changes == ()


def test_update_shows_a_unified_diff() -> None:
    text = (FIXTURES / "valid-all.yaml").read_text()
    plan = plan_apply(_docs(text), _docs(text.replace("weight: 90", "weight: 80").replace("weight: 10", "weight: 20")))
    assert [(c.action, c.kind) for c in plan.changes] == [("update", "VirtualService")]
    diff = render_diff(plan)
    assert "-      weight: 90" in diff and "+      weight: 80" in diff


def test_deleting_a_referenced_document_reports_the_dangling_reference() -> None:
    docs = _docs((FIXTURES / "valid-all.yaml").read_text())
    plan = plan_delete(docs, "Issuer", "corp")
    assert any("Issuer 'corp'" in e for e in plan.reference_errors)
    assert plan_delete(docs, "Route", "orders-get").reference_errors == ()
