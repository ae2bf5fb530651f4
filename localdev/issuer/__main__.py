"""Serves the dev issuer's JWKS: python -m localdev.issuer --dir .portico/issuer [--port 18099].

Prints `listening on URL` once bound. Sends Cache-Control max-age=300, as identity providers commonly do.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from localdev.issuer import ISSUER, JWKS_PATH, PORT, ensure_key, public_jwk
from localdev.issuer.login import AUTHORIZE_PATH, TOKEN_PATH, Grants, LoginError, check_authorize, login_page

MAX_FORM = 8192


def make_handler(jwks: bytes, issuer: str, grants: Grants | None = None) -> type[BaseHTTPRequestHandler]:
    base = issuer.rstrip("/")
    discovery = json.dumps(
        {
            "issuer": issuer,
            "jwks_uri": base + JWKS_PATH,
            "authorization_endpoint": base + AUTHORIZE_PATH,
            "token_endpoint": base + TOKEN_PATH,
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "subject_types_supported": ["public"],
        }
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        fetches = 0

        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            if path == JWKS_PATH:
                Handler.fetches += 1
                self._send(200, jwks, "application/jwk-set+json")
            elif path == "/.well-known/openid-configuration":
                self._send(200, discovery, "application/json")
            elif path == AUTHORIZE_PATH and grants is not None:
                try:
                    params = check_authorize(dict(parse_qsl(query)))
                except LoginError as exc:
                    self._send(400, str(exc).encode(), "text/plain; charset=utf-8", cache=False)
                    return
                self._send(200, login_page(params, issuer), "text/html; charset=utf-8", cache=False)
            else:
                self._send(404, b'{"error":"not found"}', "application/json")

        def do_POST(self) -> None:
            path = urlsplit(self.path).path
            length = int(self.headers.get("Content-Length") or 0)
            if grants is None or path not in (AUTHORIZE_PATH, TOKEN_PATH) or not 0 < length <= MAX_FORM:
                self._send(404 if grants is None else 400, b'{"error":"invalid_request"}', "application/json")
                return
            form = dict(parse_qsl(self.rfile.read(length).decode("utf-8", "replace")))
            try:
                if path == AUTHORIZE_PATH:
                    self.send_response(302)
                    self.send_header("Location", grants.authorize(form))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                answer = grants.token(form, _basic_client(self.headers.get("Authorization")))
            except LoginError as exc:
                error = str(exc).split(":", 1)[0] if ":" in str(exc) else "invalid_request"
                body = json.dumps({"error": error, "error_description": str(exc)}).encode()
                self._send(400, body, "application/json", cache=False)
                return
            self._send(200, json.dumps(answer).encode(), "application/json", cache=False)

        def _send(self, status: int, body: bytes, content_type: str, cache: bool = True) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Cache-Control", "public, max-age=300" if cache else "no-store")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            print(f"{self.address_string()} {format % args}", flush=True)

    return Handler


def _basic_client(header: str | None) -> str | None:
    if not header or not header.startswith("Basic "):
        return None
    try:
        return base64.b64decode(header[6:], validate=True).decode().partition(":")[0]
    except (binascii.Error, UnicodeDecodeError):
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, required=True, help="the dev issuer's state folder (key pair)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=PORT)
    default = f"this server's own URL; {ISSUER} on the default port"
    parser.add_argument("--issuer", help=f"the iss claim (default: {default})")
    args = parser.parse_args()
    key = ensure_key(args.dir)
    jwks = json.dumps({"keys": [public_jwk(key)]}).encode()
    server = ThreadingHTTPServer((args.host, args.port), BaseHTTPRequestHandler)
    issuer = args.issuer or f"http://{args.host}:{server.server_address[1]}/"  # port 0: known once bound
    server.RequestHandlerClass = make_handler(jwks, issuer, Grants(key, issuer))
    print(f"listening on http://{args.host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
