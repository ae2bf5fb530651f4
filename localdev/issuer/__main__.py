"""Serves the dev issuer's JWKS: python -m localdev.issuer --dir .portico/issuer [--port 18099].

Prints `listening on URL` once bound. Sends Cache-Control max-age=300, as identity providers commonly do.
"""

from __future__ import annotations

import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from localdev.issuer import ISSUER, JWKS_PATH, PORT, ensure_key, public_jwk


def make_handler(jwks: bytes, issuer: str) -> type[BaseHTTPRequestHandler]:
    discovery = json.dumps({"issuer": issuer, "jwks_uri": issuer.rstrip("/") + JWKS_PATH}).encode()

    class Handler(BaseHTTPRequestHandler):
        fetches = 0

        def do_GET(self) -> None:
            if self.path == JWKS_PATH:
                Handler.fetches += 1
                self._send(200, jwks, "application/jwk-set+json")
            elif self.path == "/.well-known/openid-configuration":
                self._send(200, discovery, "application/json")
            else:
                self._send(404, b'{"error":"not found"}', "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Cache-Control", "public, max-age=300")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            print(f"{self.address_string()} {format % args}", flush=True)

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, required=True, help="the dev issuer's state folder (key pair)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--issuer", default=ISSUER)
    args = parser.parse_args()
    jwks = json.dumps({"keys": [public_jwk(ensure_key(args.dir))]}).encode()
    server = ThreadingHTTPServer((args.host, args.port), make_handler(jwks, args.issuer))
    print(f"listening on http://{args.host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
