"""Counters and gauges of one sidecar, rendered as Prometheus text for the admin /stats endpoint."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

Labels = tuple[tuple[str, str], ...]


def _fmt(labels: Labels) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"' for k, v in labels)
    return "{" + inner + "}"


class Stats:
    def __init__(self) -> None:
        self._counters: dict[str, dict[Labels, int]] = defaultdict(lambda: defaultdict(int))
        self._gauges: dict[str, Callable[[], list[tuple[Labels, float]]]] = {}
        self._help: dict[str, str] = {}

    def inc(self, name: str, labels: Labels = (), by: int = 1) -> None:
        self._counters[name][labels] += by

    def value(self, name: str, labels: Labels = ()) -> int:
        return self._counters.get(name, {}).get(labels, 0)

    def total(self, name: str) -> int:
        return sum(self._counters.get(name, {}).values())

    def gauge(self, name: str, read: Callable[[], list[tuple[Labels, float]]], help_text: str = "") -> None:
        self._gauges[name] = read
        self._help[name] = help_text

    def render(self) -> str:
        out: list[str] = []
        for name in sorted(self._counters):
            out.append(f"# TYPE {name} counter")
            out.extend(f"{name}{_fmt(lbl)} {v}" for lbl, v in sorted(self._counters[name].items()))
        for name in sorted(self._gauges):
            if self._help[name]:
                out.append(f"# HELP {name} {self._help[name]}")
            out.append(f"# TYPE {name} gauge")
            out.extend(f"{name}{_fmt(lbl)} {v:g}" for lbl, v in self._gauges[name]())
        return "\n".join(out) + "\n"
