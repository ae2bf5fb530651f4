"""Upstream URLs pointing at metadata, link-local or loopback addresses are refused in every spelling."""

from __future__ import annotations

import pytest

from portico.core.config.context import ValidationSettings
from portico.core.config.loader import parse_documents
from portico.core.netguard import ForbiddenDestination, check_upstream_url

ROUTE = """apiVersion: portico/v1
kind: Route
metadata: {{name: r}}
spec:
  match: {{path: /a}}
  auth: {{none: {{}}}}
  upstream: {{http: {{url: "{url}"}}}}
"""

REFUSED = [
    "http://169.254.169.254/",
    "http://[::ffff:169.254.169.254]/",
    "http://[::ffff:a9fe:a9fe]/",
    "http://2852039166/",
    "http://0xA9FEA9FE/",
    "http://0251.0376.0251.0376/",
    "http://169.254.43518/",
    "http://169.254.169.254./latest/meta-data",
    "http://169.254.170.2/v2/credentials",
    "http://[fd00:ec2::254]/",
    "http://[fe80::1]/",
    "http://0.0.0.0/",
    "http://0/",
    "http://127.0.0.1/",
    "http://127.1/",
    "http://2130706433/",
    "http://[::1]/",
    "http://localhost/",
    "http://LOCALHOST./",
    "http://api.localhost/",
    "http://metadata.google.internal/",
    "http://user@localhost/",
    "http://user:pw@orders.example.com/",
    "ftp://orders.example.com/",
]


@pytest.mark.parametrize("url", REFUSED)
def test_refused_with_a_reason(url: str) -> None:
    _, issues = parse_documents(ROUTE.format(url=url))
    assert len(issues) == 1
    assert issues[0].path == "spec.upstream.http.url"
    assert issues[0].message.startswith("upstream refused: ")


@pytest.mark.parametrize(
    "url", ["https://orders.example.internal/orders", "http://10.0.0.8:8080/", "http://[2001:db8::1]/"]
)
def test_ordinary_upstreams_pass(url: str) -> None:
    assert parse_documents(ROUTE.format(url=url))[1] == []


def test_local_development_allowance_admits_loopback_only() -> None:
    dev = ValidationSettings(allow_loopback=True)
    assert parse_documents(ROUTE.format(url="http://127.0.0.1:18081/"), settings=dev)[1] == []
    assert parse_documents(ROUTE.format(url="http://localhost:18081/"), settings=dev)[1] == []
    assert parse_documents(ROUTE.format(url="http://169.254.169.254/"), settings=dev)[1]
    assert parse_documents(ROUTE.format(url="http://user@localhost/"), settings=dev)[1]


def test_reasons_name_the_address() -> None:
    with pytest.raises(ForbiddenDestination, match=r"169\.254\.169\.254"):
        check_upstream_url("http://2852039166/")


SERVICE_ROUTE = """apiVersion: portico/v1
kind: Route
metadata: {{name: s}}
spec:
  match: {{path: "/s/{{id}}"}}
  auth: {{none: {{}}}}
  upstream: {{service: {{name: orders, path: "{path}"}}}}
"""


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (ROUTE.format(url="https://api.example.com/base?x=1"), "spec.upstream.http.url"),
        (ROUTE.format(url="https://api.example.com/base#frag"), "spec.upstream.http.url"),
        (ROUTE.format(url="https://api.example.com/?"), "spec.upstream.http.url"),
        (SERVICE_ROUTE.format(path="/orders/{id}?full=1"), "spec.upstream.service.path"),
    ],
)
def test_a_query_or_fragment_in_an_upstream_is_refused_not_dropped(text: str, field: str) -> None:
    docs, issues = parse_documents(text, file="r.yaml", settings=ValidationSettings())
    assert not docs and len(issues) == 1
    assert issues[0].path == field and "query or fragment" in issues[0].message
