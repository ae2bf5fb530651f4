"""Telemetry outputs: the Powertools JSON logger for access logs, EMF lines on stdout, the optional X-Ray tracer.

Each is imported only when its setting turns it on: the Powertools Logger adds ~25 ms to a cold start (measured
with `python -X importtime`), the X-Ray SDK ~350 ms, so the tracer is never imported unless PORTICO_XRAY=true.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
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
        out.write(_COMPACT.encode(document) + "\n")
        out.flush()

    return emit


# One encoder for every line: json.dumps with non-default separators builds a new JSONEncoder per call.
_COMPACT = json.JSONEncoder(separators=(",", ":"), default=str)


def _line_encoder() -> Callable[[dict[str, Any]], str]:
    """`_COMPACT.encode` for the sidecar's one-line-per-request log: the same C encoder with the same settings,
    made once instead of once per line (JSONEncoder.iterencode builds it on every call). Log documents are flat
    dicts built by the telemetry filter, so the circular-reference check is left out."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # an interpreter without the C accelerator
        return _COMPACT.encode
    c = _COMPACT
    # indent None, as _COMPACT has (typeshed types the attribute int | str, which compiled code would enforce)
    chunks = make(None, c.default, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, True)
    return lambda document: "".join(chunks(document, 0))


_encode_line = _line_encoder()


class BatchedJsonLines:
    """The sidecar's access log: one JSON line per request on stdout, written once per event-loop turn.

    Under load one turn completes many requests, so their lines leave in one write instead of one write (and one
    flush) each, as Envoy's file access log batches its writes. The lines, their bytes and their order are those
    of an unbatched log; they are on stdout at the end of the turn that produced them (and at `flush`, on stop).
    """

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream
        self._lines: list[str] = []
        self._scheduled = False

    def __call__(self, document: dict[str, Any]) -> None:
        self._lines.append(_encode_line(document))
        if self._scheduled:
            return
        try:
            asyncio.get_running_loop().call_soon(self.flush)
            self._scheduled = True
        except RuntimeError:  # no loop (tools, tests): write at once
            self.flush()

    def flush(self) -> None:
        self._scheduled = False
        if self._lines:
            out = self._stream or sys.stdout
            lines, self._lines = self._lines, []
            out.write("\n".join(lines) + "\n")
            out.flush()


def xray_tracer(service: str) -> Tracer:
    """Powertools' Tracer provider (imports the X-Ray SDK: call only when X-Ray is enabled)."""
    from aws_lambda_powertools import Tracer as PowertoolsTracer

    provider: Tracer = PowertoolsTracer(service=service).provider
    return provider
