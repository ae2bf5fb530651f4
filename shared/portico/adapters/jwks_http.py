"""Fetches an issuer's JWKS over HTTP(S): one GET with a timeout, a size cap, and no redirects followed.

The GET goes through the one HTTP/1 client (http1_client.py), so it dials only addresses that
`adapters/resolve.py` checked at connect time: a jwksUri whose name resolves to instance metadata or link-local
addresses (or loopback, outside local development) is refused before any connection is opened, as an upstream
route to the same name is.
Redirects are never followed, to any host: the configured jwksUri is the trust anchor, and a redirect would let
whoever controls the first response pick where our signing keys come from. A 3xx is a failed fetch (the cache
keeps its stale keys) and the log names the Location so the operator can fix the Issuer document.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from portico.adapters.http1_client import ClientSettings, Http1Client
from portico.adapters.resolve import Resolver
from portico.core.auth.jwks_cache import JwksFetchError, JwksResponse
from portico.core.headers import Headers
from portico.core.http import Request
from portico.core.ports import UpstreamError, UpstreamRefused

MAX_JWKS_BYTES = 256 * 1024


class HttpJwksFetcher:
    def __init__(
        self,
        timeout: float = 2.0,
        max_bytes: int = MAX_JWKS_BYTES,
        *,
        allow_loopback: bool = False,
        resolver: Resolver | None = None,
    ) -> None:
        self._timeout = timeout
        self._max_bytes = max_bytes
        settings = ClientSettings(allow_loopback=allow_loopback, max_idle_per_host=2)
        if resolver is not None:
            settings.resolver = resolver
        self._transport = Http1Client(settings)

    async def fetch(self, url: str) -> JwksResponse:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise JwksFetchError(f"{url!r} is not an http(s) URL")
        request = Request(
            method="GET",
            path=parts.path or "/",
            headers=Headers(
                [
                    ("host", parts.netloc.rsplit("@", 1)[-1]),
                    ("accept", "application/jwk-set+json, application/json"),
                    ("user-agent", "portico-jwks"),
                ]
            ),
        )
        try:
            response = await self._transport.send(request, url, self._timeout)
        except UpstreamRefused as exc:
            raise JwksFetchError(f"refused: {exc}") from None
        except UpstreamError as exc:  # connect failure, reset, timeout, overflow
            raise JwksFetchError(str(exc)) from None
        if 300 <= response.status < 400:
            location = response.headers.get("location") or "?"
            raise JwksFetchError(f"redirect {response.status} to {location} refused: set jwksUri to the final URL")
        if response.status != 200:
            raise JwksFetchError(f"HTTP {response.status}")
        if len(response.body) > self._max_bytes:
            raise JwksFetchError(f"response larger than {self._max_bytes} bytes")
        return JwksResponse(response.body, response.headers.get("cache-control"))
