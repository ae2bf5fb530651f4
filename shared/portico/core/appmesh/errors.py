"""The one error an import raises: it names the file, the App Mesh resource and the field."""

from __future__ import annotations


class ImportFailure(Exception):
    """Input that cannot be imported at all (malformed file, dangling reference, invalid value)."""

    def __init__(self, file: str, message: str, *, resource: str = "", field: str = "") -> None:
        self.file = file
        self.resource = resource
        self.field = field
        self.message = message
        where = ": ".join(p for p in (file, resource, field) if p)
        super().__init__(f"{where}: {message}")
