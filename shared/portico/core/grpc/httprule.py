"""google.api.http path templates: parse `/v1/{name=shelves/*/books/*}:verb` once, match request paths against it.

Grammar (google/api/http.proto):
    Template = "/" Segments [ Verb ] ;  Segments = Segment { "/" Segment } ;
    Segment  = "*" | "**" | LITERAL | Variable ;  Variable = "{" FieldPath [ "=" Segments ] "}" ;
    FieldPath = IDENT { "." IDENT } ;  Verb = ":" LITERAL ;
`{x}` is `{x=*}`. `**` matches zero or more segments and may only end the path (before the verb).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LITERAL_BAD = frozenset("{}=*/:")


class TemplateError(ValueError):
    """A path template that does not follow the google.api.http grammar; the message says where."""


@dataclass(frozen=True, slots=True)
class Segment:
    kind: str  # "literal", "*" or "**"
    text: str = ""


@dataclass(frozen=True, slots=True)
class Variable:
    """A field path bound to segments [start, end) of the template; `end` is None when it runs to the end (`**`)."""

    field_path: tuple[str, ...]
    start: int
    end: int | None

    @property
    def name(self) -> str:
        return ".".join(self.field_path)


@dataclass(frozen=True, slots=True)
class PathTemplate:
    text: str
    segments: tuple[Segment, ...]
    variables: tuple[Variable, ...]
    verb: str | None

    @classmethod
    def parse(cls, text: str) -> PathTemplate:
        if not text.startswith("/"):
            raise TemplateError(f"path template {text!r} must start with '/'")
        body, verb = _split_verb(text[1:], text)
        segments: list[Segment] = []
        variables: list[Variable] = []
        for token in _tokens(body, text):
            if token.startswith("{"):
                inner = token[1:-1]
                path, _, pattern = inner.partition("=")
                fields = tuple(path.split("."))
                if not all(_IDENT.match(f) for f in fields):
                    raise TemplateError(f"path template {text!r}: {path!r} is not a field path")
                start = len(segments)
                sub = pattern.split("/") if pattern else ["*"]
                for part in sub:
                    if "{" in part or "}" in part:
                        raise TemplateError(f"path template {text!r}: variables cannot nest")
                    segments.append(_segment(part, text))
                end = None if segments[-1].kind == "**" else len(segments)
                variables.append(Variable(fields, start, end))
            else:
                segments.append(_segment(token, text))
        for i, seg in enumerate(segments):
            if seg.kind == "**" and i != len(segments) - 1:
                raise TemplateError(f"path template {text!r}: '**' may only be the last segment")
        names = [v.name for v in variables]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise TemplateError(f"path template {text!r} binds {', '.join(duplicates)} more than once")
        return cls(text, tuple(segments), tuple(variables), verb)

    def match(self, path: str) -> dict[str, str] | None:
        """Field path -> percent-decoded value for a matching absolute request path, else None."""
        parts = path[1:].split("/") if path.startswith("/") else None
        if parts is None:
            return None
        if self.verb is not None:
            last, sep, verb = parts[-1].rpartition(":")
            if not sep or verb != self.verb:
                return None
            parts[-1] = last
        open_end = bool(self.segments) and self.segments[-1].kind == "**"
        fixed = len(self.segments) - (1 if open_end else 0)
        if len(parts) < fixed or (not open_end and len(parts) != fixed):
            return None
        for seg, part in zip(self.segments[:fixed], parts, strict=False):
            if seg.kind == "literal" and unquote(part) != seg.text:
                return None
            if seg.kind == "*" and not part:
                return None
        values: dict[str, str] = {}
        for var in self.variables:
            chosen = parts[var.start :] if var.end is None else parts[var.start : var.end]
            values[var.name] = unquote("/".join(chosen))
        return values

    def __str__(self) -> str:
        return self.text


def _split_verb(body: str, text: str) -> tuple[str, str | None]:
    depth, colon = 0, -1
    for i, ch in enumerate(body):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == ":" and depth == 0:
            colon = i
    if colon < 0:
        return body, None
    verb = body[colon + 1 :]
    if not verb or "/" in verb or any(c in _LITERAL_BAD for c in verb):
        raise TemplateError(f"path template {text!r}: bad verb {verb!r}")
    return body[:colon], verb


def _tokens(body: str, text: str) -> list[str]:
    """Split on '/' outside braces, keeping each `{...}` whole."""
    tokens: list[str] = []
    current, depth = "", 0
    for ch in body:
        if ch == "{":
            if depth:
                raise TemplateError(f"path template {text!r}: variables cannot nest")
            depth = 1
        elif ch == "}":
            if not depth:
                raise TemplateError(f"path template {text!r}: unbalanced '}}'")
            depth = 0
        if ch == "/" and not depth:
            tokens.append(current)
            current = ""
        else:
            current += ch
    if depth:
        raise TemplateError(f"path template {text!r}: unclosed '{{'")
    tokens.append(current)
    for token in tokens:
        if token.startswith("{") != token.endswith("}") or (token.startswith("{") and token.count("{") > 1):
            raise TemplateError(f"path template {text!r}: a variable must be a whole segment, not {token!r}")
    return tokens


def _segment(part: str, text: str) -> Segment:
    if part in ("*", "**"):
        return Segment(part)
    if not part:
        raise TemplateError(f"path template {text!r} has an empty segment")
    if any(c in _LITERAL_BAD for c in part):
        raise TemplateError(f"path template {text!r}: {part!r} is not a literal segment")
    return Segment("literal", part)
