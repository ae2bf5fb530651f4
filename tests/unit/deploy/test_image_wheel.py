"""The compiled portico wheel the sidecar image installs (localdev/deploy/image.py, docs/native.md)."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

from localdev.deploy import image

_DIST_INFO = "portico-0.1.0.dist-info"


def _pure_wheel(folder: Path) -> Path:
    wheel = folder / "portico-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as out:
        out.writestr("portico/__init__.py", "")
        out.writestr("portico/mesh/http1.py", "x = 1\n")
        out.writestr(f"{_DIST_INFO}/METADATA", "Metadata-Version: 2.1\nName: portico\nVersion: 0.1.0\n")
        out.writestr(
            f"{_DIST_INFO}/WHEEL",
            "Wheel-Version: 1.0\nGenerator: setuptools\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        out.writestr(f"{_DIST_INFO}/RECORD", "stale,,\n")
    return wheel


def test_the_compiled_wheel_carries_the_extensions_with_a_platform_tag_and_a_true_record(tmp_path: Path) -> None:
    wheel = _pure_wheel(tmp_path)
    fake = tmp_path / "shared" / "portico" / "mesh" / "fake.cpython-311-x86_64-linux-gnu.so"
    fake.parent.mkdir(parents=True)
    fake.write_bytes(b"\x7fELF not really")
    compiled = image.with_extensions(wheel, [fake], "linux_x86_64", package_root=tmp_path / "shared")
    assert compiled.name == "portico-0.1.0-cp311-cp311-linux_x86_64.whl"
    with zipfile.ZipFile(compiled) as whl:
        names = set(whl.namelist())
        assert {
            "portico/__init__.py",
            "portico/mesh/http1.py",
            "portico/mesh/fake.cpython-311-x86_64-linux-gnu.so",
        } <= names
        meta = whl.read(f"{_DIST_INFO}/WHEEL").decode()
        assert "Root-Is-Purelib: false" in meta and "Tag: cp311-cp311-linux_x86_64" in meta
        assert "py3-none-any" not in meta
        record = whl.read(f"{_DIST_INFO}/RECORD").decode().splitlines()
        assert f"{_DIST_INFO}/RECORD,," in record
        listed = {line.split(",")[0] for line in record}
        assert listed == names  # every file once, the stale RECORD gone
        for line in record:
            path, digest, size = line.rsplit(",", 2)
            if path.endswith("RECORD"):
                continue
            data = whl.read(path)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert digest == f"sha256={expected}" and int(size) == len(data)
        assert whl.getinfo("portico/mesh/fake.cpython-311-x86_64-linux-gnu.so").external_attr >> 16 == 0o755
