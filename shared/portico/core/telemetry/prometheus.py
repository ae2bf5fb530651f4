"""Prometheus text exposition (format 0.0.4): counters, gauges and histograms; a parser and histogram quantiles.

The registry renders what the sidecar's admin /stats serves; `parse` and `quantile` read it back for `portico graph`.
Pure: no clock, no I/O.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

Labels = tuple[tuple[str, str], ...]

# Istio's istio_request_duration_milliseconds buckets, up to a minute (longer answers land in +Inf)
DURATION_BUCKETS_MS: tuple[float, ...] = (0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000)


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def format_labels(labels: Labels) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{escape(v)}"' for k, v in labels) + "}"


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))


@dataclass(slots=True)
class _Histogram:
    bounds: tuple[float, ...]
    counts: list[int]  # per bucket, not cumulative; the last one is +Inf
    total: float = 0.0
    count: int = 0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value
        self.count += 1


class Registry:
    """Counters, callback gauges and fixed-bucket histograms, each family rendered with its HELP and TYPE."""

    def __init__(self) -> None:
        self._counters: dict[str, dict[Labels, float]] = defaultdict(lambda: defaultdict(float))
        self._gauges: dict[str, Callable[[], Iterable[tuple[Labels, float]]]] = {}
        self._histograms: dict[str, dict[Labels, _Histogram]] = defaultdict(dict)
        self._buckets: dict[str, tuple[float, ...]] = {}
        self._help: dict[str, str] = {}

    def describe(self, name: str, help_text: str) -> None:
        self._help[name] = help_text

    def inc(self, name: str, labels: Labels = (), by: float = 1) -> None:
        self._counters[name][labels] += by

    def value(self, name: str, labels: Labels = ()) -> float:
        return self._counters.get(name, {}).get(labels, 0)

    def total(self, name: str) -> float:
        return sum(self._counters.get(name, {}).values())

    def gauge(self, name: str, read: Callable[[], Iterable[tuple[Labels, float]]], help_text: str = "") -> None:
        self._gauges[name] = read
        if help_text:
            self._help[name] = help_text

    def histogram(self, name: str, buckets: Sequence[float], help_text: str = "") -> None:
        if list(buckets) != sorted(set(buckets)):
            raise ValueError(f"histogram {name} buckets must be strictly increasing")
        self._buckets[name] = tuple(float(b) for b in buckets)
        if help_text:
            self._help[name] = help_text

    def observe(self, name: str, labels: Labels, value: float) -> None:
        bounds = self._buckets.get(name)
        if bounds is None:
            raise KeyError(f"histogram {name} was not declared")
        found = self._histograms[name].get(labels)
        if found is None:
            found = self._histograms[name][labels] = _Histogram(bounds, [0] * (len(bounds) + 1))
        found.observe(value)

    def histogram_count(self, name: str, labels: Labels) -> int:
        found = self._histograms.get(name, {}).get(labels)
        return found.count if found else 0

    def render(self) -> str:
        out: list[str] = []
        for name in sorted(self._counters):
            self._head(out, name, "counter")
            out.extend(f"{name}{format_labels(lb)} {_number(v)}" for lb, v in sorted(self._counters[name].items()))
        for name in sorted(self._gauges):
            self._head(out, name, "gauge")
            out.extend(f"{name}{format_labels(lb)} {_number(v)}" for lb, v in self._gauges[name]())
        for name in sorted(self._histograms):
            self._head(out, name, "histogram")
            for labels, hist in sorted(self._histograms[name].items()):
                running = 0
                for bound, n in zip((*hist.bounds, math.inf), hist.counts, strict=True):
                    running += n
                    le = (*labels, ("le", _number(bound)))
                    out.append(f"{name}_bucket{format_labels(le)} {running}")
                out.append(f"{name}_sum{format_labels(labels)} {_number(hist.total)}")
                out.append(f"{name}_count{format_labels(labels)} {hist.count}")
        return "\n".join(out) + "\n"

    def _head(self, out: list[str], name: str, kind: str) -> None:
        if name in self._help:
            out.append(f"# HELP {name} {self._help[name]}")
        out.append(f"# TYPE {name} {kind}")


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float

    def label(self, key: str, default: str = "") -> str:
        return self.labels.get(key, default)


_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')


class ParseError(ValueError):
    pass


def parse(text: str) -> list[Sample]:
    """Samples of a text exposition; comments and blank lines skipped; a malformed line raises ParseError."""
    samples = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        found = _LINE.match(line)
        if found is None:
            raise ParseError(f"line {number}: not a sample: {line[:80]!r}")
        labels = _parse_labels(found.group(3) or "", number)
        samples.append(Sample(found.group(1), labels, _float(found.group(4), number)))
    return samples


def _parse_labels(text: str, number: int) -> dict[str, str]:
    labels: dict[str, str] = {}
    pos = 0
    while pos < len(text):
        found = _LABEL.match(text, pos)
        if found is None:
            raise ParseError(f"line {number}: bad labels near {text[pos : pos + 40]!r}")
        labels[found.group(1)] = re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), found.group(2))
        pos = found.end()
    return labels


def _float(text: str, number: int) -> float:
    try:
        return float(text.replace("Inf", "inf"))
    except ValueError:
        raise ParseError(f"line {number}: bad value {text!r}") from None


def quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """Prometheus' histogram_quantile over cumulative (upper bound, count) pairs; None when there are no counts.

    Linear interpolation inside the bucket that holds the rank; a rank in +Inf answers the highest finite bound.
    """
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] <= 0:
        return None
    total = ordered[-1][1]
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in ordered:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return lower_bound
