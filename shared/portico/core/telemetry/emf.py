"""CloudWatch embedded metric format (EMF): documents for one request, and an aggregator for periodic flushes.

Written here rather than with Powertools Metrics: serialising one request's metrics through Powertools'
EphemeralMetrics costs ~95 us (a third of the edge's warm budget) against ~10 us here, it reads the clock itself,
and it allows one dimension set per flush, where the sidecar flushes many. Limits follow the EMF specification:
at most 30 dimensions per set, 100 metrics per directive and 100 values per metric.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_DIMENSIONS = 30
MAX_METRICS = 100
MAX_VALUES = 100
MAX_NAME = 255
MAX_DIMENSION_VALUE = 1024

UNITS = frozenset(
    {
        "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
        "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
        "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
        "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
    }
)  # fmt: skip

Value = float | list[float]


class EmfError(ValueError):
    """A document would break the EMF specification (caught when metrics are declared, not per request)."""


def check_name(name: str, what: str) -> str:
    if not 1 <= len(name) <= MAX_NAME:
        raise EmfError(f"{what} {name!r} must be 1-{MAX_NAME} characters")
    if name == "_aws":
        raise EmfError(f"{what} may not be named _aws")
    return name


def dimension_value(value: str) -> str:
    """A dimension value CloudWatch accepts: non-empty, at most 1024 characters."""
    return value[:MAX_DIMENSION_VALUE] if value else "none"


def bounded(value: str | None, allowed: frozenset[str], fallback: str) -> str:
    """Keep cardinality bounded: a value outside the known set (e.g. a raw path) becomes `fallback`."""
    return value if value is not None and value in allowed else fallback


def document(
    namespace: str,
    dimensions: Mapping[str, str],
    values: Mapping[str, Value],
    units: Mapping[str, str],
    timestamp_ms: int,
    properties: Mapping[str, Any] | None = None,
    rollups: Sequence[Sequence[str]] = (),
) -> dict[str, Any]:
    """One EMF log event: metrics `values` under the full dimension set and each rollup (a subset of its keys).

    `properties` ride along as searchable log fields that are not metrics.
    """
    if len(dimensions) > MAX_DIMENSIONS:
        raise EmfError(f"{len(dimensions)} dimensions; EMF allows {MAX_DIMENSIONS}")
    if any(key not in dimensions for rollup in rollups for key in rollup):
        raise EmfError("a rollup names a dimension the document does not carry")
    if len(values) > MAX_METRICS:
        raise EmfError(f"{len(values)} metrics; EMF allows {MAX_METRICS} per directive")
    definitions = []
    for name in values:
        unit = units.get(name, "None")
        if unit not in UNITS:
            raise EmfError(f"metric {name!r} has unit {unit!r}, not a CloudWatch unit")
        definitions.append({"Name": name, "Unit": unit})
    doc: dict[str, Any] = dict(properties or {})
    directive = {"Namespace": namespace, "Dimensions": [list(dimensions), *map(list, rollups)], "Metrics": definitions}
    doc["_aws"] = {"Timestamp": int(timestamp_ms), "CloudWatchMetrics": [directive]}
    for key, value in dimensions.items():
        doc[key] = dimension_value(value)
    for name, metric in values.items():
        doc[name] = metric
    return doc


@dataclass(slots=True)
class _Series:
    sums: dict[str, float] = field(default_factory=dict)
    samples: dict[str, list[float]] = field(default_factory=dict)


class EmfAggregator:
    """Collects counts and samples per dimension set between flushes (the sidecar's `--emf` option).

    Counts are summed into one value; samples (latencies) are kept as value arrays, split into several documents
    when a series holds more than the 100 values one metric may carry.
    """

    def __init__(self, namespace: str, units: Mapping[str, str]) -> None:
        self._namespace = check_name(namespace, "namespace")
        for name, unit in units.items():
            check_name(name, "metric")
            if unit not in UNITS:
                raise EmfError(f"metric {name!r} has unit {unit!r}, not a CloudWatch unit")
        self._units = dict(units)
        self._series: dict[tuple[tuple[str, str], ...], _Series] = {}

    def count(self, dimensions: tuple[tuple[str, str], ...], name: str, by: float = 1.0) -> None:
        sums = self._at(dimensions, name).sums
        sums[name] = sums.get(name, 0.0) + by

    def sample(self, dimensions: tuple[tuple[str, str], ...], name: str, value: float) -> None:
        self._at(dimensions, name).samples.setdefault(name, []).append(value)

    def _at(self, dimensions: tuple[tuple[str, str], ...], name: str) -> _Series:
        if name not in self._units:
            raise EmfError(f"metric {name!r} was not declared")
        series = self._series.get(dimensions)
        if series is None:
            series = self._series[dimensions] = _Series()
        return series

    def flush(self, timestamp_ms: int) -> list[dict[str, Any]]:
        """Every series as EMF documents, then start empty."""
        out: list[dict[str, Any]] = []
        for dims, series in sorted(self._series.items()):
            first: dict[str, Value] = dict(series.sums)
            chunks = {name: _chunks(values) for name, values in series.samples.items()}
            rounds = max((len(c) for c in chunks.values()), default=1)
            for index in range(rounds):
                values: dict[str, Value] = first if index == 0 else {}
                values.update({name: c[index] for name, c in chunks.items() if index < len(c)})
                if values:
                    out.append(document(self._namespace, dict(dims), values, self._units, timestamp_ms))
        self._series.clear()
        return out


def _chunks(values: Sequence[float]) -> list[list[float]]:
    return [list(values[i : i + MAX_VALUES]) for i in range(0, len(values), MAX_VALUES)]
