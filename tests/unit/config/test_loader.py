"""Config validation: every kind, Istio documents as they are, field-path errors with suggestions."""

from __future__ import annotations

from pathlib import Path

import pytest

from portico.core.config.configset import ConfigSet
from portico.core.config.loader import parse_documents

FIXTURES = Path(__file__).parents[2] / "fixtures" / "config"


def test_every_kind_validates() -> None:
    docs, issues = parse_documents((FIXTURES / "valid-all.yaml").read_text(), file="valid-all.yaml")
    assert issues == []
    assert {d.kind for d in docs} == {
        "Route",
        "Issuer",
        "RateLimitPolicy",
        "Consumer",
        "VirtualService",
        "DestinationRule",
        "AuthorizationPolicy",
    }
    assert ConfigSet.of(docs).reference_errors() == []


def test_istio_v1alpha3_documents_validate_as_they_are() -> None:
    docs, issues = parse_documents((FIXTURES / "istio-v1alpha3.yaml").read_text(), file="istio.yaml")
    assert issues == []
    vs, dr = docs
    split = vs.spec.http[1]  # type: ignore[union-attr]
    assert [d.weight for d in split.route] == [75, 25]
    assert split.retries.attempts == 3 and split.retries.per_try_timeout == 2.0
    assert split.fault.abort.http_status == 400
    assert dr.spec.traffic_policy.outlier_detection.base_ejection_time == 900.0  # type: ignore[union-attr]
    assert ConfigSet.of(docs).reference_errors() == []


@pytest.mark.parametrize(
    "version", ["networking.istio.io/v1alpha3", "networking.istio.io/v1beta1", "networking.istio.io/v1"]
)
def test_istio_api_versions_are_accepted(version: str) -> None:
    text = (FIXTURES / "istio-v1alpha3.yaml").read_text().replace("networking.istio.io/v1alpha3", version)
    assert parse_documents(text)[1] == []


def test_misspelled_field_names_file_document_path_and_suggestion() -> None:
    text = (FIXTURES / "valid-all.yaml").read_text().replace("maxRetries: 3", "maxRetires: 3")
    _, issues = parse_documents(text, file="mesh.yaml")
    assert len(issues) == 1
    issue = issues[0]
    assert (issue.file, issue.index) == ("mesh.yaml", 5)
    assert issue.path == "spec.trafficPolicy.connectionPool.http.maxRetires"
    assert "did you mean 'maxRetries'?" in issue.message
    assert str(issue).startswith("mesh.yaml: document 5: spec.trafficPolicy")


def test_unknown_kind_and_wrong_api_version_are_explained() -> None:
    _, issues = parse_documents("apiVersion: portico/v1\nkind: Rout\nmetadata: {name: a}\nspec: {}\n")
    assert "did you mean 'Route'?" in issues[0].message
    _, issues = parse_documents(
        "apiVersion: networking.istio.io/v1alpha3\nkind: Route\nmetadata: {name: a}\nspec: {}\n"
    )
    assert issues[0].path == "apiVersion" and "portico/v1" in issues[0].message


def test_yaml_syntax_error_names_line() -> None:
    _, issues = parse_documents("kind: Route\nspec: {a: [1, 2}\n", file="bad.yaml")
    assert issues and "line 2" in issues[0].message


def test_durations_are_parsed_and_bad_ones_named() -> None:
    ok = (FIXTURES / "valid-all.yaml").read_text()
    docs, _ = parse_documents(ok)
    assert docs[0].spec.upstream.http.timeout == 2.0  # type: ignore[union-attr]
    _, issues = parse_documents(ok.replace("timeout: 2s", "timeout: 2"))
    assert issues[0].path == "spec.upstream.http.timeout" and "unit" in issues[0].message


def test_cross_references_are_checked() -> None:
    text = (FIXTURES / "valid-all.yaml").read_text()
    docs, _ = parse_documents(
        text.replace("issuers: [corp]", "issuers: [corporate]").replace(
            "mirror: {host: payments, subset: v2}", "mirror: {host: payments, subset: v9}"
        )
    )
    errors = ConfigSet.of(docs).reference_errors()
    assert any("Issuer 'corporate'" in e for e in errors)
    assert any("spec.http[0].mirror uses subset 'v9'" in e for e in errors)


def test_route_requires_explicit_auth_and_one_path_matcher() -> None:
    base = "apiVersion: portico/v1\nkind: Route\nmetadata: {name: r}\nspec:\n  upstream: {mock: {}}\n"
    _, issues = parse_documents(base + "  match: {path: /a}\n")
    assert any(i.path == "spec.auth" for i in issues)
    _, issues = parse_documents(base + "  auth: {none: {}}\n  match: {path: /a, pathPrefix: /b}\n")
    assert any("exactly one of path, pathPrefix, pathRegex" in i.message for i in issues)


def test_hs256_needs_a_long_secret_and_cannot_mix_with_asymmetric() -> None:
    base = "apiVersion: portico/v1\nkind: Issuer\nmetadata: {name: i}\nspec: {issuer: x, audiences: [a], "
    assert parse_documents(base + "algorithms: [HS256], hmacSecret: short}\n")[1]
    assert parse_documents(base + f"algorithms: [HS256, RS256], hmacSecret: {'x' * 40}, jwksUri: https://a/}}\n")[1]
    assert not parse_documents(base + f"algorithms: [HS256], hmacSecret: {'x' * 40}}}\n")[1]
    assert parse_documents(base + "algorithms: [none], jwksUri: https://a/}\n")[1]


@pytest.mark.parametrize(
    ("upstream", "where"),
    [
        ('{http: {url: "https://orders.example.internal/orders/{orderID}"}}', "upstream.http.url"),
        ('{service: {name: orders, path: "/orders/{order}"}}', "upstream.service.path"),
        (
            '{aggregate: {parts: {a: {http: {url: "https://a.example.internal/x/{nope}"}}}}}',
            "upstream.aggregate.parts.a.http.url",
        ),
    ],
)
def test_an_upstream_placeholder_the_path_does_not_define_is_refused(upstream: str, where: str) -> None:
    route = (
        "apiVersion: portico/v1\nkind: Route\nmetadata: {name: r}\nspec:\n"
        '  match: {path: "/orders/{orderId}"}\n  auth: {none: {}}\n'
        f"  upstream: {upstream}\n"
    )
    _, issues = parse_documents(route)
    assert len(issues) == 1 and issues[0].path == "spec"
    assert issues[0].message.startswith(f"{where} uses {{") and "which match.path does not define" in issues[0].message
    fixed = route.replace("{orderID}", "{orderId}").replace("{order}", "{orderId}").replace("{nope}", "{orderId}")
    assert parse_documents(fixed)[1] == []
