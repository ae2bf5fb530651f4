"""Acceptance 6: a token from `portico dev token` opens the demo's protected route through the real front door.

Every process is real and on a free port: the dev issuer's JWKS server (the edge fetches it over HTTP), an echo
upstream, the front door running the edge Lambda handler, and the `portico` CLI minting the token.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.e2e.test_edge_frontdoor import request

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
DEMO = (ROOT / "localdev" / "demo" / "config" / "identity.yaml").read_text()


def _portico(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-c", "from portico.cli.main import run; run()", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'shared'}{os.pathsep}{ROOT}", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _get(base: str, path: str, token: str | None = None) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(base)
    import http.client

    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", path, headers={"authorization": f"Bearer {token}"} if token else {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def test_dev_token_opens_the_protected_demo_route(spawn: Callable[..., str], tmp_path: Path) -> None:
    issuer_dir = tmp_path / "issuer"
    issuer = spawn("localdev.issuer", "--dir", str(issuer_dir))
    echo = spawn("localdev.demo.echo", "--name", "echo-a")
    # the demo config as shipped, with its fixed ports swapped for this run's free ones
    config = tmp_path / "identity.yaml"
    config.write_text(
        DEMO.replace('jwksUri: "http://127.0.0.1:18099', f'jwksUri: "{issuer}').replace("http://127.0.0.1:18081", echo)
    )
    door = spawn("localdev.frontdoor", "--config", str(config), env={"PORTICO_ALLOW_LOOPBACK_UPSTREAMS": "true"})

    token = _portico("dev", "token", "--sub", "e2e-user", env={"PORTICO_DEV_ISSUER_DIR": str(issuer_dir)})
    status, _, body = _get(door, "/secure/orders", token)
    assert status == 200, body
    seen = json.loads(body)
    assert seen["service"] == "echo-a"
    assert seen["headers"]["x-portico-sub"] == "e2e-user" and seen["headers"]["x-portico-scopes"] == "demo:read"

    status, headers, _ = _get(door, "/secure/orders")
    assert status == 401 and headers["www-authenticate"] == 'Bearer realm="portico"'

    narrow = _portico("dev", "token", "--scope", "other", env={"PORTICO_DEV_ISSUER_DIR": str(issuer_dir)})
    status, headers, _ = _get(door, "/secure/orders", narrow)
    assert status == 403 and 'scope="demo:read"' in headers["www-authenticate"]

    status, headers, _ = _get(door, "/secure/orders", token[:-4] + "AAAA")
    assert status == 401 and 'error="invalid_token"' in headers["www-authenticate"]
    assert request(echo, "GET", "/__stats")[2] == b'{"/secure/orders": 1}'  # only the good token got through
