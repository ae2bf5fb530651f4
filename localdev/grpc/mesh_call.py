"""Call the demo Library through a sidecar, as a gRPC app in the mesh would (`make dev` prints this command).

    python -m localdev.grpc.mesh_call --via 127.0.0.1:15101 [--service library] [--deadline-ms 2000]

grpcio speaks h2c with prior knowledge to the sidecar's outbound listener and names the service in :authority
(`grpc.default_authority`); the sidecar carries the calls to the Library's sidecar over mTLS (HTTP/2, ALPN h2).
Makes a unary GetBook, a server-streaming ListBooks and a Fail call that returns UNAVAILABLE, and prints each.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import grpc
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor_pb2 import FileDescriptorSet

from localdev.grpc.build import build

PACKAGE = "portico.demo.v1"


def _messages() -> dict[str, Any]:
    pool = descriptor_pool.DescriptorPool()
    for proto in FileDescriptorSet.FromString(build().read_bytes()).file:
        pool.Add(proto)
    names = ("GetBookRequest", "ListBooksRequest", "FailRequest", "Book")
    return {n: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{PACKAGE}.{n}")) for n in names}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--via", default="127.0.0.1:15101", help="a sidecar's outbound listener")
    p.add_argument("--service", default="library")
    p.add_argument("--deadline-ms", type=int, default=2000)
    args = p.parse_args(argv)
    m = _messages()
    book = m["Book"].FromString
    timeout = args.deadline_ms / 1000
    options = [("grpc.default_authority", args.service), ("grpc.enable_retries", 0)]
    with grpc.insecure_channel(args.via, options=options) as ch:
        get = ch.unary_unary(f"/{PACKAGE}.Library/GetBook", lambda r: r.SerializeToString(), book)
        started = time.perf_counter()
        reply = get(m["GetBookRequest"](shelf="fiction", id=1), timeout=timeout)
        print(f"GetBook (unary): {reply.title!r} by {reply.author.display_name} in {_ms(started)}")
        listing = ch.unary_stream(f"/{PACKAGE}.Library/ListBooks", lambda r: r.SerializeToString(), book)
        started = time.perf_counter()
        titles = [b.title for b in listing(m["ListBooksRequest"](shelf="fiction"), timeout=timeout)]
        print(f"ListBooks (server-streaming): {titles} in {_ms(started)}")
        fail = ch.unary_unary(f"/{PACKAGE}.Library/Fail", lambda r: r.SerializeToString(), book)
        try:
            fail(m["FailRequest"](code="UNAVAILABLE", message="asked to fail"), timeout=timeout)
        except grpc.RpcError as exc:
            print(f"Fail: {exc.code().name} {exc.details()!r} (the status crossed both sidecars in the trailers)")


def _ms(started: float) -> str:
    return f"{(time.perf_counter() - started) * 1000:.1f} ms"


if __name__ == "__main__":
    main()
