"""A small, exact subset of DynamoDB's condition and update expressions, parsed once and cached by text.

The fast path (see `localdev.aws.fastddb.handler`) answers only what this module understands completely; anything
else raises `Unsupported` and the request goes to moto unchanged, so moto stays the reference for every corner
(nested paths, lists, sets, functions other than the ones below, validation messages).

Supported:
  condition  := or ; or := and (OR and)* ; and := not (AND not)* ; not := NOT not | primary
  primary    := ( condition ) | attribute_exists(path) | attribute_not_exists(path)
              | operand (= | <> | < | <= | > | >=) operand | operand BETWEEN operand AND operand
  update     := (SET set (, set)* | ADD path :value (, path :value)* | REMOVE path (, path)*)+
  set        := path = value [(+ | -) value] ; value := path | :value | if_not_exists(path, value)
  path       := #name                       (a placeholder for a top-level attribute)
Values are wire-format attribute values ({"N": "5"}); only N and S take part in comparisons and arithmetic.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

Wire = dict[str, Any]  # one attribute value as DynamoDB sends it: {"N": "5"}, {"S": "x"}
Lookup = Callable[[str], Wire | None]  # attribute name -> its value in the item, or None when absent


class Unsupported(Exception):
    """Outside the subset: the caller lets moto answer the request instead."""


_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+)|(?P<name>#[A-Za-z0-9_]+)|(?P<value>:[A-Za-z0-9_]+)|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op><>|<=|>=|[=<>(),+\-])|(?P<bad>\S))"
)
_KEYWORDS = {"AND", "OR", "NOT", "BETWEEN", "SET", "ADD", "REMOVE", "DELETE", "IN"}
_COMPARATORS = {"=", "<>", "<", "<=", ">", ">="}


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.lastgroup in (None, "bad", "num"):
            raise Unsupported(text)
        kind, value = m.lastgroup, m.group(m.lastgroup)
        if kind == "ident" and value.upper() in _KEYWORDS:
            kind, value = "kw", value.upper()
        out.append((kind, value))
        pos = m.end()
    return out


@dataclass(frozen=True, slots=True)
class Names:
    """The placeholders an expression used, checked against what the request supplied."""

    names: frozenset[str]
    values: frozenset[str]


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.pos = 0
        self.names: set[str] = set()
        self.values: set[str] = set()

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def take(self, kind: str | None = None, value: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (kind and tok[0] != kind) or (value and tok[1] != value):
            raise Unsupported(f"expected {value or kind}")
        self.pos += 1
        return tok[1]

    def at(self, kind: str, value: str | None = None) -> bool:
        tok = self.peek()
        return tok is not None and tok[0] == kind and (value is None or tok[1] == value)

    def done(self) -> None:
        if self.peek() is not None:
            raise Unsupported("trailing tokens")

    # paths and operands ------------------------------------------------------------------------------------------
    def path(self) -> _Path:
        tok = self.peek()
        if tok is None or tok[0] != "name":
            # A bare name may be one of DynamoDB's ~570 reserved words, which it refuses: moto knows the list.
            raise Unsupported("path other than #placeholder")
        self.pos += 1
        self.names.add(tok[1])
        return _Path(tok[1])

    def operand(self) -> _Operand:
        if self.at("value"):
            v = self.take("value")
            self.values.add(v)
            return _Value(v)
        if self.at("ident", "if_not_exists"):
            self.take()
            self.take("op", "(")
            path = self.path()
            self.take("op", ",")
            fallback = self.operand()
            self.take("op", ")")
            return _IfNotExists(path, fallback)
        return self.path()

    # conditions --------------------------------------------------------------------------------------------------
    def condition(self) -> _Cond:
        left = self.conjunction()
        while self.at("kw", "OR"):
            self.take()
            left = _Or(left, self.conjunction())
        return left

    def conjunction(self) -> _Cond:
        left = self.negation()
        while self.at("kw", "AND"):
            self.take()
            left = _And(left, self.negation())
        return left

    def negation(self) -> _Cond:
        if self.at("kw", "NOT"):
            self.take()
            return _Not(self.negation())
        return self.primary()

    def primary(self) -> _Cond:
        if self.at("op", "("):
            self.take()
            inner = self.condition()
            self.take("op", ")")
            return inner
        for func, exists in (("attribute_exists", True), ("attribute_not_exists", False)):
            if self.at("ident", func):
                self.take()
                self.take("op", "(")
                path = self.path()
                self.take("op", ")")
                return _Exists(path, exists)
        left = self.operand()
        if isinstance(left, _IfNotExists):
            raise Unsupported("if_not_exists in a condition")
        if self.at("kw", "BETWEEN"):
            self.take()
            low = self.operand()
            self.take("kw", "AND")
            return _Between(left, low, self.operand())
        tok = self.peek()
        if tok is None or tok[0] != "op" or tok[1] not in _COMPARATORS:
            raise Unsupported("comparator expected")
        self.pos += 1
        return _Compare(tok[1], left, self.operand())

    # updates -----------------------------------------------------------------------------------------------------
    def update(self) -> tuple[_Action, ...]:
        actions: list[_Action] = []
        seen: set[str] = set()
        while self.peek() is not None:
            clause = self.take("kw")
            if clause not in ("SET", "ADD", "REMOVE") or clause in seen:
                raise Unsupported(clause)
            seen.add(clause)
            while True:
                actions.append(self.action(clause))
                if not self.at("op", ","):
                    break
                self.take()
        if not actions:
            raise Unsupported("empty update")
        return tuple(actions)

    def action(self, clause: str) -> _Action:
        path = self.path()
        if clause == "REMOVE":
            return _Action("REMOVE", path, None)
        if clause == "ADD":
            v = self.take("value")
            self.values.add(v)
            return _Action("ADD", path, _Value(v))
        self.take("op", "=")
        value: _Operand = self.operand()
        if self.at("op", "+") or self.at("op", "-"):
            sign = self.take()
            value = _Arith(sign, value, self.operand())
        return _Action("SET", path, value)


# evaluation ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Scope:
    """What an expression is evaluated against: the request's placeholders and the stored item."""

    names: Mapping[str, str]
    values: Mapping[str, Wire]
    lookup: Lookup

    def attr(self, token: str) -> str:
        return self.names[token]


@dataclass(frozen=True, slots=True)
class _Path:
    token: str

    def eval(self, scope: Scope) -> Wire | None:
        return scope.lookup(scope.attr(self.token))


@dataclass(frozen=True, slots=True)
class _Value:
    token: str

    def eval(self, scope: Scope) -> Wire | None:
        return scope.values[self.token]


@dataclass(frozen=True, slots=True)
class _IfNotExists:
    path: _Path
    fallback: _Operand

    def eval(self, scope: Scope) -> Wire | None:
        current = self.path.eval(scope)
        return current if current is not None else self.fallback.eval(scope)


@dataclass(frozen=True, slots=True)
class _Arith:
    sign: str
    left: _Operand
    right: _Operand

    def eval(self, scope: Scope) -> Wire | None:
        a, b = _number(self.left.eval(scope)), _number(self.right.eval(scope))
        return {"N": format_number(a + b if self.sign == "+" else a - b)}


_Operand = _Path | _Value | _IfNotExists | _Arith


def _number(value: Wire | None) -> Decimal:
    if value is None or set(value) != {"N"}:
        raise Unsupported("arithmetic on a non-number")  # moto raises the exact validation error
    return parse_number(value["N"])


def parse_number(text: object) -> Decimal:
    if not isinstance(text, str) or not re.fullmatch(r"-?\d+(\.\d+)?", text):
        raise Unsupported(f"number {text!r}")  # exponents, spaces, junk: moto validates and answers
    try:
        return Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the pattern above admits only valid numbers
        raise Unsupported(text) from exc


def format_number(value: Decimal) -> str:
    """moto's spelling (an integer stays an integer; a fraction keeps its digits), so both paths answer alike."""
    if len(value.as_tuple().digits) > 38:
        raise Unsupported("precision")  # DynamoDB refuses more than 38 digits; moto says how
    return f"{value}"


def _comparable(value: Wire | None) -> tuple[str, Any] | None:
    if value is None:
        return None
    if set(value) == {"N"}:
        return "N", parse_number(value["N"])
    if set(value) == {"S"} and isinstance(value["S"], str):
        return "S", value["S"]  # code-point order equals the UTF-8 byte order DynamoDB compares in
    raise Unsupported("comparison of this type")


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "<>": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


@dataclass(frozen=True, slots=True)
class _Compare:
    op: str
    left: _Operand
    right: _Operand

    def eval(self, scope: Scope) -> bool:
        a, b = _comparable(self.left.eval(scope)), _comparable(self.right.eval(scope))
        if a is None or b is None or a[0] != b[0]:
            if self.op == "<>":
                raise Unsupported("<> with a missing attribute or another type")
            return False  # DynamoDB: comparing with a missing attribute or another type is false
        return _ORDER[self.op](a[1], b[1])


@dataclass(frozen=True, slots=True)
class _Between:
    subject: _Operand
    low: _Operand
    high: _Operand

    def eval(self, scope: Scope) -> bool:
        s, lo, hi = (_comparable(x.eval(scope)) for x in (self.subject, self.low, self.high))
        if s is None or lo is None or hi is None or not s[0] == lo[0] == hi[0]:
            return False
        if lo[1] > hi[1]:
            raise Unsupported("BETWEEN bounds out of order")  # a ValidationException that moto words
        return bool(lo[1] <= s[1] <= hi[1])


@dataclass(frozen=True, slots=True)
class _Exists:
    path: _Path
    exists: bool

    def eval(self, scope: Scope) -> bool:
        return (self.path.eval(scope) is not None) is self.exists


@dataclass(frozen=True, slots=True)
class _And:
    left: _Cond
    right: _Cond

    def eval(self, scope: Scope) -> bool:
        return self.left.eval(scope) and self.right.eval(scope)


@dataclass(frozen=True, slots=True)
class _Or:
    left: _Cond
    right: _Cond

    def eval(self, scope: Scope) -> bool:
        return self.left.eval(scope) or self.right.eval(scope)


@dataclass(frozen=True, slots=True)
class _Not:
    inner: _Cond

    def eval(self, scope: Scope) -> bool:
        return not self.inner.eval(scope)


_Cond = _Compare | _Between | _Exists | _And | _Or | _Not


@dataclass(frozen=True, slots=True)
class _Action:
    verb: str  # SET | ADD | REMOVE
    path: _Path
    value: _Operand | None


@dataclass(frozen=True, slots=True)
class Condition:
    root: _Cond
    used: Names

    def holds(self, scope: Scope) -> bool:
        return self.root.eval(scope)


@dataclass(frozen=True, slots=True)
class Update:
    actions: tuple[_Action, ...]
    used: Names

    def targets(self, names: Mapping[str, str]) -> list[str]:
        return [names[a.path.token] for a in self.actions]

    def changes(self, scope: Scope) -> dict[str, Wire | None]:
        """The new value of every attribute the update touches (None: removed), all read before any is written."""
        out: dict[str, Wire | None] = {}
        for action in self.actions:
            name = scope.attr(action.path.token)
            if name in out:
                raise Unsupported("two actions on one path")  # DynamoDB refuses overlapping paths
            if action.verb == "REMOVE":
                out[name] = None
            elif action.verb == "ADD":
                assert action.value is not None
                amount = action.value.eval(scope)
                current = scope.lookup(name)
                base = Decimal(0) if current is None else _number(current)
                out[name] = {"N": format_number(base + _number(amount))}
            else:
                assert action.value is not None
                value = action.value.eval(scope)
                if value is None:
                    raise Unsupported("SET from a missing attribute")  # a ValidationException moto words
                out[name] = value
        return out


@functools.lru_cache(maxsize=512)
def condition(text: str) -> Condition:
    parser = _Parser(text)
    root = parser.condition()
    parser.done()
    return Condition(root, Names(frozenset(parser.names), frozenset(parser.values)))


@functools.lru_cache(maxsize=512)
def update(text: str) -> Update:
    parser = _Parser(text)
    actions = parser.update()
    parser.done()
    return Update(actions, Names(frozenset(parser.names), frozenset(parser.values)))
