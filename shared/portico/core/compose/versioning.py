"""API versions: which version a request names (path prefix, Accept-Version, media-type parameter), and the
route-table entries a versioned route compiles to."""

from __future__ import annotations

from portico.core.config.route import RouteMatch, RouteSpec, ValueMatch
from portico.core.headers import Headers

# Internal: set by the version filter only (client-sent x-portico-* are stripped first), matched by route entries,
# and forwarded so the upstream knows which version was asked for.
VERSION_HEADER = "x-portico-api-version"


def route_matches(spec: RouteSpec) -> list[RouteMatch]:
    """An unversioned route matches as written. A versioned one matches when its version is named, and a `default`
    one also when none is; the path-prefix form is turned into the named form before matching."""
    version = spec.version
    if version is None:
        return [spec.match]
    named = ValueMatch(name=VERSION_HEADER, exact=version.name)
    out = [spec.match.model_copy(update={"headers": [*spec.match.headers, named]})]
    if version.default:
        unnamed = ValueMatch(name=VERSION_HEADER, present=False)
        out.append(spec.match.model_copy(update={"headers": [*spec.match.headers, unnamed]}))
    return out


def media_type_version(accept: str | None) -> str | None:
    """The `version` parameter of the first Accept media range that has one: `application/json; version=2`."""
    for media_range in (accept or "").split(","):
        for param in media_range.split(";")[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "version" and value.strip().strip('"'):
                return value.strip().strip('"')
    return None


def header_version(headers: Headers) -> str | None:
    """Accept-Version wins over a media-type parameter when a client sends both."""
    explicit = (headers.get("accept-version") or "").strip()
    return explicit or media_type_version(headers.get("accept"))


def path_version(path: str, known: frozenset[str]) -> tuple[str, str] | None:
    """`(version, rest)` when the first path segment is a known version: `/v2/orders/1` -> `("v2", "/orders/1")`."""
    segment, _, rest = path[1:].partition("/")
    if segment in known:
        return segment, "/" + rest
    return None
