"""The developer portal's assets (a small self-written renderer), served from the package: no CDN, no npm."""

from __future__ import annotations

from importlib.resources import files

ASSET_TYPES = {
    "docs.html": "text/html; charset=utf-8",
    "portal.js": "text/javascript; charset=utf-8",
    "account.js": "text/javascript; charset=utf-8",
    "portal.css": "text/css; charset=utf-8",
}


def load_assets() -> dict[str, tuple[bytes, str]]:
    """Every asset with its content type, read once per pipeline build (they are small: a few kilobytes)."""
    root = files(__name__) / "static"
    return {name: ((root / name).read_bytes(), ctype) for name, ctype in ASSET_TYPES.items()}
