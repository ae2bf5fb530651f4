"""A local OAuth2 token introspection endpoint (RFC 7662) with client authentication, for tests and dev.

Tokens are given as TOKEN=JSON (the introspection answer for that token); any other token is inactive.
Clients authenticate with HTTP Basic (`--client id:secret`); without valid credentials the answer is 401.
GET /_calls counts introspection calls.
Run: python -m localdev.peers.introspection --client edge:s3cret --token 'tok1={"active":true,"scope":"a"}'
"""

from __future__ import annotations

import argparse
import base64
import json
from typing import Any
from urllib.parse import parse_qs, unquote

from localdev.peers.counting import Answer, serve


def app(client: tuple[str, str], tokens: dict[str, dict[str, Any]]) -> Any:
    def introspect(method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        scheme, _, value = headers.get("authorization", "").partition(" ")
        try:
            user, _, secret = base64.b64decode(value).decode().partition(":")
        except ValueError:
            user, secret = "", ""
        if scheme.lower() != "basic" or (unquote(user), unquote(secret)) != client:
            return 401, [("www-authenticate", 'Basic realm="introspection"')], b'{"error":"invalid_client"}'
        if method != "POST" or not headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return 400, [("content-type", "application/json")], b'{"error":"invalid_request"}'
        token = (parse_qs(body.decode()).get("token") or [""])[0]
        answer = tokens.get(token, {"active": False})
        return 200, [("content-type", "application/json")], json.dumps(answer).encode()

    return introspect


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--client", required=True, help="id:secret")
    parser.add_argument("--token", action="append", default=[], help="TOKEN=JSON answer")
    args = parser.parse_args()
    client_id, _, secret = args.client.partition(":")
    tokens = {t.partition("=")[0]: json.loads(t.partition("=")[2]) for t in args.token}
    serve(app((client_id, secret), tokens), args.host, args.port, "introspection")


if __name__ == "__main__":
    main()
