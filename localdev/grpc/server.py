"""Demo gRPC service (grpcio): the Library of localdev/grpc/protos, served from its descriptor set, no generated code.

Shelf `fiction` holds three books. `GET /v1/errors/{code}` through the edge ends the Fail call with that status.
Stats counts the calls each method received, so tests can prove that rejected input never reached the service.
Prints `listening on 127.0.0.1:PORT` when ready.
Run: python -m localdev.grpc.server [--host 127.0.0.1] [--port 18090]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import grpc.aio
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor_pb2 import FileDescriptorSet

from localdev.grpc.build import build

SERVICE = "portico.demo.v1.Library"


def _classes(data: bytes) -> dict[str, Any]:
    pool = descriptor_pool.DescriptorPool()
    for proto in FileDescriptorSet.FromString(data).file:
        pool.Add(proto)
    service = pool.FindServiceByName(SERVICE)
    out: dict[str, Any] = {"pool": pool, "service": service}
    for name in ("Book", "StatsReply", "EchoMessage"):
        out[name] = message_factory.GetMessageClass(pool.FindMessageTypeByName(f"portico.demo.v1.{name}"))
    return out


class Library:
    """In-memory books; each handler takes the request message and the call context."""

    def __init__(self, classes: dict[str, Any]) -> None:
        self.c = classes
        self.calls: Counter[str] = Counter()
        self.books: dict[tuple[str, int], Any] = {}
        for i, (title, author, pages, tags) in enumerate(
            [
                ("Dune", "Frank Herbert", 412, ["classic", "desert"]),
                ("Solaris", "Stanisław Lem", 204, ["classic", "ocean"]),
                ("Piranesi", "Susanna Clarke", 272, ["house"]),
            ],
            start=1,
        ):
            book = self.c["Book"](name=f"shelves/fiction/books/{i}", id=i, title=title, page_count=pages, genre=1)
            book.author.display_name = author
            book.tags.extend(tags)
            book.published_time.FromSeconds(1_000_000_000 + i * 86400)
            self.books[("fiction", i)] = book

    async def GetBook(self, req: Any, ctx: grpc.aio.ServicerContext) -> Any:
        book = self.books.get((req.shelf, req.id))
        if book is None or not set(req.tags) <= set(book.tags):
            await ctx.abort(grpc.StatusCode.NOT_FOUND, f"book {req.id} not found on shelf {req.shelf!r}")
        if req.view == 1:  # BASIC: name and title only
            return self.c["Book"](name=book.name, id=book.id, title=book.title)
        return book

    async def CreateBook(self, req: Any, ctx: grpc.aio.ServicerContext) -> Any:
        if not req.book.title:
            await ctx.abort(grpc.StatusCode.INVALID_ARGUMENT, "a book needs a title")
        new_id = max((i for s, i in self.books if s == req.shelf), default=0) + 1
        book = self.c["Book"]()
        book.CopyFrom(req.book)
        book.id = new_id
        book.name = f"shelves/{req.shelf}/books/{new_id}"
        self.books[(req.shelf, new_id)] = book
        return book

    async def UpdateBook(self, req: Any, ctx: grpc.aio.ServicerContext) -> Any:
        parts = req.book.name.split("/")
        key = (parts[1], int(parts[3])) if len(parts) == 4 and parts[3].isdigit() else None
        if key is None or key not in self.books:
            await ctx.abort(grpc.StatusCode.NOT_FOUND, f"{req.book.name} not found")
        book = self.books[key]
        if req.book.title:
            book.title = req.book.title
        return book

    async def ListBooks(self, req: Any, ctx: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        found = [b for (shelf, _), b in sorted(self.books.items()) if shelf == req.shelf]
        for book in found[: req.limit or None]:
            yield book

    async def Echo(self, req: Any, ctx: grpc.aio.ServicerContext) -> Any:
        return req

    async def Fail(self, req: Any, ctx: grpc.aio.ServicerContext) -> Any:
        if req.delay_ms:
            await asyncio.sleep(min(req.delay_ms, 30_000) / 1000)
        code = getattr(grpc.StatusCode, req.code.upper(), None)
        if code is None or code is grpc.StatusCode.OK:
            await ctx.abort(grpc.StatusCode.INVALID_ARGUMENT, f"unknown status code {req.code!r}")
        await ctx.abort(code, req.message or f"failing with {code.name} as asked")

    async def Stats(self, req: Any, ctx: grpc.aio.ServicerContext) -> Any:
        return self.c["StatsReply"](calls=dict(self.calls))


def handler(library: Library) -> grpc.GenericRpcHandler:
    service = library.c["service"]
    methods: dict[str, grpc.RpcMethodHandler] = {}
    for method in service.methods:
        request_class = message_factory.GetMessageClass(method.input_type)
        implementation = _counted(library, method.name, getattr(library, method.name))
        make = grpc.unary_stream_rpc_method_handler if method.server_streaming else grpc.unary_unary_rpc_method_handler
        methods[method.name] = make(
            implementation,
            request_deserializer=request_class.FromString,
            response_serializer=lambda message: message.SerializeToString(),
        )
    return grpc.method_handlers_generic_handler(SERVICE, methods)


def _counted(library: Library, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    if name == "Stats":
        return fn
    if name == "ListBooks":

        async def stream(req: Any, ctx: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            library.calls[name] += 1
            async for item in fn(req, ctx):
                yield item

        return stream

    async def unary(req: Any, ctx: grpc.aio.ServicerContext) -> Any:
        library.calls[name] += 1
        return await fn(req, ctx)

    return unary


async def serve(host: str, port: int) -> None:
    library = Library(_classes(build().read_bytes()))
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler(library),))
    bound = server.add_insecure_port(f"{host}:{port}")
    await server.start()
    print(f"listening on {host}:{bound}", flush=True)
    await server.wait_for_termination()


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18090)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    cli()
