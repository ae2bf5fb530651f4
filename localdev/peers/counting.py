"""A threaded stdlib HTTP server that counts the calls it answers per path; GET /_calls returns the counts."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Answer = tuple[int, list[tuple[str, str]], bytes]
App = Callable[[str, str, dict[str, str], bytes], Answer]


def serve(app: App, host: str, port: int, name: str) -> None:
    """Serve until killed; prints `listening on URL` once bound (the e2e helpers wait for it); `name` is the
    thread-name prefix, for stack dumps."""
    calls: Counter[str] = Counter()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.path == "/_calls":
                with lock:
                    status, headers, data = 200, [("content-type", "application/json")], json.dumps(calls).encode()
            else:
                with lock:
                    calls[self.path.split("?", 1)[0]] += 1
                headers_in = {k.lower(): v for k, v in self.headers.items()}
                status, headers, data = app(self.command, self.path, headers_in, body)
            self.send_response(status)
            for key, value in headers:
                self.send_header(key, value)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer

        def log_message(self, format: str, *args: object) -> None:  # quiet: tests read only the ready line
            return

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.current_thread().name = name
    print(f"listening on http://{host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
