"""W3C trace context (traceparent/tracestate) and X-Ray root ids: parse, continue or start, open a child span.

Pure: randomness comes in as `rng(n) -> n bytes`, so tests can fix every id.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

Rng = Callable[[int], bytes]

_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")
_AMZN_ROOT = re.compile(r"Root=1-([0-9a-f]{8})-([0-9a-f]{24})")


@dataclass(frozen=True, slots=True)
class TraceContext:
    """One hop's view of a trace: the shared trace id, the span this hop opened, and its parent span (if any)."""

    trace_id: str
    span_id: str  # the span this hop opens; the next hop sees it as its parent
    flags: str
    tracestate: str | None
    parent_id: str | None = None  # the caller's span, when the request carried one

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"

    def child(self, rng: Rng) -> TraceContext:
        """A new span under this one (a sidecar's outbound call, a retry attempt)."""
        return TraceContext(self.trace_id, new_span_id(rng), self.flags, self.tracestate, self.span_id)


def new_span_id(rng: Rng) -> str:
    return _nonzero_hex(rng, 8)


def new_trace_id(rng: Rng) -> str:
    return _nonzero_hex(rng, 16)


def _nonzero_hex(rng: Rng, size: int) -> str:
    while True:  # the all-zero id is invalid in W3C trace context
        value = rng(size).hex()
        if value.strip("0"):
            return value


def parse_traceparent(value: str | None) -> tuple[str, str, str] | None:
    """(trace id, parent span id, flags) of a valid header, else None (invalid headers are ignored, per W3C)."""
    if not value:
        return None
    found = _TRACEPARENT.match(value.strip().lower())
    if found is None or found.group(1) == "ff":
        return None
    version, trace_id, span_id, flags, rest = found.groups()
    if version == "00" and rest:  # version 00 has exactly four fields
        return None
    if not trace_id.strip("0") or not span_id.strip("0"):
        return None
    return trace_id, span_id, flags


def continue_or_start(traceparent: str | None, tracestate: str | None, amzn: str | None, rng: Rng) -> TraceContext:
    """Continue the caller's W3C trace, else its X-Ray trace, else start one; always open a new span for this hop."""
    span = new_span_id(rng)
    parsed = parse_traceparent(traceparent)
    if parsed is not None:
        trace_id, parent, flags = parsed
        return TraceContext(trace_id, span, flags, tracestate, parent)
    root = _AMZN_ROOT.search(amzn or "")
    if root:  # an X-Ray root is the same 128-bit id W3C uses: 8 hex of epoch seconds + 24 hex random
        return TraceContext(root.group(1) + root.group(2), span, "00", None)
    return TraceContext(new_trace_id(rng), span, "00", None)


def xray_root(trace_id: str) -> str:
    """The X-Ray form of a W3C trace id, for logs and X-Ray segments."""
    return f"1-{trace_id[:8]}-{trace_id[8:]}"
