"""Identity benchmark: JWT verification cost per token (RS256, ES256, EdDSA) and warm edge cost with JWT on vs off.

Run: python -m localdev.bench.auth [--quick]. Baselines measured in the same run:
- per algorithm, OpenSSL's bare signature check through `cryptography` (what verification cannot go below),
  and joserfc's decode + claim validation as a peer JOSE library when it is installed;
- for the pipeline, the same request on an `auth: none` route.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

ISSUER = "https://idp.bench/"
AUDIENCE = "api://bench"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int(value: int, size: int | None = None) -> str:
    return _b64(value.to_bytes(size or (value.bit_length() + 7) // 8, "big"))


class Signer:
    """One key pair per algorithm: signs compact JWS and publishes its public JWK (and private, for the peer)."""

    def __init__(self, alg: str) -> None:
        self.alg = alg
        if alg == "RS256":
            self.key: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            n = self.key.public_key().public_numbers()
            self.jwk = {"kty": "RSA", "n": _int(n.n), "e": _int(n.e)}
        elif alg == "ES256":
            self.key = ec.generate_private_key(ec.SECP256R1())
            p = self.key.public_key().public_numbers()
            self.jwk = {"kty": "EC", "crv": "P-256", "x": _int(p.x, 32), "y": _int(p.y, 32)}
        else:
            self.key = ed25519.Ed25519PrivateKey.generate()
            raw = self.key.public_key().public_bytes_raw()
            self.jwk = {"kty": "OKP", "crv": "Ed25519", "x": _b64(raw)}
        self.jwk.update(kid=alg.lower(), use="sig")

    def sign(self, data: bytes) -> bytes:
        if self.alg == "RS256":
            return self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[no-any-return]
        if self.alg == "ES256":
            from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

            r, s = decode_dss_signature(self.key.sign(data, ec.ECDSA(hashes.SHA256())))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return self.key.sign(data)  # type: ignore[no-any-return]

    def token(self, now: float) -> str:
        header = {"alg": self.alg, "typ": "JWT", "kid": self.jwk["kid"]}
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "bench-user",
            "iat": int(now),
            "exp": int(now) + 3600,
            "scope": "orders:read orders:write profile",
            "jti": "8f0d5a0e2c7e4a4b9d1f",
        }
        head = _b64(json.dumps(header, separators=(",", ":")).encode())
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{head}.{body}.{_b64(self.sign(f'{head}.{body}'.encode()))}"


def _samples_ns(fn: Callable[[], object], iterations: int) -> list[int]:
    """Per-call timings: on a shared machine a preemption or GC pause is then one outlier, not a skewed batch."""
    for _ in range(min(iterations // 10 + 1, 200)):
        fn()
    out = []
    for _ in range(iterations):
        t0 = time.perf_counter_ns()
        fn()
        out.append(time.perf_counter_ns() - t0)
    return out


def verification(alg: str, iterations: int) -> dict[str, float]:
    from portico.core.auth.claims import TokenPolicy
    from portico.core.auth.jws import parse_token
    from portico.core.auth.keys import parse_jwks
    from portico.core.auth.signatures import signature_valid
    from portico.core.auth.verify import verify

    signer = Signer(alg)
    now = time.time()
    token = signer.token(now)
    keys = parse_jwks({"keys": [signer.jwk]})
    policy = TokenPolicy(ISSUER, frozenset({AUDIENCE}), frozenset({alg}))
    assert verify(token, keys, now, policy).claims["sub"] == "bench-user"
    parsed, key = parse_token(token), keys.keys[0]
    measures: dict[str, Callable[[], object]] = {
        "portico": lambda: verify(token, keys, now, policy),
        "signature only": lambda: signature_valid(alg, key, parsed.signing_input, parsed.signature),
    }
    peer = _joserfc(signer, token, now)
    if peer is not None:
        measures["joserfc"] = peer
    rounds: dict[str, list[int]] = {name: [] for name in measures}
    for _ in range(10):  # interleaved rounds, so drift on a shared machine hits every measure alike
        for name, fn in measures.items():
            rounds[name].extend(_samples_ns(fn, max(iterations // 10, 10)))
    out = {name: statistics.median(values) / 1000 for name, values in rounds.items()}
    return out


def _joserfc(signer: Signer, token: str, now: float) -> Callable[[], object] | None:
    try:
        import warnings

        from joserfc import jwt
        from joserfc.jwk import KeySet
        from joserfc.jwt import JWTClaimsRegistry
    except ImportError:
        return None
    keyset = KeySet.import_key_set({"keys": [signer.jwk]})  # type: ignore[list-item]
    registry = JWTClaimsRegistry(now=int(now), iss={"essential": True, "value": ISSUER}, aud={"value": AUDIENCE})

    def decode() -> object:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # joserfc flags EdDSA as superseded by RFC 9864
            decoded = jwt.decode(token, keyset, algorithms=[signer.alg])
        registry.validate(decoded.claims)
        return decoded

    decode()
    return decode


def _config(signer: Signer) -> str:
    jwks = json.dumps({"keys": [signer.jwk]})
    return f"""
apiVersion: portico/v1
kind: Issuer
metadata: {{name: bench}}
spec: {{issuer: "{ISSUER}", jwks: {jwks}, audiences: ["{AUDIENCE}"], algorithms: [RS256]}}
---
apiVersion: portico/v1
kind: Route
metadata: {{name: open}}
spec:
  match: {{methods: [GET], path: "/open/{{id}}"}}
  auth: {{none: {{}}}}
  upstream: {{mock: {{status: 200, json: {{ok: true}}}}}}
---
apiVersion: portico/v1
kind: Route
metadata: {{name: secure}}
spec:
  match: {{methods: [GET], path: "/secure/{{id}}"}}
  auth: {{jwt: {{issuers: [bench], scopes: ["orders:read"]}}}}
  upstream: {{mock: {{status: 200, json: {{ok: true}}}}}}
"""


def _event(path: str, token: str | None) -> dict[str, Any]:
    headers = {"host": "api.example.com", "user-agent": "bench"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {"http": {"method": "GET", "path": path, "sourceIp": "10.0.0.1"}, "requestId": "r"},
        "isBase64Encoded": False,
    }


def pipeline(iterations: int) -> tuple[float, float]:
    """Median microseconds per warm request through the edge handler: auth none vs RS256 JWT (same shape)."""
    from localdev.bench.tools import quiet_telemetry
    from portico.edge.runtime import Edge

    signer = Signer("RS256")
    with tempfile.TemporaryDirectory() as tmp, quiet_telemetry() as telemetry:
        config = Path(tmp) / "edge.yaml"
        config.write_text(_config(signer))
        edge = Edge.from_env({"PORTICO_CONFIG_FILE": str(config)}, telemetry=telemetry)
        open_event, secure_event = _event("/open/1", None), _event("/secure/1", signer.token(time.time()))
        assert edge.handle(open_event)["statusCode"] == 200 and edge.handle(secure_event)["statusCode"] == 200
        samples: dict[str, list[int]] = {"off": [], "on": []}
        for _ in range(20):  # interleaved rounds, timed per request so a GC pause or preemption is one outlier
            for name, event in (("off", open_event), ("on", secure_event)):
                for _ in range(max(iterations // 40, 10)):
                    t0 = time.perf_counter_ns()
                    edge.handle(event)
                    samples[name].append(time.perf_counter_ns() - t0)
        edge.close()
    return statistics.median(samples["off"]) / 1000, statistics.median(samples["on"]) / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny iteration counts (smoke test)")
    args = parser.parse_args()
    iterations = 200 if args.quick else 20000
    rows: list[tuple[str, str, str]] = []
    for alg in ("RS256", "ES256", "EdDSA"):
        cost = verification(alg, iterations)
        base = cost["signature only"]
        target = "  (target <= 100 us)" if alg == "RS256" else ""
        rows.append((f"{alg}: signature only (OpenSSL via cryptography)", f"{base:.1f} us", "1.00x"))
        rows.append(
            (
                f"{alg}: portico verify (parse, key, sig, claims)",
                f"{cost['portico']:.1f} us",
                f"{cost['portico'] / base:.2f}x{target}",
            )
        )
        if "joserfc" in cost:
            rows.append(
                (
                    f"{alg}: joserfc decode + claims (peer)",
                    f"{cost['joserfc']:.1f} us",
                    f"{cost['joserfc'] / base:.2f}x",
                )
            )
    off, on = pipeline(iterations)
    rows.append(("edge warm request p50, auth none (baseline)", f"{off:.1f} us", "1.00x"))
    rows.append(("edge warm request p50, RS256 JWT + scope", f"{on:.1f} us", f"{on / off:.2f}x  (+{on - off:.1f} us)"))
    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)}  {'value':>10}  ratio")
    for name, value, ratio in rows:
        print(f"{name.ljust(width)}  {value:>10}  {ratio}")


if __name__ == "__main__":
    main()
