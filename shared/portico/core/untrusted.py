"""Bounded JSON and YAML parsing for every input Portico does not write itself: size and nesting checked first.

`json.loads` and PyYAML's composer both recurse once per nesting level, and every walker after them (pydantic,
JMESPath, json.dumps) does too, so a body of `[` x 5,000 turns into a RecursionError far from where it came in.
Here the size is checked before anything else, JSON nesting is measured by a linear scan before `json.loads` runs,
and YAML is composed by a SafeLoader that counts depth and the nodes its aliases expand to (billion laughs).
Every failure is one `UntrustedInputError`, a ValueError, so callers catch one type and answer with a clear line.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable
from itertools import accumulate
from typing import Any

import yaml

MAX_DEPTH = 64  # Istio, Route and JWT documents nest under 15 levels; 64 leaves room and keeps walkers far from 1000
MAX_JSON_BYTES = 6 * 1024 * 1024  # Lambda's payload limit: no larger body reaches the edge
MAX_YAML_BYTES = 8 * 1024 * 1024
MAX_YAML_NODES = 200_000  # after alias expansion; a 500-route file is ~15,000 nodes

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
# A \uD800-\uDBFF escape not followed by a \uDC00-\uDFFF one, or a low one alone (not after an escaped backslash)
_LONE_SURROGATE = re.compile(
    r"(?<!\\)(?:\\\\)*\\u[dD][89aAbB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    r"|(?<![\\]u[dD][89aAbB][0-9a-fA-F]{2})(?<!\\)(?:\\\\)*\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)
_DEPTH_STEPS = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")


class UntrustedInputError(ValueError):
    """A JSON or YAML input that is malformed, too large or too deeply nested; the message says which, in a line."""


def json_depth_exceeds(text: str, max_depth: int) -> bool:
    """True when the brackets of `text` nest deeper than `max_depth` (or do not balance, when counting is needed).

    Linear, iterative and at C speed: strings are cut out, the bracket skeleton is kept, a run of openers longer
    than the limit refuses at once, and otherwise the running depth (opens minus closes) is summed over the skeleton.
    """
    if text.count("[") + text.count("{") <= max_depth:
        return False
    skeleton = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if re.search(rf"[\[{{]{{{max_depth + 1}}}", skeleton):
        return True
    # 2 per opener and 0 per closer: the running sum minus the position is the depth after each bracket
    steps = skeleton.encode("ascii").translate(_DEPTH_STEPS)
    return max(map(operator.sub, accumulate(steps), range(1, len(steps) + 1)), default=0) > max_depth


def _sized_text(data: str | bytes, what: str, max_bytes: int) -> str:
    """The input as text, refused first when it is larger than `max_bytes` or, as bytes, not UTF-8."""
    if len(data) > max_bytes:
        raise UntrustedInputError(f"{what} is larger than {max_bytes} bytes")
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UntrustedInputError(f"{what} is not UTF-8") from None


def _refuse_constant(name: str) -> Any:
    raise UntrustedInputError(f"{name} is not a JSON number")


# One decoder for every call without a hook: json.loads with any keyword argument builds a new JSONDecoder (and its
# scanner) per call, which costs as much as parsing a 1 KB body (request validation parses one per request).
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def load_json(
    data: str | bytes,
    *,
    what: str = "the input",
    max_bytes: int = MAX_JSON_BYTES,
    max_depth: int = MAX_DEPTH,
    object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None,
) -> Any:
    """Parse untrusted JSON (RFC 8259: UTF-8, no NaN/Infinity) after checking its size and nesting."""
    text = _sized_text(data, what, max_bytes)  # decoded here: json.loads would guess UTF-16/32 from bytes
    if json_depth_exceeds(text, max_depth):
        raise UntrustedInputError(f"{what} nests deeper than {max_depth} levels, or its brackets do not balance")
    if "\\u" in text and _LONE_SURROGATE.search(text):  # RFC 7493 (I-JSON) 2.1: no text can carry it onward
        raise UntrustedInputError(f"{what} is not valid JSON: it escapes a lone UTF-16 surrogate")
    try:
        if object_pairs_hook is None:
            return _DECODER.decode(text)
        return json.loads(text, object_pairs_hook=object_pairs_hook, parse_constant=_refuse_constant)
    except UntrustedInputError as exc:
        raise UntrustedInputError(f"{what} is not valid JSON: {exc}") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise UntrustedInputError(f"{what} is not valid JSON: {exc.msg} at {where}") from None
    except (ValueError, RecursionError) as exc:  # an integer over Python's digit limit; a hook's own refusal
        raise UntrustedInputError(f"{what} is not valid JSON: {exc}") from None


class _BoundedSafeLoader(yaml.SafeLoader):
    """SafeLoader whose composer refuses documents deeper than `max_depth` or expanding to more than `max_nodes`.

    An alias is counted with the whole subtree it names, since every walker after the parse visits it again.
    """

    def __init__(self, stream: str, max_depth: int, max_nodes: int) -> None:
        super().__init__(stream)
        self._max_depth = max_depth
        self._max_nodes = max_nodes
        self._depth = 0
        self._sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded node count, height)

    def compose_document(self) -> Any:
        node = super().compose_document()
        self._sizes.clear()  # anchors do not cross documents; node ids may be reused
        return node

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            anchor = self.peek_event().anchor  # type: ignore[no-untyped-call]
            target = self.anchors.get(anchor)
            if target is not None and id(target) not in self._sizes:
                raise self._refusal(f"alias *{anchor} refers to a node that contains it (a recursive structure)")
        self._depth += 1
        if self._depth > self._max_depth:
            raise self._refusal(f"nests deeper than {self._max_depth} levels")
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if node is not None and id(node) not in self._sizes:
            self._sizes[id(node)] = self._measure(node)
        count, height = self._sizes.get(id(node), (1, 1))
        if count > self._max_nodes:
            raise self._refusal(f"expands to more than {self._max_nodes} nodes (check its aliases)")
        if height + self._depth > self._max_depth:
            raise self._refusal(f"nests deeper than {self._max_depth} levels (through an alias)")
        return node

    def _measure(self, node: yaml.Node) -> tuple[int, int]:
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        sizes = [self._sizes.get(id(child), (1, 1)) for child in children]
        return 1 + sum(s[0] for s in sizes), 1 + max((s[1] for s in sizes), default=0)

    def _refusal(self, reason: str) -> UntrustedInputError:
        mark = self.peek_event().start_mark if self.check_event() else None  # type: ignore[no-untyped-call]
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        return UntrustedInputError(f"{where}the YAML {reason}")


def load_yaml_all(
    text: str | bytes,
    *,
    max_bytes: int = MAX_YAML_BYTES,
    max_depth: int = MAX_DEPTH,
    max_nodes: int = MAX_YAML_NODES,
) -> list[Any]:
    """Every document of an untrusted multi-document YAML text, safely constructed, bounded in size and shape."""
    text = _sized_text(text, "the YAML", max_bytes)
    loader: _BoundedSafeLoader | None = None
    try:
        loader = _BoundedSafeLoader(text, max_depth, max_nodes)  # the reader refuses control characters here
        documents = []
        while loader.check_data():  # type: ignore[no-untyped-call]
            documents.append(loader.get_data())
        return documents
    except UntrustedInputError:
        raise
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise UntrustedInputError(f"YAML syntax error: {where}{problem}") from None
    except (ValueError, TypeError, RecursionError) as exc:  # a constructor's refusal (e.g. a huge int, bad timestamp)
        raise UntrustedInputError(f"the YAML could not be read: {exc}") from None
    finally:
        if loader is not None:
            loader.dispose()


def load_yaml(text: str | bytes, **limits: int) -> Any:
    """The single document of an untrusted YAML text (None when empty); more than one is refused."""
    documents = load_yaml_all(text, **limits)
    if len(documents) > 1:
        raise UntrustedInputError("expected one YAML document, found several")
    return documents[0] if documents else None
