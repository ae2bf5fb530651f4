"""Build step: compiles localdev/grpc/protos/ into a FileDescriptorSet (grpcio-tools), when it is missing or stale.

The descriptor set is generated, never committed: localdev/grpc/build/ is git-ignored (`build/`). `portico dev up`,
the tests and the benchmark call `build()`; `make grpc-demo` and `python -m localdev.grpc.build` run it by hand.
google/api/annotations.proto and http.proto come from the googleapis-common-protos package (it ships the .proto
files); google/protobuf/*.proto come with grpcio-tools.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROTOS = HERE / "protos"
DESCRIPTOR_SET = HERE / "build" / "library.pb"


def _include_dirs() -> list[Path]:
    import grpc_tools

    spec = importlib.util.find_spec("google.api.annotations_pb2")  # located, not imported
    if spec is None or spec.origin is None:
        raise RuntimeError("googleapis-common-protos is not installed (it provides google/api/annotations.proto)")
    common = Path(spec.origin).parents[2]
    return [PROTOS, common, Path(grpc_tools.__file__).parent / "_proto"]


def build(out: Path = DESCRIPTOR_SET, *, force: bool = False) -> Path:
    """Compile every .proto under protos/ (with imports and source info) into `out`; return `out`."""
    sources = sorted(PROTOS.rglob("*.proto"))
    newest = max(s.stat().st_mtime for s in sources)
    if not force and out.exists() and out.stat().st_mtime >= newest:
        return out
    from grpc_tools import protoc

    out.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target and renamed, so concurrent builds (parallel tests) never see a half-written file.
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".tmp")
    os.close(fd)
    os.chmod(tmp, 0o644)
    args = ["grpc_tools.protoc", *(f"-I{d}" for d in _include_dirs())]
    args += ["--include_imports", "--include_source_info", f"--descriptor_set_out={tmp}"]
    args += [str(s.relative_to(PROTOS)) for s in sources]
    try:
        if protoc.main(args) != 0:
            raise RuntimeError(f"protoc failed for {', '.join(map(str, sources))}")
        os.replace(tmp, out)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=DESCRIPTOR_SET)
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args()
    print(build(args.out, force=args.force))


if __name__ == "__main__":
    main()
