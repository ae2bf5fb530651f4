"""Builds the SAM application with `sam build` (no containers) and packages its artifacts into S3."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import zipfile
from pathlib import Path
from typing import Any

from localdev.deploy.tools import build_environment, runtime_interpreter, tool
from localdev.tables import load_template


class BuildError(RuntimeError):
    """`sam build` or packaging failed; the message carries the tool's own output."""


def function_runtime(template: dict[str, Any]) -> str:
    """The Python runtime the template's functions use (Globals first, then the first function)."""
    runtime = template.get("Globals", {}).get("Function", {}).get("Runtime")
    for resource in template["Resources"].values():
        if resource.get("Type") == "AWS::Serverless::Function":
            runtime = resource.get("Properties", {}).get("Runtime", runtime)
            break
    if not isinstance(runtime, str):
        raise BuildError("the template names no literal Runtime for its functions")
    return runtime


def make_variables(template: dict[str, Any], runtime: str, parameters: dict[str, str]) -> dict[str, str]:
    """What the Makefile's build targets need that SAM does not pass them: the runtime and the architecture."""
    default = template.get("Parameters", {}).get("Architecture", {}).get("Default", "arm64")
    return {"LAMBDA_RUNTIME": runtime, "LAMBDA_ARCHITECTURE": parameters.get("Architecture", str(default))}


def sam_build(template: Path, build_dir: Path, parameters: dict[str, str]) -> Path:
    """Run `sam build` into `build_dir` with the runtime's local interpreter; returns the built template."""
    loaded = load_template(template)
    runtime = function_runtime(loaded)
    interpreter = runtime_interpreter(runtime)
    command = [str(tool("sam")), "build", "--template-file", str(template), "--build-dir", str(build_dir)]
    if parameters:
        command += ["--parameter-overrides", " ".join(f"{k}={v}" for k, v in parameters.items())]
    done = subprocess.run(
        command,
        cwd=template.parent,
        env={**build_environment(interpreter), **make_variables(loaded, runtime, parameters)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        output = f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        raise BuildError(f"sam build failed ({done.returncode}):\n{output}")
    return build_dir / "template.yaml"


def _zip_dir(directory: Path) -> bytes:
    """A deterministic zip of `directory` (sorted names, fixed timestamps), as `sam package` would upload."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(str(path.relative_to(directory)), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


_ARTIFACT_PROPERTY = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::LayerVersion": "ContentUri"}


def package(built_template: Path, s3: Any, bucket: str) -> dict[str, Any]:
    """Upload each built function and layer directory as a zip, and each nested stack's template (packaged the
    same way first); return the template pointing at the uploads, as `sam package` does."""
    template = load_template(built_template)
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        s3.create_bucket(Bucket=bucket)
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") == "AWS::Serverless::Application":
            location = resource["Properties"]["Location"]
            if isinstance(location, str) and not location.startswith(("https://", "s3://")):
                nested = package(built_template.parent / location, s3, bucket)
                body = json.dumps(nested, sort_keys=True).encode()
                key = f"{logical_id}-{hashlib.sha256(body).hexdigest()[:16]}.json"
                s3.put_object(Bucket=bucket, Key=key, Body=body)
                resource["Properties"]["Location"] = f"https://s3.amazonaws.com/{bucket}/{key}"
            continue
        prop = _ARTIFACT_PROPERTY.get(resource.get("Type", ""))
        if prop is None:
            continue
        source = built_template.parent / resource["Properties"][prop]
        if not source.is_dir():
            raise BuildError(f"{logical_id}: built artifact {source} is missing; did sam build run?")
        body = _zip_dir(source)
        key = f"{logical_id}-{hashlib.sha256(body).hexdigest()[:16]}.zip"
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        resource["Properties"][prop] = f"s3://{bucket}/{key}"
    return template
