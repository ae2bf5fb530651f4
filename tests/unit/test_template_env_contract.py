"""Every PORTICO_* variable the templates set is one the code reads: a misspelt name would fail only on AWS."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from localdev.tables import load_template

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = [REPO / "template.yaml", *sorted((REPO / "infra").glob("*.yaml"))]


def _names_set(node: object) -> set[str]:
    """PORTICO_* names in Environment.Variables maps (SAM) and {Name, Value} lists (ECS task definitions)."""
    found: set[str] = set()
    if isinstance(node, dict):
        name = node.get("Name")
        if isinstance(name, str) and name.startswith("PORTICO_") and "Value" in node:
            found.add(name)
        variables = node.get("Variables")
        if isinstance(variables, dict):
            found |= {k for k in variables if k.startswith("PORTICO_")}
        for value in node.values():
            found |= _names_set(value)
    elif isinstance(node, list):
        for item in node:
            found |= _names_set(item)
    return found


def _names_read() -> set[str]:
    """PORTICO_* names the package and entry points mention: literally, or as a `get("SUFFIX")` under the prefix."""
    text = "\n".join(p.read_text() for d in ("shared/portico", "functions") for p in (REPO / d).rglob("*.py"))
    literal = set(re.findall(r"PORTICO_[A-Z0-9_]+", text))
    suffixed = {f"PORTICO_{m}" for m in re.findall(r"""get\(\s*["']([A-Z][A-Z0-9_]+)["']""", text)}
    return literal | suffixed


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_every_portico_variable_a_template_sets_is_read_by_the_code(template: Path) -> None:
    unread = _names_set(load_template(template)) - _names_read()
    assert not unread, f"{template.name} sets {sorted(unread)}, which nothing in shared/ or functions/ reads"
