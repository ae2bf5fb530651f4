"""A keep-alive HTTP client for the e2e composition tests: the path is sent byte for byte, timings are exact."""

from __future__ import annotations

import http.client
import time
from urllib.parse import urlsplit


class Client:
    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        self._conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes, float]:
        """(status, lower-case headers, body, seconds from send to the last byte)."""
        start = time.perf_counter()
        self._conn.request(method, path, body=body, headers=headers or {})
        resp = self._conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data, time.perf_counter() - start

    def close(self) -> None:
        self._conn.close()
