"""Identity with quota (issue 5, acceptance 4) and with the cache (issue 6, acceptance 3) through the real front door.

Real processes on free ports: the dev issuer's JWKS server, an echo upstream, the front door (the edge Lambda
handler, counting in the DynamoDB quota table on the local endpoint), and `portico dev token` minting the tokens.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.auth_support import b64
from tests.e2e.test_edge_frontdoor import request
from tests.e2e.test_identity_frontdoor import DEMO, _get, _portico

pytestmark = pytest.mark.e2e
ISSUER = DEMO.split("---")[0]  # the demo's Issuer document, exactly as shipped

ROUTES = """
---
apiVersion: portico/v1
kind: RateLimitPolicy
metadata: {{name: per-sub}}
spec: {{key: sub, failureMode: closed, timeout: 5s, limits: [{{requests: 2, window: 1h}}]}}
---
apiVersion: portico/v1
kind: Route
metadata: {{name: orders}}
spec:
  match: {{pathPrefix: /orders}}
  auth: {{jwt: {{issuers: [dev], scopes: ["demo:read"]}}}}
  rateLimit: per-sub
  upstream: {{http: {{url: "{echo}", timeout: 5s}}}}
---
apiVersion: portico/v1
kind: Route
metadata: {{name: private-cached}}
spec:
  match: {{methods: [GET], path: "/private/{{id}}"}}
  auth: {{jwt: {{issuers: [dev]}}}}
  cache: {{ttl: 60s}}
  upstream: {{http: {{url: "{echo}/private/{{id}}", timeout: 5s}}}}
---
apiVersion: portico/v1
kind: Route
metadata: {{name: shared-cached}}
spec:
  match: {{methods: [GET], path: "/shared/{{id}}"}}
  auth: {{jwt: {{issuers: [dev]}}}}
  cache: {{ttl: 60s, shared: true}}
  upstream: {{http: {{url: "{echo}/shared/{{id}}", timeout: 5s}}}}
"""


@pytest.fixture
def stack(spawn: Callable[..., str], tables: dict[str, str], tmp_path: Path) -> tuple[str, str, Callable[..., str]]:
    """(front door URL, echo URL, token(sub, ...)): tokens come from `portico dev token` against this run's issuer."""
    issuer_dir = tmp_path / "issuer"
    issuer = spawn("localdev.issuer", "--dir", str(issuer_dir))
    echo = spawn("localdev.demo.echo", "--name", "echo-a")
    config = tmp_path / "edge.yaml"
    jwks = ISSUER.replace('jwksUri: "http://127.0.0.1:18099', f'jwksUri: "{issuer}')
    config.write_text(jwks + ROUTES.format(echo=echo))
    door = spawn("localdev.frontdoor", "--config", str(config), env={"PORTICO_ALLOW_LOOPBACK_UPSTREAMS": "true"})

    def token(sub: str, *args: str) -> str:
        return _portico("dev", "token", "--sub", sub, *args, env={"PORTICO_DEV_ISSUER_DIR": str(issuer_dir)})

    return door, echo, token


def _stats(echo: str) -> dict[str, int]:
    return dict(json.loads(request(echo, "GET", "/__stats")[2]))


def test_forged_tokens_get_401_before_they_can_spend_the_subjects_quota(
    stack: tuple[str, str, Callable[..., str]],
) -> None:
    door, echo, token = stack
    if time.time() % 3600 > 3600 - 30:  # stay inside one hour window
        time.sleep(31)
    victim = f"victim-{uuid.uuid4().hex[:8]}"
    real = token(victim)
    head, _, signature = real.split(".")
    claims = json.loads(_pad(real.split(".")[1]))
    body = b64(json.dumps({**claims, "sub": victim}).encode())
    other = token("mallory")  # a genuine signature, over another subject's claims
    unsigned = b64(b'{"alg":"none"}')
    forged = {
        "unsigned": f"{unsigned}.{body}.",
        "swapped payload": f"{head}.{b64(json.dumps({**claims, 'jti': 'x'}).encode())}.{signature}",
        "signature from another token": f"{other.split('.')[0]}.{body}.{other.split('.')[2]}",
    }
    for name, bad in forged.items():
        for _ in range(3):  # more than the limit: counted, they would have locked the victim out
            status, headers, _ = _get(door, "/orders/1", bad)
            assert status == 401 and "ratelimit" not in headers, name
    answers = [_get(door, "/orders/1", real) for _ in range(3)]
    assert [status for status, _, _ in answers] == [200, 200, 429]
    assert [h["ratelimit"].split(";")[1] for _, h, _ in answers] == ["r=1", "r=0", "r=0"]
    assert _stats(echo) == {"/orders/1": 2}  # only the two admitted requests reached the upstream


def test_a_cached_authenticated_route_is_per_request_unless_shared(stack: tuple[str, str, Callable[..., str]]) -> None:
    door, echo, token = stack
    alice, bob = token("alice"), token("bob")
    private = [_get(door, "/private/1", alice)[1]["x-cache"] for _ in range(2)]
    assert private == ["MISS", "MISS"]  # not shared: a personal answer is never stored

    first = _get(door, "/shared/1", alice)
    second = _get(door, "/shared/1", bob)
    assert (first[0], first[1]["x-cache"]) == (200, "MISS")
    assert (second[0], second[1]["x-cache"], second[2]) == (200, "HIT", first[2])  # shared: one answer for all
    anonymous = _get(door, "/shared/1")
    assert anonymous[0] == 401 and "x-cache" not in anonymous[1]  # the cache sits behind authentication
    assert _stats(echo) == {"/private/1": 2, "/shared/1": 1}


def _pad(segment: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
