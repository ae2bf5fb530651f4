"""The mapping report: for every App Mesh field, what it became in Portico or why it could not be mapped."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from portico.core.appmesh.catalogue import lookup

Status = Literal["mapped", "default", "partial", "unmapped", "ignored", "symbolic"]
FAILING: frozenset[str] = frozenset({"partial", "unmapped"})  # what `--strict` refuses


@dataclass(frozen=True, slots=True)
class Entry:
    file: str
    resource: str  # "Route colorteller-route"
    field: str  # "spec.httpRoute.action.weightedTargets.weight": list indexes dropped, one line per field
    status: Status
    target: str
    why: str = ""


_INDEX = re.compile(r"\[\d+\]")


def pattern(path: str) -> str:
    return _INDEX.sub("", path)


def leaves(value: Any, path: str) -> list[str]:
    """Every leaf path of a spec tree (an empty mapping or list is a leaf too)."""
    if isinstance(value, dict) and value:
        return [p for k, v in value.items() for p in leaves(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, list) and value:
        return [p for i, v in enumerate(value) for p in leaves(v, f"{path}[{i}]")]
    return [path]


@dataclass
class Report:
    entries: list[Entry] = field(default_factory=list)
    _overrides: dict[tuple[str, str, str], Entry] = field(default_factory=dict)

    def override(self, file: str, resource: str, path: str, status: Status, target: str, why: str = "") -> None:
        """A value-dependent verdict (e.g. TLS mode PERMISSIVE) that replaces the catalogue's for this field."""
        entry = Entry(file, resource, pattern(path), status, target, why)
        self._overrides[(file, resource, entry.field)] = entry

    def note(self, file: str, resource: str, path: str, status: Status, target: str, why: str = "") -> None:
        """An extra line: a default App Mesh applies that is now written out, a symbol, a derived name."""
        self.entries.append(Entry(file, resource, path, status, target, why))

    def cover(self, file: str, resource: str, kind: str, spec: Any, root: str = "spec") -> None:
        """One line per field present in `spec`, from the overrides or the catalogue; nothing is left out."""
        seen: set[str] = set()
        for leaf in leaves(spec, root):
            name = pattern(leaf)
            if name in seen:
                continue
            seen.add(name)
            entry = self._override_for(file, resource, name)
            if entry is None:
                row = lookup(kind, name.removeprefix(root + ".") if name != root else "")
                entry = (
                    Entry(file, resource, name, row.status, row.target, row.why)  # type: ignore[arg-type]
                    if row is not None
                    else Entry(file, resource, name, "unmapped", "-", "no Portico equivalent is known to the importer")
                )
            self.entries.append(entry)

    def _override_for(self, file: str, resource: str, name: str) -> Entry | None:
        probe = name
        while probe:
            entry = self._overrides.get((file, resource, probe))
            if entry is not None:
                return Entry(file, resource, name, entry.status, entry.target, entry.why)
            probe = probe.rpartition(".")[0]
        return None

    def failing(self) -> list[Entry]:
        return [e for e in self.entries if e.status in FAILING]


def render_text(report: Report) -> str:
    """The report for stderr: one line per field, grouped by file and resource, then a count per status."""
    lines: list[str] = []
    last: tuple[str, str] | None = None
    for e in sorted(report.entries, key=lambda x: (x.file, x.resource)):
        if (e.file, e.resource) != last:
            lines.append(f"{e.file}: {e.resource}")
            last = (e.file, e.resource)
        why = f"  ({e.why})" if e.why else ""
        lines.append(f"  {e.status:<9} {e.field} -> {e.target}{why}")
    counts: dict[str, int] = {}
    for e in report.entries:
        counts[e.status] = counts.get(e.status, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    lines.append(f"fields: {summary or 'none'}")
    return "\n".join(lines) + "\n"
