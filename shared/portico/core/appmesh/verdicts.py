"""Value-dependent report lines (a protocol, a TLS mode, an egress filter) and the coverage of each resource."""

from __future__ import annotations

from portico.core.appmesh.catalogue import NEEDS_PROTOCOLS
from portico.core.appmesh.inputs import NAME_FIELD, Resource
from portico.core.appmesh.report import Report

_ENVELOPE = {
    "meshName": ("ignored", "one Portico deployment is one mesh (SPIFFE namespace: --namespace)"),
    "tags": ("ignored", "AWS resource tags have no meaning in Portico config"),
    "clientToken": ("ignored", "the idempotency token of an API call"),
    "meshOwner": ("unmapped", "cross-account mesh sharing: run one trust domain across the accounts"),
    "resourceOwner": ("unmapped", "cross-account mesh sharing: run one trust domain across the accounts"),
}


def protocol_verdict(res: Resource, report: Report) -> None:
    """HTTP and TCP map fully (the catalogue's line); HTTP/2 and gRPC listeners stay partial until imported gRPC
    routes are verified through the sidecar."""
    for _i, lst in enumerate(res.spec.get("listeners") or []):
        protocol = ((lst or {}).get("portMapping") or {}).get("protocol")
        if protocol in ("http2", "grpc"):
            report.override(
                res.file,
                res.label,
                "spec.listeners.portMapping.protocol",
                "partial",
                "sidecar PORTICO_APP_PROTOCOL",
                NEEDS_PROTOCOLS,
            )


def cover_resource(res: Resource, report: Report) -> None:
    """Every field of the resource gets its line: envelope, derived name, symbols, then the spec."""
    if res.kind in ("VirtualNode", "VirtualGateway"):
        protocol_verdict(res, report)
    if res.kind == "Mesh" and (res.spec.get("egressFilter") or {}).get("type") == "ALLOW_ALL":
        report.override(
            res.file,
            res.label,
            "spec.egressFilter.type",
            "unmapped",
            "-",
            "ALLOW_ALL: the sidecar reaches registry services only; call external hosts directly",
        )
    if res.kind == "GatewayRoute":
        for kind in ("httpRoute", "http2Route"):
            hostname = (((res.spec.get(kind) or {}).get("action") or {}).get("rewrite") or {}).get("hostname") or {}
            if hostname.get("defaultTargetHostname") == "DISABLED":
                report.override(
                    res.file,
                    res.label,
                    f"spec.{kind}.action.rewrite.hostname",
                    "unmapped",
                    "-",
                    "DISABLED: the edge always sends the service name as Host",
                )
    if res.name_from_file:
        report.note(
            res.file,
            res.label,
            NAME_FIELD[res.kind],
            "default",
            res.name,
            "not in the file (the CLI took it on the command line): the file name is used",
        )
    for key in sorted(res.envelope):
        status, why = _ENVELOPE.get(key, ("unmapped", "no Portico equivalent is known to the importer"))
        report.note(res.file, res.label, key, status, "-", why)  # type: ignore[arg-type]
    for path, expression in res.symbols:
        if path.endswith((".MeshName", "meshName")):
            continue  # the mesh name is not used (above)
        report.note(
            res.file,
            res.label,
            path,
            "symbolic",
            "${" + expression + "}",
            "not known before deployment: pass --param NAME=VALUE or edit the output",
        )
    report.cover(res.file, res.label, res.kind, res.spec)
