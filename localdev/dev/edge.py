"""Dev component: the demo echo upstreams and the local front door on 127.0.0.1:8080 (reading the config table)."""

from __future__ import annotations

import secrets
import sys

from localdev.dev.run import DevRun

FRONT_DOOR_PORT = 8080
ECHO_PORTS = {"echo-a": 18081, "echo-b": 18082}  # the demo routes in localdev/demo/config/edge.yaml use these


SECTION = "the edge, through the front door on :8080"


def start(run: DevRun) -> None:
    for name, port in ECHO_PORTS.items():
        argv = [sys.executable, "-m", "localdev.demo.echo", "--port", str(port), "--name", name]
        run.spawn(name, argv, ready_url=f"http://127.0.0.1:{port}/__stats")
    # The edge reads PORTICO_ALLOW_LOOPBACK_UPSTREAMS (set by dev up) and the config table from run.env.
    argv = [sys.executable, "-m", "localdev.frontdoor", "--port", str(FRONT_DOOR_PORT)]
    base = f"http://127.0.0.1:{FRONT_DOOR_PORT}"
    # a fresh portal session key per run (only the front door holds it): restarting signs everyone out
    env = {"PORTICO_CONFIG_REFRESH_SECONDS": "1", "PORTICO_PORTAL_SESSION_KEY": secrets.token_urlsafe(32)}
    run.spawn("frontdoor", argv, env=env, ready_url=f"{base}/demo/hello")
    run.facts["front door"] = base
    run.hint(f"curl -s {base}/demo/items/42          # routed GET: echo-a sees /items/42", SECTION)
    run.hint(f"curl -si {base}/no/such/path          # 404 problem+json", SECTION)
    run.hint(f"curl -si -X POST {base}/demo/items/42 # 405 with Allow", SECTION)
    run.hint(f"curl -s {base}/demo/dashboard/7         # aggregate of 3 parts; try /demo/dashboard-flaky/7", SECTION)
    run.hint(f"curl -si {base}/demo/catalog/a1         # cached: repeat for X-Cache: HIT and Age", SECTION)
    run.hint(
        f"curl -si {base}/v1/demo/orders/9        # deprecated: Deprecation/Sunset/Link; /v2/... is current", SECTION
    )
    run.hint(f"curl -si {base}/demo/limited | grep -i ratelimit   # 5 a minute per address; the 6th is 429", SECTION)
    run.hint(f'curl -si -H "x-api-key: $KEY" {base}/keyed/orders | grep -i ratelimit   # per-consumer quota', SECTION)
    run.hint(
        f"curl -s {base}/_portico/openapi.json | head -c 300   # OpenAPI 3.1; {base}/_portico/docs in a browser",
        SECTION,
    )
    run.hint(f"open {base}/_portico/docs   # developer portal: sign in (any name), create a key, try it", SECTION)
    run.logs_hint("frontdoor", "edge: one JSON access-log line and one EMF metrics line per request")
