"""A demo authoriser with both contracts the edge speaks: a Lambda REQUEST authorizer (`handler`) and an Envoy
ext_authz HTTP service (`python -m localdev.peers.authz`).

The decision is the same in both: `Authorization: Bearer allow-<user>` is allowed (the user goes upstream as
`x-user-id`, and in the Lambda's context), `Bearer slow-<user>` waits 5 s first, anything else is denied.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from localdev.peers.counting import Answer, serve


def decide(authorization: str) -> str | None:
    """The user an Authorization value is allowed as, or None."""
    token = authorization.removeprefix("Bearer ").strip()
    if token.startswith("slow-"):
        time.sleep(5)
        token = "allow-" + token.removeprefix("slow-")
    return token.removeprefix("allow-") if token.startswith("allow-") and len(token) > 6 else None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """API Gateway HTTP API REQUEST authorizer, simple response form."""
    sources = event.get("identitySource") or [""]
    user = decide(str(sources[0]))
    if user is None:
        return {"isAuthorized": False}
    return {"isAuthorized": True, "context": {"user": user, "consumer": user, "tenant": "demo"}}


def ext_authz(method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
    user = decide(headers.get("authorization", ""))
    if user is None:
        problem = {"type": "about:blank", "title": "Forbidden", "status": 403, "detail": "denied by the demo authz"}
        return 403, [("content-type", "application/problem+json")], json.dumps(problem).encode()
    return 200, [("x-user-id", user), ("x-not-forwarded", "1")], b""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    serve(ext_authz, args.host, args.port, "authz")


if __name__ == "__main__":
    main()
