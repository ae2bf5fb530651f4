"""Header blocks on the sidecar's HTTP/2 hops: a stateless HPACK encoder (RFC 7541), and a one-pass check of
received blocks (RFC 9113 8.2-8.3) in place of h2's.

h2's own encoder (hpack) Huffman-codes every literal and inserts every new field into the dynamic table; on a proxy
hop, where the trace and attempt headers change on every call, that was a third of the cost of sending a request
(profiled). This encoder sends each field as a literal without indexing (the static table's name index where there
is one, RFC 7541 6.2.2), a field matching a static entry whole as that index (6.1), and no Huffman code: the
output depends on the field alone, the peer's dynamic table is never touched, and the name's bytes are cached.
On a LAN the extra bytes (Huffman saves ~20% of a literal) cost nothing; the peer's decoder also does less work.

`authorization`, `proxy-authorization` and `cookie` go as never-indexed literals (6.2.3), as h2 and nghttp2 mark
them, so no later hop may index a credential either.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Iterable, Sequence
from typing import Any

import h2.exceptions
from hpack import Decoder, Encoder, HPACKDecodingError, OversizedHeaderListError
from hpack.huffman_table import decode_huffman
from hpack.table import HeaderTable

_NEVER_INDEXED = frozenset({b"authorization", b"proxy-authorization", b"cookie"})


def _integer(value: int, prefix_bits: int, first: int) -> bytes:
    """RFC 7541 5.1, with `first` OR-ed into the first byte."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes((first | value,))
    out = [first | limit]
    value -= limit
    while value >= 128:
        out.append((value & 127) | 128)
        value >>= 7
    out.append(value)
    return bytes(out)


def _string(data: bytes) -> bytes:
    """A string literal without Huffman coding (5.2)."""
    size = len(data)
    return (bytes((size,)) if size < 127 else _integer(size, 7, 0)) + data


_STATIC_NAMES: dict[bytes, int] = {}
_STATIC_FIELDS: dict[tuple[bytes, bytes], bytes] = {}
for _index, (_name, _value) in enumerate(HeaderTable.STATIC_TABLE, start=1):
    _STATIC_NAMES.setdefault(_name, _index)
    _STATIC_FIELDS.setdefault((_name, _value), _integer(_index, 7, 0x80))


def _name_prefix(name: bytes) -> bytes:
    """The representation's first bytes up to the value: type bits, then the name as an index or a literal."""
    first = 0x10 if name in _NEVER_INDEXED else 0x00
    index = _STATIC_NAMES.get(name)
    if index is not None:
        return _integer(index, 4, first)
    return bytes((first,)) + _string(name)


_PREFIXES: dict[bytes, bytes] = {}
_PREFIX_CACHE_LIMIT = 1024  # distinct names (a request carries tens): unbounded input never grows it past this


class StatelessEncoder(Encoder):
    """An hpack `Encoder` whose blocks leave both dynamic tables empty. Fields arrive as bytes (h2 has encoded
    any str); a table size change the peer asked for is still acknowledged at the start of the next block."""

    def encode(self, headers: Iterable[Any], huffman: bool = True) -> bytes:
        parts: list[bytes] = []
        if self.header_table.resized:
            parts.append(self._encode_table_size_change())
            self.header_table.resized = False
        static = _STATIC_FIELDS
        prefixes = _PREFIXES
        for field in headers:
            name, value = field[0], field[1]
            whole = static.get((name, value))
            if whole is not None and name not in _NEVER_INDEXED:
                parts.append(whole)
                continue
            prefix = prefixes.get(name)
            if prefix is None:
                prefix = _name_prefix(name)
                if len(prefixes) < _PREFIX_CACHE_LIMIT:
                    prefixes[name] = prefix
            size = len(value)
            parts.append(prefix)
            parts.append(bytes((size,)) if size < 127 else _integer(size, 7, 0))
            parts.append(value)
        return b"".join(parts)


class PlainDecoder(Decoder):
    """An hpack `Decoder` with a short way through the blocks `StatelessEncoder` writes (another Portico sidecar's):
    static-table indexes and literals without indexing or never indexed; and through a client's repeated block, whose
    fields are indexes into the dynamic table filled by its earlier blocks and literals without indexing, Huffman-coded
    or not (h2load's, and grpcio's for calls whose fields do not change). Such a block leaves the dynamic table as it
    was, so at the first representation of any other kind (incremental indexing, a table size update, an index past
    the table, or a malformed one, Huffman code that hpack refuses included) the whole block is simply decoded again
    by hpack itself. The header list size limit (MAX_HEADER_LIST_SIZE: OversizedHeaderListError, which h2 answers
    with ENHANCE_YOUR_CALM) is counted as hpack counts it."""

    def decode(self, data: bytes, raw: bool = False) -> Iterable[Any]:
        table = self.header_table.dynamic_entries
        fields = _plain_block(bytes(data), self.max_header_list_size, table) if raw else None
        if fields is None:
            return super().decode(data, raw)
        self._assert_valid_table_size()
        return fields


_STATIC = HeaderTable.STATIC_TABLE


def _plain_block(
    data: bytes, limit: int, dynamic: Sequence[tuple[bytes, bytes]] = ()
) -> list[tuple[bytes, bytes]] | None:
    """The fields of a block made only of the representations above, or None to leave it to hpack. `dynamic` is the
    decoder's dynamic table, newest first: an index into it (a one-byte index, or a name's) is read from it, since
    reading leaves the table as it was; an index past its end is hpack's to refuse."""
    fields: list[tuple[bytes, bytes]] = []
    size = 0
    end = len(data)
    at = 0
    static = _STATIC
    while at < end:
        first = data[at]
        if first & 0x80:  # indexed (6.1), one byte
            index = first & 0x7F
            if index == 0 or index == 0x7F:  # 0 is an error, 127 takes more bytes: hpack's
                return None
            at += 1
            if index <= 61:
                field = static[index - 1]
            elif index - 62 < len(dynamic):  # a client's dynamic table (h2load's, grpcio's): a repeated field
                field = dynamic[index - 62]
            else:
                return None
        elif first & 0xE0:  # incremental indexing or a table size update
            return None
        else:  # without indexing or never indexed (6.2.2, 6.2.3): a 4-bit name index
            index = first & 0x0F
            at += 1
            if index == 0x0F:
                if at >= end or data[at] & 0x80:  # a second index byte at most: 15..142, the static table
                    return None
                index += data[at]
                at += 1
            if index > 61:
                if index - 62 >= len(dynamic):
                    return None
                name = dynamic[index - 62][0]
            elif index:
                name = static[index - 1][0]
            else:
                literal = _literal(data, at, end)
                if literal is None:
                    return None
                name, at = literal
            literal = _literal(data, at, end)
            if literal is None:
                return None
            value, at = literal
            field = (name, value)
        fields.append(field)
        size += 32 + len(field[0]) + len(field[1])
        if size > limit:
            raise OversizedHeaderListError(f"A header list larger than {limit} has been received")
    return fields


def _literal(data: bytes, at: int, end: int) -> tuple[bytes, int] | None:
    """The string literal at `at` (5.2) and where the next representation starts; None to leave the block to hpack
    (running off the block, or a Huffman code hpack's decoder refuses)."""
    if at >= end:
        return None
    length = data[at]
    huffman = length & 0x80
    length &= 0x7F
    at += 1
    if length == 0x7F:
        length, at = _long_length(data, at, end)
    stop = at + length
    if stop > end:
        return None
    if not huffman:
        return data[at:stop], stop
    coded = data[at:stop]
    text = _HUFFMAN.get(coded)
    if text is None:
        try:
            text = decode_huffman(coded)  # hpack's own decoding of the string; it touches no table
        except HPACKDecodingError:
            return None
        if len(coded) <= _HUFFMAN_SIZE_LIMIT and len(_HUFFMAN) < _HUFFMAN_LIMIT:
            _HUFFMAN[coded] = text
    return text, stop


# Huffman-coded strings as decoded: a client's literals without indexing recur call after call (bounded: at most
# 2,048 of at most 256 bytes; pure Python Huffman decoding costs ~1 us a byte)
_HUFFMAN: dict[bytes, bytes] = {}
_HUFFMAN_LIMIT = 2048
_HUFFMAN_SIZE_LIMIT = 256


def _long_length(data: bytes, at: int, end: int) -> tuple[int, int]:
    """A string length past the 7-bit prefix (5.1): its continuation bytes from `at`. A length that runs off the
    block comes back as one the caller's bounds check refuses."""
    length = 0x7F
    shift = 0
    while at < end and shift <= 28:
        more = data[at]
        at += 1
        length += (more & 0x7F) << shift
        shift += 7
        if not more & 0x80:
            return length, at
    return end + 1, end  # unterminated or absurd: `at + length` lands past the end


# --- inbound header blocks
class MalformedHeaders(h2.exceptions.ProtocolError):
    """A received header block breaks RFC 9113 8.2/8.3: the connection ends with GOAWAY PROTOCOL_ERROR, as h2's
    own validation would end it."""


BlockKind = typing.Literal["request", "response", "trailers"]
REQUEST: typing.Final = "request"
RESPONSE: typing.Final = "response"
TRAILERS: typing.Final = "trailers"

# RFC 9113 8.2.1: a name is 0x21-0x7e less upper case; ':' only as a pseudo-header's first character
_BAD_NAME = re.compile(rb"[^\x21-\x40\x5b-\x7e]|(?<=.):", re.DOTALL)
_BAD_VALUE = re.compile(rb"[\x00\n\r]|\A[ \t]|[ \t]\Z")
_CONNECTION = frozenset({b"connection", b"proxy-connection", b"keep-alive", b"transfer-encoding", b"upgrade"})
_PSEUDO = frozenset({b":method", b":scheme", b":authority", b":path", b":status", b":protocol"})
_REQUEST_PSEUDO = frozenset({b":scheme", b":path", b":authority", b":method", b":protocol"})
_GOOD_NAMES: set[bytes] = set()
_GOOD_NAME_LIMIT = 1024
# fields that passed every per-field check, as decoded: bounded in count and size (unique values such as trace ids
# fill it once and are then simply checked each time; at most 2,048 x 256 bytes)
_GOOD_FIELDS: dict[tuple[bytes, bytes], tuple[str, str]] = {}
_GOOD_FIELD_LIMIT = 2048
_PER_CALL = frozenset(  # values new on every call: not worth a place
    {
        b"traceparent",
        b"tracestate",
        b"x-request-id",
        b"x-amzn-trace-id",
        b"x-b3-traceid",
        b"x-b3-spanid",
        b"grpc-timeout",
    }
)
_GOOD_VALUE_LIMIT = 256


def inbound(fields: Iterable[tuple[bytes, bytes]], kind: BlockKind) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Check a received header block in one pass and split it into pseudo-header fields and the others (latin-1,
    names lower-case; `cookie` fields joined into one, last, RFC 9113 8.2.3). Raises MalformedHeaders where h2's
    inbound validation (normalize_inbound_headers, then validate_headers) raises; tests/unit/mesh/test_h2_codec.py
    holds the two to the same verdicts."""
    pseudo: dict[str, str] = {}
    pairs: list[tuple[str, str]] = []
    cookies: list[bytes] = []
    regular = False
    good = _GOOD_NAMES
    seen = _GOOD_FIELDS
    for field in fields:
        known = seen.get(field)  # a field checked before (most are: content-type, te, user-agent, ...)
        if known is not None:
            if known[0][0] == ":":
                if known[0] in pseudo:
                    raise MalformedHeaders(f"duplicate pseudo-header field {known[0]!r}")
                if regular:
                    raise MalformedHeaders(f"pseudo-header field out of sequence: {known[0]!r}")
                pseudo[known[0]] = known[1]
            else:
                regular = True
                pairs.append(known)
            continue
        name, value = field[0], field[1]
        if name not in good:
            _check_name(name)
        if name == b"cookie":
            cookies.append(value)  # joined and placed last before any check, as h2 normalises first
            continue
        if value and _BAD_VALUE.search(value) is not None:
            raise MalformedHeaders(f"invalid value for header {name!r}")
        if name[0] == 0x3A:  # ':'
            key = name.decode("latin-1")
            if key in pseudo:
                raise MalformedHeaders(f"duplicate pseudo-header field {name!r}")
            if regular:
                raise MalformedHeaders(f"pseudo-header field out of sequence: {name!r}")
            if name not in _PSEUDO:
                raise MalformedHeaders(f"unknown pseudo-header field {name!r}")
            pseudo[key] = text = value.decode("latin-1")
            _remember(name, value, (key, text))
            continue
        regular = True
        if name in _CONNECTION:
            raise MalformedHeaders(f"connection-specific header field {name!r}")
        if name == b"te" and value.lower() != b"trailers":
            raise MalformedHeaders(f"invalid value for te: {value!r}")
        pair = (name.decode("latin-1"), value.decode("latin-1"))
        pairs.append(pair)
        _remember(name, value, pair)
    if cookies:
        joined = b"; ".join(cookies)
        if joined and _BAD_VALUE.search(joined) is not None:
            raise MalformedHeaders("invalid value for header b'cookie'")
        pairs.append(("cookie", joined.decode("latin-1")))
    _check_pseudo(pseudo, pairs, kind)
    return pseudo, pairs


def _remember(name: bytes, value: bytes, decoded: tuple[str, str]) -> None:
    """Keep a field that passed every per-field check (never a cookie: those are checked once joined)."""
    if len(value) <= _GOOD_VALUE_LIMIT and len(_GOOD_FIELDS) < _GOOD_FIELD_LIMIT and name not in _PER_CALL:
        _GOOD_FIELDS[(name, value)] = decoded


def _check_name(name: bytes) -> None:
    if not name:
        raise MalformedHeaders("empty header name")
    if _BAD_NAME.search(name) is not None:
        raise MalformedHeaders(f"invalid header name {name!r}")
    if len(_GOOD_NAMES) < _GOOD_NAME_LIMIT:
        _GOOD_NAMES.add(name)


def _check_pseudo(pseudo: dict[str, str], pairs: list[tuple[str, str]], kind: BlockKind) -> None:
    if kind == TRAILERS:
        if pseudo:
            raise MalformedHeaders("pseudo-header fields in trailers")
        return
    if kind == RESPONSE:
        if ":status" not in pseudo:
            raise MalformedHeaders("response without :status")
        if len(pseudo) > 1:
            raise MalformedHeaders("request pseudo-header fields in a response")
        return
    for required in (":path", ":method", ":scheme"):
        if required not in pseudo:
            raise MalformedHeaders(f"request without {required}")
    if ":status" in pseudo:
        raise MalformedHeaders("response pseudo-header field in a request")
    if ":protocol" in pseudo and pseudo[":method"] != "CONNECT":
        raise MalformedHeaders(":protocol without CONNECT")
    if not pseudo[":path"]:
        raise MalformedHeaders("empty :path")
    authority = pseudo.get(":authority")
    host = None
    for name, value in pairs:
        if name == "host":
            host = value  # h2 compares the last one
    if authority is None and host is None:
        raise MalformedHeaders("request without :authority or host")
    if authority is not None and host is not None and authority != host:
        raise MalformedHeaders(":authority and host differ")
