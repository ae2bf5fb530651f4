"""Telemetry outputs: the Powertools JSON logger for access logs, EMF lines on stdout, the optional X-Ray tracer.

Each is imported only when its setting turns it on: the Powertools Logger adds ~25 ms to a cold start (measured
with `python -X importtime`), the X-Ray SDK ~350 ms, so the tracer is never imported unless PORTICO_XRAY=true.
"""

from __future__ import annotations

import json
import sys
from typing import IO, Any

from portico.core.telemetry.sinks import AccessLogSink, MetricsSink, Tracer


def powertools_access_log(service: str, stream: IO[str] | None = None) -> AccessLogSink:
    """One JSON line per call through aws_lambda_powertools.Logger (with Lambda context keys when in Lambda)."""
    import logging

    from aws_lambda_powertools import Logger

    handler = logging.StreamHandler(stream or sys.stdout)
    logger = Logger(service=service, logger_handler=handler, level="INFO")

    def emit(message: str, fields: dict[str, Any]) -> None:
        logger.info(message, extra=fields)

    return emit


def json_lines(stream: IO[str] | None = None) -> MetricsSink:
    """EMF documents as single JSON lines on stdout: Lambda ships stdout to CloudWatch Logs, which extracts them."""

    def emit(document: dict[str, Any]) -> None:
        out = stream or sys.stdout
        out.write(json.dumps(document, separators=(",", ":"), default=str) + "\n")
        out.flush()

    return emit


def xray_tracer(service: str) -> Tracer:
    """Powertools' Tracer provider (imports the X-Ray SDK: call only when X-Ray is enabled)."""
    from aws_lambda_powertools import Tracer as PowertoolsTracer

    provider: Tracer = PowertoolsTracer(service=service).provider
    return provider
