"""gRPC calls over cached grpc.aio channels, one per target and TLS setting; requests and replies stay bytes.

No generated stubs: calls use the generic `unary_unary` / `unary_stream` with pass-through (de)serialisers, and the
dispatch layer turns bytes into messages with classes built from the route's descriptor set.
Like the http transport, a target's name is resolved here and every address is checked against netguard; the
channel then dials the checked addresses (`ipv4:` / `ipv6:` targets) with the original name as :authority and TLS
name, so a later lookup cannot rebind it to a refused address. A channel that reports UNAVAILABLE is dropped, so
the next call resolves afresh.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import grpc
import grpc.aio

from portico.adapters.resolve import Resolver, checked_addresses, system_resolver
from portico.core.config.grpc import GrpcTls
from portico.core.grpc.status import GrpcCallError, ReplyTooLarge

Metadata = Sequence[tuple[str, str]]
_UNAVAILABLE = grpc.StatusCode.UNAVAILABLE.value[0]
# grpc's own receive limit sits well above the per-route cap (checked here on bytes received), so that an oversized
# reply is reported as such (502), not as the RESOURCE_EXHAUSTED (429) grpc would raise locally.
_CHANNEL_MESSAGE_LIMIT = 64 * 1024 * 1024


class GrpcChannels:
    """Implements portico.edge.dispatch.grpc.GrpcCaller. Create it inside the event loop that will use it."""

    def __init__(self, *, allow_loopback: bool = False, resolver: Resolver | None = None) -> None:
        self._allow_loopback = allow_loopback
        self._resolve = resolver or system_resolver
        self._channels: dict[tuple[str, bool, str | None, str | None], grpc.aio.Channel] = {}
        self._closing: set[asyncio.Task[None]] = set()

    async def unary(
        self, target: str, tls: GrpcTls, method: str, request: bytes, timeout: float, metadata: Metadata
    ) -> bytes:
        key, channel = await self._channel(target, tls)
        call = channel.unary_unary(method)
        try:
            reply: bytes = await call(request, timeout=timeout, metadata=tuple(metadata))
        except grpc.aio.AioRpcError as exc:
            raise self._failed(key, exc) from None
        return reply

    async def server_stream(
        self, target: str, tls: GrpcTls, method: str, request: bytes, timeout: float, metadata: Metadata, limit: int
    ) -> list[bytes]:
        """Every message of a server-streaming reply; ReplyTooLarge (and the call cancelled) past `limit` bytes."""
        key, channel = await self._channel(target, tls)
        call = channel.unary_stream(method)(request, timeout=timeout, metadata=tuple(metadata))
        items: list[bytes] = []
        total = 0
        try:
            async for item in call:
                total += len(item)
                if total > limit:
                    call.cancel()
                    raise ReplyTooLarge(f"the streamed reply exceeds {limit} bytes")
                items.append(item)
        except grpc.aio.AioRpcError as exc:
            raise self._failed(key, exc) from None
        return items

    async def close(self) -> None:
        channels, self._channels = list(self._channels.values()), {}
        await asyncio.gather(*(c.close() for c in channels), return_exceptions=True)

    def _failed(self, key: tuple[str, bool, str | None, str | None], exc: grpc.aio.AioRpcError) -> GrpcCallError:
        code = int(exc.code().value[0])
        if code == _UNAVAILABLE:
            stale = self._channels.pop(key, None)
            if stale is not None:  # closed in the background, after a grace for calls still running on it
                task = asyncio.get_running_loop().create_task(stale.close(grace=5.0))
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
        return GrpcCallError(code, exc.details() or "")

    async def _channel(
        self, target: str, tls: GrpcTls
    ) -> tuple[tuple[str, bool, str | None, str | None], grpc.aio.Channel]:
        key = (target, tls.enabled, tls.ca, tls.server_name)
        channel = self._channels.get(key)
        if channel is not None:
            return key, channel
        host, port = _split(target)
        addresses = await self._checked(host, port)
        dial = ",".join(f"{'[' + a + ']' if ':' in a else a}:{port}" for a in addresses)
        dial = ("ipv6:" if ":" in addresses[0] else "ipv4:") + dial
        options: list[tuple[str, str | int]] = [
            ("grpc.default_authority", target),
            ("grpc.max_receive_message_length", _CHANNEL_MESSAGE_LIMIT),
            ("grpc.max_send_message_length", _CHANNEL_MESSAGE_LIMIT),
            ("grpc.enable_retries", 0),  # retries are a route decision, not a hidden library default
        ]
        if tls.enabled:
            options.append(("grpc.ssl_target_name_override", tls.server_name or host.strip("[]")))
            creds = grpc.ssl_channel_credentials(root_certificates=tls.ca.encode() if tls.ca else None)
            channel = grpc.aio.secure_channel(dial, creds, options=options)
        else:
            channel = grpc.aio.insecure_channel(dial, options=options)
        existing = self._channels.setdefault(key, channel)
        if existing is not channel:  # another request built one meanwhile
            await channel.close()
        return key, existing

    async def _checked(self, host: str, port: int) -> list[str]:
        allowed = await checked_addresses(host, port, self._resolve, allow_loopback=self._allow_loopback)
        # one family per channel target; prefer IPv4 like most dialers when both are there
        v4 = [a for a in allowed if ":" not in a]
        return v4 or allowed


def _split(target: str) -> tuple[str, int]:
    host, _, port = target.rpartition(":")
    return host.strip("[]"), int(port)
