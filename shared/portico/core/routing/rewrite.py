"""Where an http upstream request goes: the URL's origin, and a path from placeholders, rewrite or the request."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from portico.core.config.upstream import HttpUpstream
from portico.core.regex import UserRegex

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\+?\}")


@dataclass(frozen=True, slots=True)
class UpstreamTarget:
    """Compiled once per route: the origin (scheme://host[:port]), the URL's path, and how to derive the path."""

    origin: str
    host_header: str
    base_path: str
    has_placeholders: bool
    prefix: str | None  # the route's pathPrefix, for a prefix rewrite
    rewrite_prefix: str | None
    rewrite_regex: UserRegex | None
    substitution: str

    @classmethod
    def compile(cls, upstream: HttpUpstream, route_prefix: str | None) -> UpstreamTarget:
        parts = urlsplit(upstream.url)
        rewrite = upstream.rewrite
        return cls(
            origin=f"{parts.scheme}://{parts.netloc}",
            host_header=parts.netloc.rsplit("@", 1)[-1],
            base_path=parts.path,
            has_placeholders=bool(_PLACEHOLDER.search(parts.path)),
            prefix=route_prefix,
            rewrite_prefix=rewrite.prefix if rewrite else None,
            rewrite_regex=UserRegex(rewrite.regex) if rewrite and rewrite.regex else None,
            substitution=(rewrite.substitution or "") if rewrite else "",
        )

    def path(self, normalized_path: str, params: dict[str, str]) -> str:
        """The upstream path. Parameter values are already normalised (percent-encoded where needed)."""
        if self.has_placeholders:
            return _PLACEHOLDER.sub(lambda m: params.get(m.group(1), ""), self.base_path)
        path = normalized_path
        if self.rewrite_prefix is not None and self.prefix is not None:
            stem = self.prefix.rstrip("/")
            rest = path[len(stem) :] if path.startswith(stem) else path
            path = self.rewrite_prefix.rstrip("/") + rest if rest else self.rewrite_prefix
        elif self.rewrite_regex is not None:
            path = self.rewrite_regex.sub(self.substitution, path)
        base = self.base_path.rstrip("/")
        return base + path if path.startswith("/") else f"{base}/{path}"
