"""Acceptance 5: the portal through the real front door: a valid OpenAPI 3.1 document listing every route, and the
docs page rendered by headless Chromium (Debian's `chromium`, installed by `make system-deps`)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from compose_client import Client
from openapi_spec_validator import validate

pytestmark = pytest.mark.e2e

ROUTES = {
    "orders-get": 'match: {methods: [GET], path: "/orders/{orderId}"}\n  auth: {jwt: {issuers: [corp]}}',
    "orders-create": "match: {methods: [POST], path: /orders}\n  auth: {apiKey: {}}\n  rateLimit: standard",
    "legacy-search": "match: {methods: [GET], path: /search}\n  auth: {none: {}}\n  deprecation: {sunset: 2027-01-01}",
    "assets": "match: {pathPrefix: /assets}\n  auth: {none: {}}",
    "reports": 'match: {pathRegex: "/reports/[0-9]+"}\n  auth: {none: {}}',
}
OTHER = """
apiVersion: portico/v1
kind: RateLimitPolicy
metadata: {name: standard}
spec: {limits: [{requests: 10, window: 1s}]}
---
apiVersion: portico/v1
kind: Issuer
metadata: {name: corp}
spec:
  issuer: "https://idp.example.com/"
  algorithms: [ES256]
  audiences: [api://orders]
  # the RFC 7515 A.3 public key: an inline set must hold a usable key (docs/auth.md)
  jwks:
    keys:
      - kty: EC
        crv: P-256
        x: f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU
        y: x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0
"""


def config_text() -> str:
    docs = [
        f"apiVersion: portico/v1\nkind: Route\nmetadata: {{name: {name}}}\nspec:\n  {spec}\n"
        "  upstream: {mock: {json: {ok: true}}}\n"
        for name, spec in ROUTES.items()
    ]
    return "---\n".join(docs) + "---" + OTHER


@pytest.fixture
def portal(spawn: Callable[..., str], tmp_path: Path) -> Iterator[tuple[str, Client]]:
    config = tmp_path / "portal.yaml"
    config.write_text(config_text())
    base = spawn("localdev.frontdoor", "--config", str(config))
    client = Client(base)
    yield base, client
    client.close()


def test_openapi_json_is_valid_31_and_lists_every_route(portal: tuple[str, Client]) -> None:
    _, client = portal
    status, headers, body, _ = client.request("GET", "/_portico/openapi.json")
    assert status == 200 and headers["content-type"] == "application/json"
    doc = json.loads(body)
    validate(doc)  # openapi-spec-validator: raises unless this is valid OpenAPI 3.1
    listed = {n for item in doc["paths"].values() for op in item.values() for n in op["x-portico-routes"]}
    listed |= {r["route"] for r in doc["x-portico-regex-routes"]}
    assert listed == set(ROUTES)
    assert doc["paths"]["/search"]["get"]["deprecated"] is True
    assert doc["paths"]["/orders"]["post"]["security"] == [{"apiKey": []}]
    assert "10 requests per 1s" in doc["paths"]["/orders"]["post"]["description"]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("Chromium is missing: run `make system-deps` (apt-get install chromium)")
    return found


def run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"chromium-profile-{len(list(tmp_path.glob('chromium-profile-*')))}"
    argv = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=10000",  # lets the page's fetch of openapi.json finish before the dump
        *args,
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=90)


def test_docs_page_renders_every_route_in_headless_chromium(portal: tuple[str, Client], tmp_path: Path) -> None:
    base, _ = portal
    dom = run_chromium(tmp_path, "--dump-dom", f"{base}/_portico/docs")
    assert dom.returncode == 0, dom.stderr[-2000:]
    rendered = re.search(r'data-rendered="(\d+)"', dom.stdout)
    assert rendered is not None, dom.stdout[-2000:]  # the renderer ran and finished
    assert int(rendered.group(1)) == 3 + 5 + 5  # one row per operation; assets and reports take any of 5 methods
    for name in ROUTES:
        assert f'data-route="{name}"' in dom.stdout, name
    assert "/orders/{orderId}" in dom.stdout and "deprecated" in dom.stdout

    shot = tmp_path / "portal.png"
    result = run_chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,1000", f"{base}/_portico/docs")
    assert result.returncode == 0 and shot.stat().st_size > 10_000, result.stderr[-2000:]
