"""A case-insensitive, order-preserving multi-map of HTTP header fields."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

_Pairs = list[tuple[str, str]]


class Headers:
    """Header fields as (name, value) pairs; names compare case-insensitively and are stored lower-case.

    HTTP allows a field to repeat (Set-Cookie above all), so this keeps every pair rather than a dict of one value.
    """

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: _Pairs = [(k.lower(), v) for k, v in items]

    @classmethod
    def lowered(cls, items: _Pairs) -> Headers:
        """Wrap pairs whose names are already lower-case (a parser lowered them), without a copy."""
        made = cls()  # __init__ copies no pairs; compiled (docs/native.md), cls.__new__ is not available
        made._items = items
        return made

    def get(self, name: str, default: str | None = None) -> str | None:
        name = name.lower()
        for key, value in self._items:
            if key == name:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        name = name.lower()
        return [value for key, value in self._items if key == name]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(key == name.lower() for key, _ in self._items)

    def set(self, name: str, value: str) -> None:
        """Replace every field called `name` with one field."""
        self.remove(name)
        self._items.append((name.lower(), value))

    def add(self, name: str, value: str) -> None:
        self._items.append((name.lower(), value))

    def remove(self, name: str) -> None:
        name = name.lower()
        items = self._items
        for key, _ in items:
            if key == name:  # the list is rebuilt only when there is something to take out
                self._items = [(key, value) for key, value in items if key != name]
                return

    def names(self) -> frozenset[str]:
        return frozenset(key for key, _ in self._items)

    def items(self) -> _Pairs:
        return list(self._items)

    def copy(self) -> Headers:
        clone = Headers()
        clone._items = list(self._items)
        return clone

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Headers) and self._items == other._items

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"
