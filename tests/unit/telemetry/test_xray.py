"""X-Ray is off by default and then costs nothing at import; when on, each request gets an annotated subsegment."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from portico.core.chain import Context, build_chain
from portico.core.http import Request, Response
from portico.edge.filters import attrs
from portico.edge.filters.xray import XRayFilter

ROOT = Path(__file__).resolve().parents[3]

CONFIG = """
apiVersion: portico/v1
kind: Route
metadata: {name: hello}
spec:
  match: {path: /hello}
  auth: {none: {}}
  upstream: {mock: {status: 200}}
"""


def _imports_after_cold_start(tmp_path: Path, xray: str) -> set[str]:
    config = tmp_path / "edge.yaml"
    config.write_text(CONFIG)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "shared"), str(ROOT)]),
        "PORTICO_CONFIG_FILE": str(config),
        "PORTICO_XRAY": xray,
        "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here: the SDK is imported but sends nothing
    }
    code = "import sys; from functions.edge import app; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_the_xray_sdk_is_imported_only_when_enabled(tmp_path: Path) -> None:
    assert "aws_xray_sdk" not in _imports_after_cold_start(tmp_path, "false")
    assert "aws_xray_sdk" in _imports_after_cold_start(tmp_path, "true")


class FakeSegment:
    def __init__(self) -> None:
        self.annotations: dict[str, Any] = {}

    def put_annotation(self, key: str, value: Any) -> None:
        self.annotations[key] = value


class FakeTracer:
    def __init__(self) -> None:
        self.segments: list[tuple[str, FakeSegment]] = []

    @asynccontextmanager
    async def in_subsegment_async(self, name: str) -> AsyncIterator[FakeSegment]:
        segment = FakeSegment()
        self.segments.append((name, segment))
        yield segment


def test_each_request_gets_a_subsegment_with_route_and_request_id() -> None:
    tracer = FakeTracer()

    async def terminal(ctx: Context) -> Response:
        ctx.attrs[attrs.ROUTE_NAME] = "hello"
        return Response(204)

    chain = build_chain([XRayFilter(tracer)], terminal)
    asyncio.run(chain(Context(Request("GET", "/hello"), now=0.0, request_id="r-7")))
    [(name, segment)] = tracer.segments
    assert name == "## portico edge"
    assert segment.annotations == {"request_id": "r-7", "route": "hello", "status": 204}
