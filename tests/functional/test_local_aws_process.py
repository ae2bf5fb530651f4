"""Starting, detecting, reusing and stopping the embedded local AWS endpoint."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from localdev import aws


@pytest.fixture
def plain_http_server() -> Iterator[str]:
    """An HTTP server that is not AWS: it answers every request with an HTML 200."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<html>hello</html>")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_session_endpoint_answers(local_aws: str) -> None:
    assert aws.endpoint_answers(local_aws)


def test_nothing_listening_does_not_answer() -> None:
    assert not aws.endpoint_answers("http://127.0.0.1:9", timeout=0.2)


def test_non_aws_server_does_not_count(plain_http_server: str) -> None:
    assert not aws.endpoint_answers(plain_http_server)


def test_ensure_reuses_an_answering_endpoint(local_aws: str) -> None:
    handle = aws.ensure(int(local_aws.rsplit(":", 1)[1]))
    assert handle.process is None and handle.url == local_aws
    aws.stop(handle)  # not ours: must leave it running
    assert aws.endpoint_answers(local_aws)


@pytest.mark.timeout(60)
def test_start_and_stop_a_second_server(tmp_path: Path, local_aws: str) -> None:
    log = tmp_path / "aws.log"
    handle = aws.start(0, log)
    try:
        assert handle.url != local_aws and handle.port > 0
        assert aws.endpoint_answers(handle.url)
    finally:
        aws.stop(handle)
    assert handle.process is not None and handle.process.returncode is not None
    assert not aws.endpoint_answers(handle.url, timeout=0.2)
    assert "listening on " + handle.url in log.read_text()
