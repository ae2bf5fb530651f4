"""Builds the sidecar's OCI image here, with no Docker engine and no container registry.

Three steps, each cached by a label that records its inputs, so a second build costs a few podman look-ups:

1. base: a Debian 12 root made by debootstrap (minbase + python3 + python3-venv) from the mirror apt already
   uses on this machine, trimmed (no apt lists, docs, man pages, locales) and imported with `podman import`;
2. wheels: the portico wheel built from this tree plus its `sidecar,cli` dependencies as Python 3.11 wheels for
   this machine's architecture (Debian 12's python3 is 3.11), so the image build needs no network;
3. image: `buildah bud --isolation chroot -f infra/sidecar/Dockerfile.debian` on that base.

Everything lives in the project's own container storage (.portico/oci), never in the machine's.
`python -m localdev.deploy.image build` runs it (`make sidecar-image`); docs/deploy.md has the figures.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from localdev import native
from localdev.deploy.tools import REPO, ToolError

STORE = REPO / ".portico" / "oci"
DEBIAN_DOCKERFILE = REPO / "infra" / "sidecar" / "Dockerfile.debian"
BASE_TAG = "localhost/portico-debian:bookworm"
IMAGE_REPO = "localhost/portico-sidecar"
SUITE = "bookworm"
# minbase is dpkg, apt and the Required packages; python3-venv brings ensurepip, which Dockerfile.debian uses.
BASE_PACKAGES = ("python3", "python3-venv")
# Trimmed from the base: nothing in the image reads them, and apt's lists alone are ~50 MB.
TRIM = ("var/cache/apt", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale")
SYSTEM_PACKAGES = ("debootstrap", "buildah", "podman", "runc")
LABEL = "io.portico.inputs"
_DEBIAN_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
_SOURCES_LIST = Path("/etc/apt/sources.list")


class ImageError(RuntimeError):
    """A build step failed; the message carries the tool's own output."""


@dataclass
class BuildReport:
    """What a build did and what the image weighs (bytes); `seconds` per step, zero for a cached step."""

    image: str
    base: str
    seconds: dict[str, float] = field(default_factory=dict)
    cached: list[str] = field(default_factory=list)
    size: int = 0
    compressed_size: int = 0


def storage_args() -> list[str]:
    """The project's own container storage for buildah and podman (overlay on the work tree's disk)."""
    return ["--root", str(STORE / "storage"), "--runroot", str(STORE / "run"), "--storage-driver", "overlay"]


def require_tools() -> None:
    missing = [name for name in ("debootstrap", "buildah", "podman", "runc") if shutil.which(name) is None]
    if missing:
        raise ToolError(
            f"{', '.join(missing)} missing: run `make image-deps` (apt-get install {' '.join(SYSTEM_PACKAGES)})"
        )


def _run(command: list[str], *, timeout: float, what: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)  # type: ignore[call-overload]
    if done.returncode != 0:
        raise ImageError(f"{what} failed ({done.returncode}): {' '.join(command[:6])} ...\n{done.stderr[-3000:]}")
    return done  # type: ignore[no-any-return]


def podman(*args: str, timeout: float = 120, what: str = "podman") -> str:
    return _run(["podman", *storage_args(), *args], timeout=timeout, what=what).stdout


def debian_mirror() -> str:
    """The Debian mirror apt uses here ($PORTICO_DEBIAN_MIRROR first), so debootstrap needs no other network."""
    override = os.environ.get("PORTICO_DEBIAN_MIRROR")
    if override:
        return override
    if _DEBIAN_SOURCES.is_file():
        for block in _DEBIAN_SOURCES.read_text().split("\n\n"):
            uris = re.search(r"^URIs:\s*(\S+)", block, re.MULTILINE)
            suites = re.search(r"^Suites:\s*(.+)$", block, re.MULTILINE)
            if uris and suites and SUITE in suites.group(1).split():
                return uris.group(1)
    if _SOURCES_LIST.is_file():
        for line in _SOURCES_LIST.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "deb" and parts[2] == SUITE:
                return parts[1]
    raise ImageError(f"no Debian {SUITE} mirror in apt's sources; set PORTICO_DEBIAN_MIRROR")


def _label(image: str) -> str | None:
    """The inputs label of a stored image, or None when the image is not there."""
    done = subprocess.run(
        ["podman", *storage_args(), "image", "inspect", "--format", f'{{{{index .Labels "{LABEL}"}}}}', image],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.stdout.strip() if done.returncode == 0 else None


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()[:32]


def base_inputs() -> str:
    arch = platform.machine()
    return _digest(SUITE.encode(), " ".join(BASE_PACKAGES).encode(), " ".join(TRIM).encode(), arch.encode())


def image_inputs(base: str) -> str:
    """Everything the image is made of: Dockerfile.debian, the package sources and metadata, the base."""
    files = [DEBIAN_DOCKERFILE, REPO / "pyproject.toml", REPO / "README.md", Path(__file__)]
    files += sorted(p for p in (REPO / "shared" / "portico").rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    parts = [base.encode()] + [str(p.relative_to(REPO)).encode() + b"\0" + p.read_bytes() for p in files]
    return _digest(*parts)


def build_base(work: Path, inputs: str) -> None:
    """debootstrap a trimmed Debian root and import it as BASE_TAG, labelled with its inputs."""
    root = work / "rootfs"
    command = [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(BASE_PACKAGES)}",
        SUITE,
        str(root),
        debian_mirror(),
    ]
    try:
        _run(command, timeout=900, what="debootstrap")
    finally:
        for mount in ("proc", "sys", "dev/pts"):  # debootstrap unmounts these itself; a failed run may not
            subprocess.run(["umount", "-l", str(root / mount)], capture_output=True, check=False)
    for rel in TRIM:
        target = root / rel
        if target.is_dir():
            shutil.rmtree(target)
            target.mkdir(parents=True)
    archive = work / "rootfs.tar"
    _run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(archive), "."], timeout=300, what="tar")
    podman("import", "--change", f"LABEL {LABEL}={inputs}", str(archive), BASE_TAG, timeout=600, what="podman import")


def build_wheels(dist: Path) -> None:
    """The portico wheel plus its sidecar,cli dependencies as cp311 wheels for this architecture."""
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    _run([*pip, "wheel", "--no-deps", "--wheel-dir", str(dist), str(REPO)], timeout=300, what="pip wheel", cwd=REPO)
    (wheel,) = dist.glob("portico-*.whl")
    arch = "aarch64" if platform.machine().lower() in ("aarch64", "arm64") else "x86_64"
    platforms = [f"--platform={tag}_{arch}" for tag in ("manylinux2014", "manylinux_2_28", "manylinux_2_34")]
    target = ["--only-binary=:all:", "--implementation=cp", "--python-version=3.11", *platforms]
    _run([*pip, "download", "--dest", str(dist), *target, f"{wheel}[sidecar,cli]"], timeout=600, what="pip download")
    extensions = native_extensions()
    if extensions:
        compiled = with_extensions(wheel, extensions, f"linux_{arch}")
        wheel.unlink()  # pip would take either; the image gets the compiled one only
        print(f"{compiled.name}: {len(extensions)} mypyc extensions added (docs/native.md)")


# The image's interpreter: Debian 12's python3 (3.11). Extensions built for another version would not load there.
_IMAGE_EXTENSION_TAG = ".cpython-311-"


def native_extensions() -> list[Path]:
    """The mypyc extensions `make install` built in place for the image's Python (docs/native.md), or none: a
    NATIVE=0 tree, or a venv of another Python, ships the pure wheel. Host and image are both Debian 12 here, so an
    extension built against the host's glibc loads in the image (test_sidecar_image checks that it does)."""
    return [path for path in native.built() if _IMAGE_EXTENSION_TAG in path.name]


def with_extensions(
    wheel: Path, extensions: list[Path], platform_tag: str, package_root: Path = REPO / "shared"
) -> Path:
    """A copy of the pure portico wheel with `extensions` added, tagged cp311-cp311-PLATFORM, and its RECORD
    rewritten (PEP 427: every file with its sha256 and size). The pure wheel's .py files stay, as mypyc's own wheels
    keep them: the extension is imported first, the source is for tracebacks and reading."""
    name, version = wheel.name.split("-")[:2]
    target = wheel.with_name(f"{name}-{version}-cp311-cp311-{platform_tag}.whl")
    dist_info = f"{name}-{version}.dist-info"
    records: list[str] = []

    def put(out: zipfile.ZipFile, arcname: str, data: bytes) -> None:
        info = zipfile.ZipInfo(arcname, date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = (0o755 if arcname.endswith(".so") else 0o644) << 16
        out.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        records.append(f"{arcname},sha256={digest},{len(data)}")

    with zipfile.ZipFile(wheel) as pure, zipfile.ZipFile(target, "w") as out:
        for item in pure.infolist():
            if item.filename in (f"{dist_info}/RECORD", f"{dist_info}/WHEEL"):
                continue
            put(out, item.filename, pure.read(item))
        wheel_meta = pure.read(f"{dist_info}/WHEEL").decode()
        wheel_meta = re.sub(r"^Root-Is-Purelib: .*$", "Root-Is-Purelib: false", wheel_meta, flags=re.MULTILINE)
        wheel_meta = re.sub(r"^Tag: .*$", f"Tag: cp311-cp311-{platform_tag}", wheel_meta, flags=re.MULTILINE)
        put(out, f"{dist_info}/WHEEL", wheel_meta.encode())
        for path in extensions:
            put(out, path.relative_to(package_root).as_posix(), path.read_bytes())
        records.append(f"{dist_info}/RECORD,,")
        out.writestr(f"{dist_info}/RECORD", "\n".join(records) + "\n")
    return target


def build_image(context: Path, base: str, tag: str, inputs: str) -> None:
    command = ["buildah", *storage_args(), "bud", "--isolation", "chroot", "--layers=false", "--pull=never"]
    if f"FROM {base}\n" not in DEBIAN_DOCKERFILE.read_text():
        raise ImageError(f"{DEBIAN_DOCKERFILE.name} must build FROM {base}, the base this module makes")
    command += ["--label", f"{LABEL}={inputs}", "-f", str(DEBIAN_DOCKERFILE)]
    _run([*command, "-t", tag, str(context)], timeout=900, what="buildah bud")


def image_tag() -> str:
    version = re.search(r'^version = "([^"]+)"', (REPO / "pyproject.toml").read_text(), re.MULTILINE)
    return f"{IMAGE_REPO}:{version.group(1) if version else 'dev'}"


def measure(tag: str, work: Path) -> tuple[int, int]:
    """(bytes unpacked as podman reports them, bytes of the saved image gzipped as a registry would store it)."""
    size = int(podman("image", "inspect", "--format", "{{.Size}}", tag).strip())
    archive = work / "image.tar"
    podman("save", "--format", "docker-archive", "-o", str(archive), tag, timeout=300, what="podman save")
    compressed = 0
    with archive.open("rb") as raw, tempfile.TemporaryFile() as sink:
        with gzip.GzipFile(fileobj=sink, mode="wb", compresslevel=6) as gz:
            shutil.copyfileobj(raw, gz, 1 << 20)
        compressed = sink.tell()
    archive.unlink()
    return size, compressed


def build(force: bool = False) -> BuildReport:
    """Build what changed (base, image) and return the report; the report is also kept in STORE/build.json."""
    require_tools()
    STORE.mkdir(parents=True, exist_ok=True)
    tag = image_tag()
    report = BuildReport(image=tag, base=BASE_TAG)
    with tempfile.TemporaryDirectory(prefix="portico-image-", dir=STORE) as scratch:
        work = Path(scratch)
        base_key = base_inputs()
        started = time.monotonic()
        if force or _label(BASE_TAG) != base_key:
            build_base(work, base_key)
            report.seconds["base"] = round(time.monotonic() - started, 1)
        else:
            report.cached.append("base")
        key = image_inputs(base_key)
        if force or _label(tag) != key:
            started = time.monotonic()
            context = work / "context"
            build_wheels(context / "dist")
            report.seconds["wheels"] = round(time.monotonic() - started, 1)
            started = time.monotonic()
            build_image(context, BASE_TAG, tag, key)
            report.seconds["image"] = round(time.monotonic() - started, 1)
            report.size, report.compressed_size = measure(tag, work)
            (STORE / "build.json").write_text(json.dumps(asdict(report), indent=2))
        else:
            report.cached.append("image")
            previous = json.loads((STORE / "build.json").read_text()) if (STORE / "build.json").is_file() else {}
            report.size = int(previous.get("size", 0))
            report.compressed_size = int(previous.get("compressed_size", 0))
    return report


# How podman runs the image here (docs/deploy.md, "The sidecar image"): crun refuses this machine's hybrid
# cgroup layout ("cgroups in hybrid mode not supported"), so runc runs it; podman's default RLIMIT_NOFILE
# (1048576) exceeds the machine's hard limit and the sandbox may not raise it (setrlimit: Operation not
# permitted), so the limits are set below it. --read-only as ECS runs it (ReadonlyRootFilesystem).
RUN_FLAGS = (
    "--runtime",
    "runc",
    "--network",
    "host",
    "--read-only",
    "--ulimit",
    "nofile=4096:4096",
    "--ulimit",
    "nproc=4096:4096",
)


def run_command(tag: str, name: str, env: dict[str, str], args: list[str]) -> list[str]:
    """`podman run` of the image in the foreground (signals go to the container's entry command)."""
    command = ["podman", *storage_args(), "run", "--rm", "--name", name, *RUN_FLAGS]
    for key, value in sorted(env.items()):
        command += ["--env", f"{key}={value}"]
    return [*command, tag, *args]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localdev.deploy.image", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["build"])
    parser.add_argument("--force", action="store_true", help="rebuild the base and the image even if unchanged")
    args = parser.parse_args(argv)
    try:
        report = build(force=args.force)
    except (ToolError, ImageError, subprocess.TimeoutExpired) as error:
        print(f"sidecar image build failed: {error}", file=sys.stderr)
        return 1
    print(json.dumps(asdict(report), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
