"""The sidecar's access log: one JSON line per document, the bytes json.dumps gives, written once per loop turn."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

from portico.adapters.telemetry import BatchedJsonLines

DOCS: list[dict[str, Any]] = [
    {"message": "request", "timestamp": 1733380000.123456, "status": 200, "duration_ms": 0.1 + 0.2, "attempts": None},
    {"path": '/é\u2028"\\\n', "nested": [1, {"ok": True}], "big": 10**20, "inf": float("inf")},
    {"odd": object()},  # not JSON: written as str(), as the sink's default says
]


def test_lines_are_what_json_dumps_gives_and_leave_at_the_end_of_the_turn() -> None:
    out = io.StringIO()
    log = BatchedJsonLines(out)

    async def turn() -> str:
        for doc in DOCS:
            log(doc)
        written = out.getvalue()
        await asyncio.sleep(0)  # the flush runs after this turn
        return written

    assert asyncio.run(turn()) == ""
    expected = [json.dumps(d, separators=(",", ":"), default=str) for d in DOCS]
    assert out.getvalue() == "\n".join(expected) + "\n"


def test_without_a_loop_each_line_is_written_at_once() -> None:
    out = io.StringIO()
    BatchedJsonLines(out)({"a": 1})
    assert out.getvalue() == '{"a":1}\n'
