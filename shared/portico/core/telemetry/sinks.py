"""The telemetry seams as types: where access-log lines and EMF documents go, and the X-Ray tracer's shape."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

AccessLogSink = Callable[[str, dict[str, Any]], None]  # (message, fields): one JSON line
MetricsSink = Callable[[dict[str, Any]], None]  # one EMF document


class Subsegment(Protocol):
    def put_annotation(self, key: str, value: Any) -> None: ...


class Tracer(Protocol):
    """The part of aws_lambda_powertools.Tracer's provider that Portico uses."""

    def in_subsegment_async(self, name: str) -> AbstractAsyncContextManager[Subsegment]: ...
