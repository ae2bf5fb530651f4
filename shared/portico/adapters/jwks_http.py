"""Fetches an issuer's JWKS over HTTP(S): one GET with a timeout, a size cap, and no redirects followed.

Redirects are never followed, to any host: the configured jwksUri is the trust anchor, and a redirect would let
whoever controls the first response pick where our signing keys come from. A 3xx is a failed fetch (the cache
keeps its stale keys) and the log names the Location so the operator can fix the Issuer document.
Fetches are rare (at most one a minute per issuer), so a worker thread with urllib is enough and adds no dependency.
"""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from email.message import Message
from typing import IO, Any

from portico.core.auth.jwks_cache import JwksFetchError, JwksResponse

MAX_JWKS_BYTES = 256 * 1024


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str, headers: Message, newurl: str
    ) -> None:
        fp.close()
        raise JwksFetchError(f"redirect {code} to {newurl} refused: set jwksUri to the final URL")


class HttpJwksFetcher:
    def __init__(self, timeout: float = 2.0, max_bytes: int = MAX_JWKS_BYTES) -> None:
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._opener = urllib.request.build_opener(_NoRedirect())

    async def fetch(self, url: str) -> JwksResponse:
        return await asyncio.to_thread(self._get, url)

    def _get(self, url: str) -> JwksResponse:
        request = urllib.request.Request(
            url, headers={"Accept": "application/jwk-set+json, application/json", "User-Agent": "portico-jwks"}
        )
        try:
            response: Any = self._opener.open(request, timeout=self._timeout)
            with response:
                if response.status != 200:
                    raise JwksFetchError(f"HTTP {response.status}")
                body = response.read(self._max_bytes + 1)
                cache_control = response.headers.get("Cache-Control")
        except urllib.error.HTTPError as exc:
            exc.close()
            raise JwksFetchError(f"HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:  # refused, DNS, TLS, timeout, bad URL
            raise JwksFetchError(str(getattr(exc, "reason", exc))) from None
        if len(body) > self._max_bytes:
            raise JwksFetchError(f"response larger than {self._max_bytes} bytes")
        return JwksResponse(body, cache_control)
