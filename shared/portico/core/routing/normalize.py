"""Path normalisation before routing: one canonical spelling per path, or a clear rejection (400).

Rules (RFC 3986 section 6.2.2 plus gateway hardening):
- percent-encoded unreserved characters (ALPHA, DIGIT, '-', '.', '_', '~') are decoded; other escapes get
  upper-case hex;
- characters outside RFC 3986 `pchar` are percent-encoded, so every output spelling is canonical;
- repeated slashes are merged and dot-segments removed (after decoding, so `%2e%2e` counts as `..`);
- an encoded slash (`%2F`), an encoded or raw backslash, NUL (raw or `%00`), other control characters and
  malformed escapes are rejected, because upstreams disagree about what they mean.
"""

from __future__ import annotations

import re

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# pchar = unreserved / pct-encoded / sub-delims / ":" / "@"; '/' separates segments; '%' starts an escape.
_ALLOWED_RAW = _UNRESERVED | frozenset("!$&'()*+,;=:@/%")
_HEX = frozenset("0123456789abcdefABCDEF")
_FORBIDDEN_ESCAPES = frozenset({"2F", "5C", "00"})
_MULTI_SLASH = re.compile(r"/{2,}")

MAX_PATH_BYTES = 8192


class PathRejected(ValueError):
    """The path cannot be routed safely; the message is the client-facing reason. `status` is 400 or 414."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.status = status


def _canonical_chars(path: str) -> str:
    """Decode unreserved escapes, upper-case the rest, encode raw characters outside pchar; reject dangerous ones."""
    out: list[str] = []
    i, n = 0, len(path)
    while i < n:
        ch = path[i]
        if ch == "%":
            pair = path[i + 1 : i + 3]
            if len(pair) != 2 or pair[0] not in _HEX or pair[1] not in _HEX:
                raise PathRejected("malformed percent-encoding in path")
            pair = pair.upper()
            if pair in _FORBIDDEN_ESCAPES:
                raise PathRejected(
                    f"encoded {'slash' if pair == '2F' else 'backslash' if pair == '5C' else 'NUL'} in path"
                )
            decoded = chr(int(pair, 16))
            if int(pair, 16) < 0x20 or pair == "7F":
                raise PathRejected("control character in path")
            out.append(decoded if decoded in _UNRESERVED else "%" + pair)
            i += 3
            continue
        if ch == "\\":
            raise PathRejected("backslash in path")
        if ch < " " or ch == "\x7f":
            raise PathRejected("NUL or control character in path" if ch == "\x00" else "control character in path")
        if ch in _ALLOWED_RAW:
            out.append(ch)
        else:
            out.append("".join(f"%{b:02X}" for b in ch.encode("utf-8")))
        i += 1
    return "".join(out)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4 on an absolute path whose slashes are already merged."""
    stack: list[str] = []
    segments = path[1:].split("/")
    for index, seg in enumerate(segments):
        last = index == len(segments) - 1
        if seg == ".":
            if last:
                stack.append("")
        elif seg == "..":
            if stack:
                stack.pop()
            if last:
                stack.append("")
        else:
            stack.append(seg)
    return "/" + "/".join(stack)


def normalize_path(raw: str) -> str:
    """The canonical form of `raw` (an absolute path without query), or PathRejected. Idempotent."""
    if len(raw) > MAX_PATH_BYTES:
        raise PathRejected(f"path longer than {MAX_PATH_BYTES} bytes", status=414)
    if not raw.startswith("/"):
        raise PathRejected("path must start with '/'")
    canonical = _canonical_chars(raw)
    return _remove_dot_segments(_MULTI_SLASH.sub("/", canonical))
