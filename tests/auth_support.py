"""Test support for identity: the RFC 7515 example keys, and tokens minted with joserfc (an independent JOSE library).

The RFC keys are copied from RFC 7515 Appendix A.2 (RSA) and A.3 (EC P-256). Tokens are minted by joserfc, never by
Portico's own code, so a verification test cannot pass because one implementation agrees with itself.
"""

from __future__ import annotations

import base64
import json
import warnings
from typing import Any

from joserfc import jws, jwt
from joserfc.jwk import ECKey, OKPKey, RSAKey
from joserfc.registry import HeaderParameter

RFC7515_A2_RSA: dict[str, str] = {
    "kty": "RSA",
    "n": (
        "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4Ql"
        "L-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUs"
        "LA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoud"
        "F8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"
    ),
    "e": "AQAB",
    "d": (
        "Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe"
        "46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9J"
        "YanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuh"
        "LhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ"
    ),
    "p": (
        "4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0Hw_Py5PJdTJ"
        "NPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc"
    ),
    "q": (
        "uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQeZD_Yw"
        "D66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc"
    ),
    "dp": (
        "BwKfV3Akq5_MFZDFZCnW-wzl-CCo83WoZvnLQwCTeDv8uzluRSnm71I3QCLdhrqE2e9YkxvuxdBfpT_PI7Yz-FOKnu1R6HsJ"
        "eDCjn12Sk3vmAktV2zb34MCdy7cpdTh_YVr7tss2u6vneTwrA86rZtu5Mbr1C1XsmvkxHQAdYo0"
    ),
    "dq": (
        "h_96-mK1R_7glhsum81dZxjTnYynPbZpHziZjeeHcXYsXaaMwkOlODsWa7I9xXDoRwbKgB719rrmI2oKr6N3Do9U0ajaHF-N"
        "KJnwgjMd2w9cjz3_-kyNlxAr2v4IKhGNpmM5iIgOS1VZnOZ68m6_pbLBSp3nssTdlqvd0tIiTHU"
    ),
    "qi": (
        "IYd7DHOhrWvxkwPQsRM2tOgrjbcrfvtQJipd-DlcxyVuuM9sQLdgjVk2oy26F0EmpScGLq2MowX7fhd_QJQ3ydy5cY7YIBi8"
        "7w93IKLEdfnbJtoOPLUW0ITrJReOgo1cq9SbsxYawBgfp_gh6A5603k2-ZQwVK0JKSHuLFkuQ3U"
    ),
}
RFC7515_A3_EC: dict[str, str] = {
    "kty": "EC",
    "crv": "P-256",
    "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
    "d": "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI",
}
# The RFC's own example tokens (A.2.1 and A.3.1): their signatures, checked with the public keys above.
RFC7515_A2_TOKEN = (
    "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVl"
    "fQ.cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7"
    "t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jz"
    "DwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe"
    "77Rw"
)
RFC7515_A3_TOKEN = (
    "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVl"
    "fQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"
)

ISSUER = "https://idp.example.com/"
AUDIENCE = "api://orders"
_PRIVATE = ("d", "p", "q", "dp", "dq", "qi")


def public(jwk: dict[str, str], **extra: str) -> dict[str, str]:
    """The public half of a private JWK, with extra members such as kid, alg, use."""
    return {**{k: v for k, v in jwk.items() if k not in _PRIVATE}, **extra}


def _import(jwk: dict[str, Any]) -> Any:
    kty = jwk["kty"]
    if kty == "RSA":
        return RSAKey.import_key(jwk)
    if kty == "EC":
        return ECKey.import_key(jwk)
    return OKPKey.import_key(jwk)


def mint(jwk: dict[str, Any], header: dict[str, Any], claims: dict[str, Any]) -> str:
    """A token signed by joserfc with the given private JWK."""
    with warnings.catch_warnings():  # joserfc flags EdDSA as superseded by RFC 9864; we still accept it
        warnings.simplefilter("ignore")
        return jwt.encode(header, claims, _import(jwk), algorithms=[header["alg"]])


def sign(jwk: dict[str, Any], header: dict[str, Any], payload: dict[str, Any]) -> str:
    """Like `mint`, but any header (crit extensions, jku, jwk) and any payload JSON, still signed by joserfc."""
    extra = {
        name: HeaderParameter(f"test header {name}", lambda value: None)
        for name in header
        if name not in ("alg", "kid")
    }
    registry = jws.JWSRegistry(header_registry=extra, strict_check_header=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return jws.serialize_compact(
            header, json.dumps(payload).encode(), _import(jwk), algorithms=[header["alg"]], registry=registry
        )


def claims(now: float, **overrides: Any) -> dict[str, Any]:
    """Good claims for ISSUER/AUDIENCE, valid for five minutes from `now`."""
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "iat": int(now),
        "exp": int(now) + 300,
        "scope": "orders:read profile",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    """A hand-assembled token (for the shapes no JOSE library will produce)."""
    head = b64(json.dumps(header).encode())
    body = b64(json.dumps(payload).encode())
    return f"{head}.{body}.{b64(signature)}"


class RecordingTransport:
    """The upstream as a fake Transport: records every request it is sent and answers 200 JSON."""

    def __init__(self) -> None:
        self.seen: list[Any] = []

    async def send(self, request: Any, url: str, timeout: float) -> Any:
        from portico.core.headers import Headers
        from portico.core.http import Response

        self.seen.append(request)
        return Response(200, Headers([("content-type", "application/json")]), b'{"ok":true}')


def edge_handler(config: str, transport: Any, key_sources: Any = None, *, allow_loopback: bool = False) -> Any:
    """The real edge pipeline (portico.edge.pipeline.build_pipeline) for a YAML config, with a fake upstream."""
    import random

    from portico.core.config.configset import ConfigSet
    from portico.core.config.context import ValidationSettings
    from portico.core.config.loader import parse_documents
    from portico.core.config.snapshot import LoadedConfig
    from portico.edge.pipeline import EdgeDeps, build_pipeline

    docs, issues = parse_documents(config, file="test.yaml", settings=ValidationSettings(allow_loopback))
    assert not issues, issues

    def no_invoker() -> Any:
        raise AssertionError("no lambda upstream in these tests")

    deps = EdgeDeps(rng=random.Random(1).randbytes, jitter=lambda: 0.0, transport=lambda: transport, invoker=no_invoker)
    if key_sources is not None:
        deps = EdgeDeps(deps.rng, deps.jitter, deps.transport, deps.invoker, key_sources=key_sources)
    return build_pipeline(LoadedConfig(version=1, config=ConfigSet.of(docs)), deps).handler


async def call(
    handler: Any, path: str, headers: dict[str, str] | list[tuple[str, str]], now: float, query: str = ""
) -> Any:
    from urllib.parse import parse_qsl

    from portico.core.chain import Context
    from portico.core.headers import Headers
    from portico.core.http import Request

    items = list(headers.items()) if isinstance(headers, dict) else headers
    request = Request(
        method="GET",
        path=path,
        headers=Headers([("host", "api.test"), *items]),
        host="api.test",
        query=parse_qsl(query, keep_blank_values=True),
        raw_query=query,
    )
    return await handler(Context(request=request, now=now, request_id="req-1"))


def challenge_of(response: Any) -> str:
    return str(response.headers.get("www-authenticate") or "")
