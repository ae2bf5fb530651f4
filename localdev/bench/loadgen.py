"""A small keep-alive HTTP/1.1 load generator on asyncio streams, independent of Portico's own HTTP code.

Used by the mesh benchmark and the e2e tests: N connections, each sending requests back to back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(slots=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    started: float
    latency: float


@dataclass(slots=True)
class Run:
    replies: list[Reply] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0

    def statuses(self) -> dict[int, int]:
        out: dict[int, int] = {}
        for r in self.replies:
            out[r.status] = out.get(r.status, 0) + 1
        return out


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, target: str, host_header: str, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> Reply:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        head = f"{method} {target} HTTP/1.1\r\nhost: {host_header}\r\n{extra}content-length: {len(body)}\r\n\r\n"
        started = time.perf_counter()
        self._writer.write(head.encode("latin-1") + body)
        try:
            status_line = await self._reader.readuntil(b"\r\n")
            raw = await self._reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            self.close()
            raise
        status = int(status_line.split(b" ", 2)[1])
        hdrs: dict[str, str] = {}
        for line in raw.decode("latin-1").split("\r\n"):
            if ":" in line:
                k, v = line.split(":", 1)
                hdrs[k.strip().lower()] = v.strip()
        length = int(hdrs.get("content-length", "0"))
        data = await self._reader.readexactly(length) if length else b""
        if hdrs.get("connection", "").lower() == "close":
            self.close()
        return Reply(status, hdrs, data, started, time.perf_counter() - started)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


async def run_load(
    host: str,
    port: int,
    *,
    host_header: str,
    path: str | Callable[[int], str] = "/",
    method: str = "GET",
    connections: int = 8,
    requests: int | None = None,
    duration: float | None = None,
    stop: asyncio.Event | None = None,
) -> Run:
    """Send `requests` in total (or until `duration` or `stop`) over `connections` keep-alive connections."""
    run = Run()
    counter = iter(range(requests if requests is not None else 1 << 62))
    deadline = time.perf_counter() + duration if duration else None

    async def worker() -> None:
        conn = Connection(host, port)
        try:
            for n in counter:
                if (deadline and time.perf_counter() >= deadline) or (stop is not None and stop.is_set()):
                    return
                target = path(n) if callable(path) else path
                try:
                    run.replies.append(await conn.request(method, target, host_header))
                except (OSError, asyncio.IncompleteReadError) as exc:
                    run.errors.append(repr(exc))
                    conn.close()
        finally:
            conn.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    run.elapsed = time.perf_counter() - start
    return run
