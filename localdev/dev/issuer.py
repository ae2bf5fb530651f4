"""Dev component: the local dev issuer. Its key pair lives in .portico/issuer/; its JWKS is served on :18099."""

from __future__ import annotations

import sys

from localdev.dev.run import DevRun

SECTION = "identity: JWT and API keys"


def start(run: DevRun) -> None:
    from localdev.issuer import ISSUER, JWKS_PATH, PORT, ensure_key, issuer_dir

    directory = issuer_dir(run.state_dir)
    ensure_key(directory)  # generated once, before the server starts, so the first JWKS already holds it
    argv = [sys.executable, "-m", "localdev.issuer", "--dir", str(directory), "--port", str(PORT)]
    run.spawn("issuer", argv, ready_url=f"http://127.0.0.1:{PORT}{JWKS_PATH}")
    run.facts["dev issuer"] = f"{ISSUER} (JWKS {JWKS_PATH})"
    run.hint("TOKEN=$(portico dev token --scope demo:read)  # a JWT from the local dev issuer", SECTION)
    run.hint('curl -s -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/secure/orders  # JWT-protected', SECTION)
    run.hint(
        "KEY=$(portico consumers create-key demo-app | tail -1)  # an API key, printed once; live within 1 s", SECTION
    )
    run.hint('curl -s -H "x-api-key: $KEY" http://127.0.0.1:8080/keyed/orders  # API-key-protected', SECTION)
