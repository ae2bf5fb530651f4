"""The sidecar's certificates are issued in a short-lived child process, so `cryptography` never enters the sidecar.

Making a key and a CSR, and checking what the CA hands back, needs `cryptography`, whose import alone keeps ~9 MiB
resident for the life of a process. A sidecar needs it once at start and then at each renewal (hours apart), so
`WorkerCertSource.issue` runs `python -m portico.mesh.certworker`: the child rebuilds the same CertSource from the
same IdentitySettings (and the environment it inherits: AWS credentials, endpoint), issues, and hands the
certificate and its key back as one JSON document on its stdout, a pipe; the key never touches a disk. The trust
bundle is fetched in the sidecar itself: its sources read it with the standard library (adapters/certs/pem.py).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from portico.core.ports import CertSource, CertSourceError, IssuedCert
from portico.mesh.identity import ClientFactory, IdentitySettings, cert_source

ISSUE_TIMEOUT = 180.0  # the Private CA is polled for up to ~30 s per try, with the client's own retries
Runner = Callable[[bytes, float], "subprocess.CompletedProcess[bytes]"]


def run_worker(request: bytes, timeout: float) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "portico.mesh.certworker"],
        input=request,
        capture_output=True,
        timeout=timeout,
        check=False,
    )


class WorkerCertSource:
    """A CertSource whose `issue` runs in the certificate worker; `trust_bundle` is `inner`'s, in this process."""

    def __init__(self, settings: IdentitySettings, inner: CertSource, runner: Runner = run_worker) -> None:
        self._settings = settings
        self._inner = inner
        self._run = runner

    def issue(self) -> IssuedCert:
        request = json.dumps(dataclasses.asdict(self._settings)).encode()
        try:
            done = self._run(request, ISSUE_TIMEOUT)
        except subprocess.TimeoutExpired as exc:
            raise CertSourceError(f"the certificate worker did not finish within {ISSUE_TIMEOUT:g}s") from exc
        except OSError as exc:
            raise CertSourceError(f"the certificate worker could not start: {exc}") from exc
        try:
            answer = json.loads(done.stdout.decode().strip().splitlines()[-1]) if done.stdout.strip() else {}
        except ValueError:
            answer = {}
        if "error" in answer:
            raise CertSourceError(str(answer["error"]))
        if done.returncode != 0 or "chain_pem" not in answer:
            tail = done.stderr.decode(errors="replace").strip().splitlines()[-3:]
            raise CertSourceError(f"the certificate worker failed (exit {done.returncode}): {' / '.join(tail)}")
        cert = IssuedCert(
            chain_pem=answer["chain_pem"].encode(),
            key_pem=answer["key_pem"].encode(),
            serial=int(answer["serial"]),
            not_before=float(answer["not_before"]),
            not_after=float(answer["not_after"]),
            identity=str(answer["identity"]),
        )
        note = getattr(self._inner, "note_issued", None)
        if note is not None:  # a source whose bundle comes from what it issued (ACM without trust CA ARNs)
            note(cert)
        return cert

    def trust_bundle(self) -> bytes:
        return self._inner.trust_bundle()


def settings_from(document: dict[str, Any]) -> IdentitySettings:
    fields = {f.name for f in dataclasses.fields(IdentitySettings)}
    values = {k: v for k, v in document.items() if k in fields}
    values["trust_ca_arns"] = tuple(values.get("trust_ca_arns") or ())
    return IdentitySettings(**values)


def aws_json_clients(service: str) -> object:
    """The certificate sources' AWS clients (acm-pca, acm): SigV4 JSON calls without boto3's service models."""
    from portico.adapters.aws_json import client

    return client(service, timeout=10.0, retries=3)


def main(clients: ClientFactory | None = None) -> int:
    """Read IdentitySettings (JSON) on stdin, issue, write the certificate (JSON) on stdout."""
    try:
        settings = settings_from(json.loads(sys.stdin.read()))
        if clients is None:
            clients = aws_json_clients
        cert = cert_source(settings, clients).issue()
    except CertSourceError as exc:
        print(json.dumps({"error": str(exc)}), flush=True)
        return 1
    except (ValueError, TypeError) as exc:
        print(json.dumps({"error": f"the certificate worker was given unusable settings: {exc}"}), flush=True)
        return 1
    document = {
        "chain_pem": cert.chain_pem.decode("ascii"),
        "key_pem": cert.key_pem.decode("ascii"),
        "serial": str(cert.serial),  # a 159-bit number: kept exact as text
        "not_before": cert.not_before,
        "not_after": cert.not_after,
        "identity": cert.identity,
    }
    print(json.dumps(document), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
