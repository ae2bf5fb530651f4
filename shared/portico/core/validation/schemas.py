"""JSON Schemas compiled once: fastjsonschema decides, jsonschema lists every violation when one is found.

Measured on a 1 KB body (localdev/bench/edge.py reports it): fastjsonschema's generated code checks it in a few µs,
jsonschema's Draft 2020-12 validator in ~0.5-1 ms. So the valid path, the common one, runs the generated code,
and only a refused request pays for jsonschema's `iter_errors`, which lists every violation with its location
(fastjsonschema stops at the first). fastjsonschema knows drafts 4-7: a schema using a keyword that only 2020-12
has (`prefixItems`, `unevaluatedProperties`...) is run by jsonschema alone, so no keyword is silently ignored.
Both are imported on first use, so routes without validation never load them.

`pattern` and `patternProperties` are user regexes matched against untrusted input: both validators run them on
RE2 (portico.core.regex), so a pattern such as `(a+)+$` costs linear time, and a pattern RE2 cannot compile is
refused at config time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from portico.core.regex import RegexError, UserRegex

MAX_MESSAGE = 160
MAX_ERRORS = 20  # a refusal lists at most this many; enough to fix a request, bounded for a hostile one

# keywords fastjsonschema (drafts 4-7) does not know: a schema with any of them is run by jsonschema only
_NEWER_KEYWORDS = frozenset(
    {
        "prefixItems",
        "unevaluatedProperties",
        "unevaluatedItems",
        "dependentRequired",
        "dependentSchemas",
        "$dynamicRef",
        "$dynamicAnchor",
        "$recursiveRef",
        "$anchor",
        "minContains",
        "maxContains",
    }
)


class SchemaError(ValueError):
    """A schema that is not valid JSON Schema; the message names where."""


@dataclass(frozen=True, slots=True)
class Violation:
    """One failed check: `pointer` is an RFC 6901 JSON Pointer into the part named by `where`."""

    where: str  # body | query | path | header
    pointer: str
    detail: str

    def as_json(self) -> dict[str, str]:
        return {"in": self.where, "pointer": self.pointer, "detail": self.detail}


def pointer(parts: Iterable[object]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


@lru_cache(maxsize=4096)
def _regex(pattern: str) -> UserRegex:
    return UserRegex(pattern)


class _Re2Search:
    """What fastjsonschema's generated code calls on its compiled patterns (`.search`), backed by RE2.

    `search` is the pattern's bound matcher itself, not a method delegating to it: one call per checked string.
    """

    __slots__ = ("search",)

    def __init__(self, pattern: str) -> None:
        self.search: Callable[[str], bool] = _regex(pattern).searcher()


def _patterns(node: Any) -> list[str]:
    """Every `pattern` value and `patternProperties` key in a schema."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                found.append(value)
            elif key == "patternProperties" and isinstance(value, dict):
                found.extend(value)
            found.extend(_patterns(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_patterns(value))
    return found


def _re2_keywords() -> dict[str, Any]:
    from jsonschema.exceptions import ValidationError

    def pattern(validator: Any, patrn: str, instance: Any, schema: Any) -> Any:
        if validator.is_type(instance, "string") and not _regex(patrn).search(instance):
            yield ValidationError(f"does not match {patrn!r}")

    def pattern_properties(validator: Any, patterns: dict[str, Any], instance: Any, schema: Any) -> Any:
        if validator.is_type(instance, "object"):
            for patrn, subschema in patterns.items():
                for key, value in instance.items():
                    if _regex(patrn).search(key):
                        yield from validator.descend(value, subschema, path=key, schema_path=patrn)

    def additional_properties(validator: Any, additional: Any, instance: Any, schema: Any) -> Any:
        if not validator.is_type(instance, "object"):
            return
        known = schema.get("properties", {})
        patterns = [_regex(p) for p in schema.get("patternProperties", {})]
        extras = [k for k in instance if k not in known and not any(r.search(k) for r in patterns)]
        if validator.is_type(additional, "object"):
            for extra in extras:
                yield from validator.descend(instance[extra], additional, path=extra)
        elif not additional and extras:
            yield ValidationError("additional properties are not allowed")

    return {"pattern": pattern, "patternProperties": pattern_properties, "additionalProperties": additional_properties}


def _validator_class(schema: Mapping[str, Any] | bool) -> Any:
    from jsonschema import Draft202012Validator, validators

    return validators.validator_for(schema, default=Draft202012Validator)


def _runtime_class(schema: Mapping[str, Any] | bool) -> Any:
    """The schema's validator class with user regexes on RE2 (same meta-schema, same format checker)."""
    from jsonschema import validators

    return validators.extend(_validator_class(schema), _re2_keywords())  # type: ignore[no-untyped-call]


def check(schema: Mapping[str, Any] | bool) -> None:
    """Raise SchemaError unless `schema` is valid against its meta-schema (2020-12 unless `$schema` says)."""
    from jsonschema.exceptions import SchemaError as JsonSchemaError

    cls = _validator_class(schema)
    try:
        cls.check_schema(schema)
    except JsonSchemaError as exc:
        where = pointer(exc.absolute_path) or "/"
        raise SchemaError(f"at {where}: {_short(exc.message)}") from None
    for patrn in _patterns(schema):
        try:
            _regex(patrn)
        except RegexError as exc:
            raise SchemaError(str(exc)) from None


def _uses_newer_keywords(node: Any) -> bool:
    if isinstance(node, dict):
        return any(k in _NEWER_KEYWORDS for k in node) or any(_uses_newer_keywords(v) for v in node.values())
    if isinstance(node, list):
        return any(_uses_newer_keywords(v) for v in node)
    return False


def _short(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


class CompiledSchema:
    """One schema, compiled for the life of a config version. `errors(instance)` is empty when it is valid."""

    def __init__(self, schema: Mapping[str, Any] | bool) -> None:
        self._schema = schema
        self._fast: Callable[[Any], Any] | None = None
        self._full: Any = None
        self._fast_error: type[Exception] = Exception  # fastjsonschema's, when it compiled the schema
        if not _uses_newer_keywords(schema):
            self._fast = _fast_compile(schema)
            if self._fast is not None:
                from fastjsonschema import JsonSchemaValueException  # imported by _fast_compile already

                self._fast_error = JsonSchemaValueException

    def errors(self, instance: Any, where: str) -> list[Violation]:
        if self._fast is not None:
            try:
                self._fast(instance)
            except self._fast_error as exc:  # the first violation; jsonschema lists them all (below)
                first = _first_violation(exc)
            else:
                return []  # the valid path, the common one: one call of the generated code, nothing else
            return self._listed(instance, where) or [Violation(where, first[0], first[1])]
        return self._listed(instance, where)

    def _listed(self, instance: Any, where: str) -> list[Violation]:
        if self._full is None:
            cls = _runtime_class(self._schema)
            self._full = cls(self._schema, format_checker=cls.FORMAT_CHECKER)
        found: list[Violation] = []
        for error in self._full.iter_errors(instance):
            found.extend(_violations(error, where))
            if len(found) >= MAX_ERRORS:
                break
        return found[:MAX_ERRORS]


def _fast_compile(schema: Mapping[str, Any] | bool) -> Callable[[Any], Any] | None:
    import fastjsonschema

    try:
        validate = fastjsonschema.compile(schema if isinstance(schema, bool) else dict(schema), use_default=False)
    except fastjsonschema.JsonSchemaDefinitionException:
        return None  # valid by the meta-schema but beyond fastjsonschema (e.g. a regex dialect): jsonschema runs it
    compiled = validate.__globals__.get("REGEX_PATTERNS")
    if not isinstance(compiled, dict):
        return None  # not the generated module we know how to put on RE2: let jsonschema (on RE2) run it
    user = set(_patterns(schema))
    for patrn in list(compiled):
        if patrn in user:  # user regexes run on RE2; the library's own format regexes (email...) stay as they are
            compiled[patrn] = _Re2Search(patrn)
    return validate


def _first_violation(exc: Any) -> tuple[str, str]:
    """fastjsonschema's first violation as (pointer, detail)."""
    path = list(exc.path or [])[1:]  # the first element is the root's name ("data")
    return pointer(path), _short(f"fails {exc.rule} {json.dumps(exc.rule_definition, default=str)}")


def _violations(error: Any, where: str) -> list[Violation]:
    """A jsonschema error as violations pointing at the field concerned (a missing or extra property itself)."""
    base = list(error.absolute_path)
    keyword = error.validator
    instance = error.instance
    if keyword == "required" and isinstance(instance, dict):
        missing = [p for p in error.validator_value if p not in instance]
        return [Violation(where, pointer([*base, p]), "is required") for p in missing[:1]] or [
            Violation(where, pointer(base), _short(error.message))
        ]
    if keyword == "additionalProperties" and isinstance(instance, dict) and error.validator_value is False:
        known = error.schema.get("properties", {})
        patterns = [_regex(p) for p in error.schema.get("patternProperties", {})]
        extra = [k for k in instance if k not in known and not any(r.search(k) for r in patterns)]
        return [Violation(where, pointer([*base, k]), "is not allowed here") for k in extra[:MAX_ERRORS]]
    return [Violation(where, pointer(base), _describe(keyword, error))]


def _describe(keyword: str, error: Any) -> str:
    """A message that names the rule, never echoing the (possibly huge or hostile) value itself."""
    value = error.validator_value
    if keyword == "type":
        return f"must be of type {' or '.join(value) if isinstance(value, list) else value}"
    if keyword == "enum":
        return _short(f"must be one of {json.dumps(value)}")
    if keyword == "const":
        return _short(f"must be {json.dumps(value)}")
    if keyword in ("maxLength", "minLength", "maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum"):
        return f"{keyword} is {value}"
    if keyword in ("maxItems", "minItems", "maxProperties", "minProperties", "multipleOf", "format", "pattern"):
        return _short(f"{keyword} {value}")
    return _short(f"fails {keyword}")
