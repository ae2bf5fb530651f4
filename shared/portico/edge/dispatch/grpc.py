"""The grpc upstream: REST/JSON in, one gRPC call, JSON (or a JSON array / NDJSON for streams) out.

Input is transcoded completely before the call, so a body or parameter that does not fit is a 400 naming the field
and the service sees nothing. A non-OK status becomes the mapped HTTP status with problem+json.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from portico.core.chain import Context
from portico.core.config.grpc import GrpcTls, GrpcUpstream, bindings_of, method_info
from portico.core.grpc.descriptors import Binding
from portico.core.grpc.status import GrpcCallError, ReplyTooLarge, status_problem
from portico.core.grpc.transcode import BadReply, BadRequest, ReplyFormat, Transcoder
from portico.core.headers import Headers
from portico.core.http import Response
from portico.core.problem import problem

log = logging.getLogger("portico.edge")

# Request headers passed on as gRPC metadata: tracing, the request id, the verified identity and credentials.
# Anything else goes only when the client asks with the grpc-gateway convention `Grpc-Metadata-<name>`.
_FORWARDED = (
    "authorization",
    "x-request-id",
    "traceparent",
    "tracestate",
    "x-amzn-trace-id",
    "x-forwarded-for",
    "x-portico-consumer",
    "x-portico-sub",
    "x-portico-scopes",
)
_PREFIX = "grpc-metadata-"
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_.")


class GrpcCaller(Protocol):
    """Makes gRPC calls with serialized messages; raises GrpcCallError for a non-OK status."""

    async def unary(
        self,
        target: str,
        tls: GrpcTls,
        method: str,
        request: bytes,
        timeout: float,
        metadata: Sequence[tuple[str, str]],
    ) -> bytes: ...

    async def server_stream(
        self,
        target: str,
        tls: GrpcTls,
        method: str,
        request: bytes,
        timeout: float,
        metadata: Sequence[tuple[str, str]],
        limit: int,
    ) -> list[bytes]: ...


class GrpcRoute:
    """One route's grpc upstream, compiled once per config version (config validation already checked it)."""

    def __init__(self, spec: GrpcUpstream, caller: GrpcCaller) -> None:
        info = method_info(spec)
        printing = ReplyFormat(
            proto_field_names=spec.reply_json.proto_field_names,
            emit_unpopulated=spec.reply_json.emit_unpopulated,
            enums_as_ints=spec.reply_json.enums_as_ints,
        )
        self._spec = spec
        self._caller = caller
        self._transcoder = Transcoder(
            info, bindings_of(spec, info), printing, ignore_unknown_query=spec.ignore_unknown_query_parameters
        )
        self._streaming = info.server_streaming
        self._ndjson = spec.stream == "ndjson"

    async def __call__(self, ctx: Context, params: dict[str, str]) -> Response:
        req = ctx.request
        rid = ctx.request_id
        head = req.method == "HEAD"  # served by GET rules, as HEAD is by GET routes
        found = self._transcoder.select("GET" if head else req.method, req.route_path)
        if isinstance(found, frozenset):
            if not found:
                return problem(404, f"no gRPC mapping of this route matches {req.route_path}", request_id=rid)
            allow = ", ".join(sorted(found))
            return problem(405, f"allowed here: {allow}", request_id=rid, headers=Headers([("allow", allow)]))
        binding, values = found
        try:
            message = self._transcoder.request_message(binding, values, req.query, req.body)
        except BadRequest as exc:
            return problem(400, str(exc), request_id=rid)
        data = message.SerializeToString()
        spec, path = self._spec, self._transcoder.info.path
        try:
            if self._streaming:
                items = await self._caller.server_stream(
                    spec.target, spec.tls, path, data, spec.timeout, metadata(ctx), spec.max_response_bytes
                )
                body, kind = self._stream_body(items, binding)
            else:
                reply = await self._caller.unary(spec.target, spec.tls, path, data, spec.timeout, metadata(ctx))
                body, kind = _json(self._transcoder.reply_json(reply, binding)), "application/json"
        except GrpcCallError as exc:
            log.info("gRPC %s ended with %s", path, exc)  # the full message stays in our logs only
            return status_problem(exc, request_id=rid)
        except (ReplyTooLarge, BadReply) as exc:
            log.warning("gRPC %s reply refused: %s", path, exc)
            return problem(502, "the upstream reply could not be returned", request_id=rid)
        if len(body) > spec.max_response_bytes:
            log.warning("gRPC %s reply is %d bytes as JSON, over maxResponseBytes", path, len(body))
            return problem(502, "the upstream reply could not be returned", request_id=rid)
        return Response(200, Headers([("content-type", kind)]), b"" if head else body)

    def _stream_body(self, items: list[bytes], binding: Binding) -> tuple[bytes, str]:
        docs = [_json(self._transcoder.reply_json(item, binding)) for item in items]
        if self._ndjson:
            return b"".join(d + b"\n" for d in docs), "application/x-ndjson"
        return b"[" + b",".join(docs) + b"]", "application/json"


def metadata(ctx: Context) -> list[tuple[str, str]]:
    """gRPC metadata for the call: the forwarded headers, plus Grpc-Metadata-* ones with the prefix removed."""
    out: list[tuple[str, str]] = []
    for name, value in ctx.request.headers:
        key = name.lower()
        if key.startswith(_PREFIX):
            key = key[len(_PREFIX) :]
            if key.startswith("grpc-") or key.endswith("-bin"):
                continue  # reserved by gRPC, or binary values a header cannot carry safely
        elif key not in _FORWARDED:
            continue
        if key and set(key) <= _KEY_CHARS and value.isascii() and value.isprintable():
            out.append((key, value))
    return out


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
