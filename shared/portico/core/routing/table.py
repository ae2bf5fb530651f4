"""The compiled route table: a host index over segment tries, so lookup cost follows path depth, not route count.

Precedence among routes that match host, path, headers and query (highest first):
1. explicit `priority`;
2. host: exact host, then the longest wildcard (`*.example.com`), then routes without a host;
3. path: compared segment by segment from the left, a literal beats a `{param}`, which beats a greedy `{name+}` or
   the open end of a `pathPrefix`; a full template then beats a prefix, which beats a `pathRegex`;
4. more header and query matchers; a route that lists methods over one that takes any method;
5. the route name, so the choice is stable.
A path-and-host match whose methods exclude the request method feeds the 405 `Allow` list instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from portico.core.config.route import RouteMatch, ValueMatch
from portico.core.regex import UserRegex

T = TypeVar("T")

_PARAM = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)(\+?)\}$")
_LITERAL, _PARAM_RANK, _OPEN = 2, 1, 0
_TEMPLATE, _PREFIX, _REGEX = 2, 1, 0


@dataclass(frozen=True, slots=True)
class _ValueMatcher:
    name: str
    exact: str | None
    prefix: str | None
    regex: UserRegex | None
    present: bool | None

    @classmethod
    def of(cls, spec: ValueMatch) -> _ValueMatcher:
        pattern = UserRegex(spec.regex) if spec.regex is not None else None
        return cls(spec.name.lower(), spec.exact, spec.prefix, pattern, spec.present)

    def test(self, values: Sequence[str]) -> bool:
        if self.present is not None:
            return bool(values) == self.present
        for value in values:
            if self.exact is not None and value == self.exact:
                return True
            if self.prefix is not None and value.startswith(self.prefix):
                return True
            if self.regex is not None and self.regex.matches(value):
                return True
        return False


@dataclass(frozen=True, slots=True)
class _Entry(Generic[T]):
    """One compiled route: the payload it routes to, how to finish matching it, and its precedence key."""

    payload: T
    name: str
    methods: frozenset[str] | None
    headers: tuple[_ValueMatcher, ...]
    query: tuple[_ValueMatcher, ...]
    param_names: tuple[str, ...]
    regex: UserRegex | None
    key: tuple[object, ...]


@dataclass(slots=True)
class _Node(Generic[T]):
    literal: dict[str, _Node[T]] = field(default_factory=dict)
    param: _Node[T] | None = None
    exact: list[_Entry[T]] = field(default_factory=list)  # templates ending here
    open: list[_Entry[T]] = field(default_factory=list)  # greedy templates and prefixes ending here


@dataclass(slots=True)
class _Bucket(Generic[T]):
    root: _Node[T] = field(default_factory=_Node)
    regexes: list[_Entry[T]] = field(default_factory=list)


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs 3x, once per matched request
class RouteHit(Generic[T]):
    payload: T
    name: str
    params: dict[str, str]


@dataclass(frozen=True, slots=True)
class RouteMiss:
    """No route: `allow` is empty for 404, or the methods that would have matched (405)."""

    allow: frozenset[str]


def _segments(path: str) -> list[str]:
    return path[1:].split("/")


def _host_rank(host: str | None) -> tuple[int, int]:
    if host is None:
        return (0, 0)
    if host.startswith("*."):
        return (1, len(host))
    return (2, len(host))


class RouteTable(Generic[T]):
    """Build once per config version with `RouteTable.build([(name, match, priority, payload), ...])`."""

    def __init__(self) -> None:
        self._exact_hosts: dict[str, _Bucket[T]] = {}
        self._wildcards: dict[str, _Bucket[T]] = {}  # key: the suffix after '*', e.g. '.example.com'
        self._any: _Bucket[T] = _Bucket()
        self._max_wildcard_dots = 0
        # whether any entry matches on header or query values: without any, a match depends only on method, host
        # and path (the edge's refused-client screen relies on that; portico.edge.filters.ip)
        self.matches_fields = False

    @classmethod
    def build(cls, routes: Iterable[tuple[str, RouteMatch, int, T]]) -> RouteTable[T]:
        table: RouteTable[T] = cls()
        for name, match, priority, payload in routes:
            table._add(name, match, priority, payload)
        return table

    def _bucket(self, host: str | None) -> _Bucket[T]:
        if host is None:
            return self._any
        if host.startswith("*."):
            self._max_wildcard_dots = max(self._max_wildcard_dots, host.count("."))
            return self._wildcards.setdefault(host[1:], _Bucket())
        return self._exact_hosts.setdefault(host, _Bucket())

    def _add(self, name: str, match: RouteMatch, priority: int, payload: T) -> None:
        bucket = self._bucket(match.host)
        ranks: list[int] = []
        param_names: list[str] = []
        node = bucket.root
        regex = None
        is_open = False
        if match.path is not None:
            kind = _TEMPLATE
            for seg in _segments(match.path):
                found = _PARAM.match(seg)
                if found is None:
                    ranks.append(_LITERAL)
                    node = node.literal.setdefault(seg, _Node())
                elif found.group(2):  # greedy {name+}: takes the rest, at least one segment
                    ranks.append(_OPEN)
                    param_names.append(found.group(1))
                    is_open = True
                else:
                    ranks.append(_PARAM_RANK)
                    param_names.append(found.group(1))
                    if node.param is None:
                        node.param = _Node()
                    node = node.param
        elif match.path_prefix is not None:
            kind = _PREFIX
            is_open = True
            prefix = match.path_prefix.rstrip("/")
            for seg in _segments(prefix) if prefix else []:
                ranks.append(_LITERAL)
                node = node.literal.setdefault(seg, _Node())
            ranks.append(_OPEN)
        else:
            kind = _REGEX
            regex = UserRegex(match.path_regex or "")
        specificity = len(match.headers) + len(match.query)
        self.matches_fields = self.matches_fields or specificity > 0
        key = (priority, _host_rank(match.host), tuple(ranks), kind, specificity, match.methods is not None)
        entry = _Entry(
            payload=payload,
            name=name,
            methods=frozenset(match.methods) if match.methods else None,
            headers=tuple(_ValueMatcher.of(h) for h in match.headers),
            query=tuple(_ValueMatcher.of(q) for q in match.query),
            param_names=tuple(param_names),
            regex=regex,
            key=key,
        )
        if regex is not None:
            bucket.regexes.append(entry)
        elif is_open:
            node.open.append(entry)
        else:
            node.exact.append(entry)

    def _buckets(self, host: str) -> list[_Bucket[T]]:
        out = []
        exact = self._exact_hosts.get(host)
        if exact is not None:
            out.append(exact)
        if self._wildcards:
            # every proper suffix of the host, longest first; '*' stands for at least one label
            dot = host.find(".")
            while dot != -1:
                found = self._wildcards.get(host[dot:])
                if found is not None:
                    out.append(found)
                dot = host.find(".", dot + 1)
        out.append(self._any)
        return out

    def match(
        self, method: str, host: str, path: str, headers: dict[str, list[str]], query: dict[str, list[str]]
    ) -> RouteHit[T] | RouteMiss:
        """Match a normalised path. `host` is lower-case without port; headers are keyed lower-case."""
        segments = _segments(path)
        candidates: list[tuple[_Entry[T], list[str]]] = []
        for bucket in self._buckets(host):
            _walk(bucket.root, segments, 0, [], candidates)
            for entry in bucket.regexes:
                assert entry.regex is not None
                found = entry.regex.fullmatch(path)
                if found is not None:
                    candidates.append((entry, list(found)))
        best: tuple[_Entry[T], list[str]] | None = None
        allow: set[str] = set()
        for entry, values in candidates:
            # most routes match on path and method only: no generator per candidate for empty matcher lists
            if entry.headers and not all(m.test(headers.get(m.name, ())) for m in entry.headers):
                continue
            if entry.query and not all(m.test(query.get(m.name, ())) for m in entry.query):
                continue
            if entry.methods is not None and method not in entry.methods:
                if method == "HEAD" and "GET" in entry.methods:
                    pass  # HEAD is served wherever GET is, as HTTP requires
                else:
                    allow |= entry.methods
                    continue
            if best is None or (entry.key, best[0].name) > (best[0].key, entry.name):
                best = (entry, values)
        if best is None:
            if allow and "GET" in allow:
                allow.add("HEAD")
            return RouteMiss(frozenset(allow))
        entry, values = best
        names = entry.param_names or tuple(f"{i}" for i in range(len(values)))
        return RouteHit(entry.payload, entry.name, dict(zip(names, values, strict=False)))


def _walk(node: _Node[T], segs: list[str], i: int, params: list[str], out: list[tuple[_Entry[T], list[str]]]) -> None:
    """Collect every trie entry matching segs[i:]; `params` holds the values captured so far."""
    if node.open and i < len(segs):
        rest = "/".join(segs[i:])
        for entry in node.open:
            # a prefix captures nothing; a greedy param needs at least one non-empty segment
            greedy = len(entry.param_names) > len(params)
            if not greedy:
                out.append((entry, list(params)))
            elif rest:
                out.append((entry, [*params, rest]))
    if i == len(segs):
        for entry in node.open:
            if len(entry.param_names) == len(params):  # a prefix matches its own path exactly
                out.append((entry, list(params)))
        for entry in node.exact:
            out.append((entry, list(params)))
        return
    seg = segs[i]
    child = node.literal.get(seg)
    if child is not None:
        _walk(child, segs, i + 1, params, out)
    if node.param is not None and seg:
        params.append(seg)
        _walk(node.param, segs, i + 1, params, out)
        params.pop()
