"""Issue 20 defect 3 and its class: every outbound dial of the product goes through the one resolve-and-check path.

`SITES` lists every file of the product that dials out, found by the primitives in `DIAL`. A new dial site (a new
transport, an ext-authz or introspection client that does not go through Http1Client) fails
`test_every_dial_site_is_listed` until it is listed here, with a test below proving that it refuses a name that
resolves to 169.254.169.254, or a reason why it dials only addresses no user or request can choose.

The resolver is "a DNS that lies": it answers 169.254.169.254 for evil.test. Unit tests have the network switched
off, and a spy on every connect primitive records any dial that would have been made: none may be.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey

from portico.adapters.grpc_channel import GrpcChannels
from portico.adapters.http1_client import ClientSettings, Http1Client
from portico.adapters.jwks_http import HttpJwksFetcher
from portico.core.auth.authenticator import KeySources
from portico.core.config.grpc import GrpcTls
from portico.core.http import Request
from portico.core.mesh.registry import Instance
from portico.core.ports import UpstreamRefused
from tests.auth_support import AUDIENCE, ISSUER, call, claims, edge_handler, public, sign

ROOT = Path(__file__).resolve().parents[3]
METADATA = "169.254.169.254"
DIAL = re.compile(
    r"open_connection\(|create_connection\(|urlopen\(|secure_channel\(|insecure_channel\(|socket\.socket\(|"
    r"wrap_socket\(|HTTPS?Connection\(|build_opener\(|sock_connect\(|start_tls\(|boto3\.(?:client|resource)\(|"
    r"aws\.client\(|aws_client\(|\bclient\(\"|httpx\.|requests\.(?:get|post|Session)|aiohttp\."
)

CHECKED = "dials only addresses checked by adapters/resolve.py at connect time; proven below"
AWS_SDK = (
    "AWS SDK client: endpoints come from the SDK's configuration (AWS_ENDPOINT_URL), never from config or requests"
)
SITES = {
    # the one HTTP/1 client: edge http upstreams, JWKS fetches (jwks_http.py), mesh peers (sidecar outbound, the
    # edge's `service` upstreams) and the sidecar's app
    "shared/portico/adapters/http1_client.py": CHECKED,
    # the sidecar's HTTP/2 pools: peers (h2 over mTLS) and the app (h2c)
    "shared/portico/mesh/h2client.py": CHECKED,
    # edge gRPC upstreams
    "shared/portico/adapters/grpc_channel.py": CHECKED,
    "shared/portico/adapters/dynamodb/config_store.py": AWS_SDK,
    "shared/portico/adapters/dynamodb/quota_store.py": AWS_SDK,
    "shared/portico/adapters/dynamodb/registry_store.py": AWS_SDK,
    "shared/portico/adapters/lambda_invoker.py": AWS_SDK,
    # the one Secrets Manager reader: introspection client credentials (client_secrets.py, which also builds its
    # client) and the portal's session key and client secret (secrets.py; the token endpoint rides Http1Client)
    "shared/portico/adapters/secrets_manager.py": AWS_SDK,
    "shared/portico/adapters/client_secrets.py": AWS_SDK,
    "shared/portico/adapters/certs/pca.py": AWS_SDK,
    "shared/portico/adapters/certs/acm_export.py": AWS_SDK,
    "shared/portico/adapters/caller.py": AWS_SDK,  # STS GetCallerIdentity: who made a config change (history)
    # the sidecar's SigV4 JSON client: the same endpoint rules as the SDK (adapters/aws_env.py)
    "shared/portico/adapters/aws_json.py": AWS_SDK,
    "shared/portico/adapters/ecs_metadata.py": (
        "ECS task metadata: the URL is ECS_CONTAINER_METADATA_URI_V4, set by the ECS agent; reading 169.254.170.2 is "
        "its purpose, and nothing a user or request writes reaches it"
    ),
    # opaque TCP to peer sidecars (registry addresses, checked like the HTTP pools'), and to the local app
    "shared/portico/mesh/l4outbound.py": CHECKED,
    "shared/portico/mesh/l4sidecar.py": "the health check of a tcp app port: 127.0.0.1, the sidecar's own --app-port",
    "shared/portico/mesh/l4inbound.py": (
        "dials only 127.0.0.1, at an app port the sidecar's own flags declare as tcp/tls (never one a peer chooses)"
    ),
    "shared/portico/cli/graph_cmds.py": (
        "operator CLI: reads /stats of the sidecars `portico dev up` started, on 127.0.0.1, from its own state file"
    ),
}


def _dial_sites() -> set[str]:
    found = set()
    for folder in ("shared/portico", "functions"):
        for path in (ROOT / folder).rglob("*.py"):
            code = "\n".join(line.split("#", 1)[0] for line in path.read_text(encoding="utf-8").splitlines())
            if DIAL.search(code):
                found.add(str(path.relative_to(ROOT)))
    return found


def test_every_dial_site_is_listed() -> None:
    found = _dial_sites()
    assert found - SITES.keys() == set(), "a new outbound dial: route it through adapters/resolve.py and list it"
    assert SITES.keys() - found == set(), "a listed dial site no longer dials: remove it from SITES"


class Dials:
    """Records every connect the product tries; each one fails, so nothing leaves the process in any case."""

    def __init__(self) -> None:
        self.made: list[Any] = []
        self.lookups: list[str] = []

    async def lying_resolver(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        return [METADATA] if host == "evil.test" else ["203.0.113.10"]


@pytest.fixture
def dials(monkeypatch: pytest.MonkeyPatch) -> Iterator[Dials]:
    spy = Dials()

    async def refuse(*args: Any, **kwargs: Any) -> Any:
        spy.made.append(args)
        raise OSError("dial recorded by the test")

    def refuse_channel(*args: Any, **kwargs: Any) -> Any:
        spy.made.append(args)
        raise OSError("dial recorded by the test")

    monkeypatch.setattr(asyncio, "open_connection", refuse)
    monkeypatch.setattr(asyncio.base_events.BaseEventLoop, "create_connection", refuse)
    monkeypatch.setattr(grpc.aio, "secure_channel", refuse_channel)
    monkeypatch.setattr(grpc.aio, "insecure_channel", refuse_channel)
    yield spy


def test_http_transport_refuses_a_name_resolving_to_metadata(dials: Dials) -> None:
    transport = Http1Client(ClientSettings(resolver=dials.lying_resolver))
    with pytest.raises(UpstreamRefused, match=re.escape(METADATA)):
        asyncio.run(transport.send(Request("GET", "/"), "https://evil.test/latest/meta-data/", 2.0))
    assert dials.lookups == ["evil.test"] and dials.made == []


def test_an_upstream_route_to_that_name_is_502_with_no_connection(dials: Dials) -> None:
    config = """
apiVersion: portico/v1
kind: Route
metadata: {name: evil}
spec:
  match: {path: /evil}
  auth: {none: {}}
  upstream: {http: {url: "https://evil.test/latest/meta-data/"}}
"""
    handler = edge_handler(config, Http1Client(ClientSettings(resolver=dials.lying_resolver)))
    response = asyncio.run(call(handler, "/evil", {}, 1_900_000_000.0))
    assert response.status == 502 and dials.made == []


def test_a_jwks_uri_resolving_to_metadata_is_never_dialled(dials: Dials) -> None:
    """The defect as found: an Issuer with jwksUri https://evil.test/jwks.json made the edge open TLS to 169.254."""
    config = f"""
apiVersion: portico/v1
kind: Route
metadata: {{name: orders}}
spec:
  match: {{path: /orders}}
  auth: {{jwt: {{issuers: [corp]}}}}
  upstream: {{mock: {{status: 200}}}}
---
apiVersion: portico/v1
kind: Issuer
metadata: {{name: corp}}
spec:
  issuer: {ISSUER}
  jwksUri: https://evil.test/jwks.json
  audiences: [{AUDIENCE}]
  algorithms: [ES256]
"""
    sources = KeySources(lambda: HttpJwksFetcher(resolver=dials.lying_resolver))
    handler = edge_handler(config, Http1Client(ClientSettings(resolver=dials.lying_resolver)), sources)
    jwk = dict(ECKey.import_key(ec.generate_private_key(ec.SECP256R1())).as_dict(private=True))  # type: ignore[arg-type]
    now = 1_900_000_000.0
    token = sign({**jwk, "kid": "k1"}, {"alg": "ES256", "kid": "k1"}, claims(now, exp=int(now) + 600))
    response = asyncio.run(call(handler, "/orders", {"authorization": f"Bearer {token}"}, now))
    assert response.status == 401 and "unavailable" in json.loads(response.body)["detail"]
    assert "evil.test" in dials.lookups and dials.made == []
    assert public(jwk)  # the key exists; only its fetch was refused


def test_jwks_fetcher_refuses_metadata_literals_too(dials: Dials) -> None:
    from portico.core.auth.jwks_cache import JwksFetchError

    fetcher = HttpJwksFetcher(resolver=dials.lying_resolver)
    for url in ("https://169.254.169.254/jwks.json", "http://[::ffff:169.254.169.254]/", "http://2852039166/"):
        with pytest.raises(JwksFetchError, match="refused"):
            asyncio.run(fetcher.fetch(url))
    assert dials.made == []


def test_grpc_channels_refuse_a_name_resolving_to_metadata(dials: Dials) -> None:
    async def attempt() -> None:
        channels = GrpcChannels(resolver=dials.lying_resolver)
        try:
            await channels.unary("evil.test:443", GrpcTls(), "/svc/Method", b"", 2.0, ())
        finally:
            await channels.close()

    with pytest.raises(UpstreamRefused, match=re.escape(METADATA)):
        asyncio.run(attempt())
    assert dials.lookups == ["evil.test"] and dials.made == []


@pytest.mark.parametrize("host", ["evil.test", METADATA, "169.254.170.2", "fd00:ec2::254"])
def test_mesh_pools_refuse_metadata_peers(dials: Dials, host: str) -> None:
    """A registry item (written by any task's role) naming a metadata address never gets a connection."""
    pool = Http1Client(ClientSettings(allow_loopback=True, resolver=dials.lying_resolver))
    authority = f"[{host}]" if ":" in host else host
    with pytest.raises(UpstreamRefused):
        asyncio.run(pool.send(Request("GET", "/"), f"https://{authority}:15443/", 2.0))
    assert dials.made == [] and pool.open_connections == 0


@pytest.mark.parametrize("host", ["evil.test", METADATA, "fd00:ec2::254"])
def test_http2_pools_refuse_metadata_peers(dials: Dials, host: str) -> None:
    from portico.mesh.h2client import H2Client

    pool = H2Client(ClientSettings(allow_loopback=True, resolver=dials.lying_resolver), scheme_tls=False)
    authority = f"[{host}]" if ":" in host else host
    with pytest.raises(UpstreamRefused):
        asyncio.run(pool.send(Request("POST", "/a.B/C"), f"http://{authority}:15443/a.B/C", 2.0, b""))
    assert dials.made == []


def test_the_edges_mesh_client_refuses_a_registered_metadata_address(dials: Dials) -> None:
    from portico.adapters.clock import SystemClock
    from portico.mesh.client import MeshServiceClient, mtls_settings

    class Registry:
        def instances(self, service: str) -> list[Instance]:
            return [Instance(service, "i-1", METADATA, 15443, heartbeat=1e12)]

    class Identity:
        client_context = None

        def verify_server(self, ssl_object: Any, expected: str) -> None:
            raise AssertionError("no handshake may happen")

    client = MeshServiceClient(
        Registry(),
        mtls_settings(Identity()),  # type: ignore[arg-type]
        SystemClock(),
        stale_after=1e13,
    )
    with pytest.raises(UpstreamRefused):
        asyncio.run(client.call("payments", Request("GET", "/"), "/", 2.0))
    assert dials.made == []


def _protected(config: str, dials: Dials) -> Any:
    """The real edge chain with the HTTP client on the lying resolver (introspection and ext_authz dial with it)."""
    from dataclasses import replace

    from portico.core.config.configset import ConfigSet
    from portico.core.config.loader import parse_documents
    from portico.core.config.snapshot import LoadedConfig
    from portico.edge.pipeline import EdgeDeps, build_pipeline

    class Credentials:
        async def credentials(self, spec: Any, now: float) -> tuple[str, str]:
            return "edge", "secret"

    docs, issues = parse_documents(config, file="protect.yaml")
    assert not issues, issues
    transport = Http1Client(ClientSettings(resolver=dials.lying_resolver))
    rng = random.Random(7).randbytes
    deps = EdgeDeps(rng=rng, jitter=lambda: 0.0, transport=lambda: transport, invoker=lambda: None)  # type: ignore[arg-type, return-value]
    deps = replace(deps, credentials=Credentials)
    return build_pipeline(LoadedConfig(version=1, config=ConfigSet.of(docs)), deps).handler


def test_an_introspection_endpoint_resolving_to_metadata_is_never_dialled(dials: Dials) -> None:
    config = """
apiVersion: portico/v1
kind: Route
metadata: {name: opaque}
spec:
  match: {path: /opaque}
  auth: {introspection: {endpoint: "https://evil.test/introspect", credentials: {secretId: idp}}}
  upstream: {mock: {status: 200}}
"""
    response = asyncio.run(call(_protected(config, dials), "/opaque", {"authorization": "Bearer tok"}, 1.9e9))
    assert response.status == 503 and dials.lookups == ["evil.test"] and dials.made == []


def test_an_ext_authz_service_resolving_to_metadata_is_never_dialled(dials: Dials) -> None:
    config = """
apiVersion: portico/v1
kind: Route
metadata: {name: decided}
spec:
  match: {path: /decided}
  auth: {external: {http: {url: "https://evil.test/check"}}}
  upstream: {mock: {status: 200}}
"""
    response = asyncio.run(call(_protected(config, dials), "/decided", {"authorization": "Bearer tok"}, 1.9e9))
    assert response.status == 403 and dials.lookups == ["evil.test"] and dials.made == []


def test_the_portal_token_endpoint_resolving_to_metadata_is_never_dialled(dials: Dials) -> None:
    from portico.core.config.documents import Issuer
    from portico.core.config.portal import PortalSignIn
    from portico.edge.portal.oidc import SignInError, exchange_code

    issuer = Issuer.model_validate(
        {
            "apiVersion": "portico/v1",
            "kind": "Issuer",
            "metadata": {"name": "idp"},
            "spec": {
                "issuer": "https://evil.test/",
                "jwksUri": "https://evil.test/jwks",
                "authorizationEndpoint": "https://evil.test/authorize",
                "tokenEndpoint": "https://evil.test/token",
                "audiences": ["a"],
            },
        }
    )
    sign_in = PortalSignIn(issuer="idp", client_id="c", redirect_uri="https://api.test/_portico/portal/callback")
    transport = Http1Client(ClientSettings(resolver=dials.lying_resolver))
    with pytest.raises(SignInError, match="did not answer"):
        asyncio.run(exchange_code(transport, issuer, sign_in, "code", "verifier", None))
    assert dials.lookups == ["evil.test"] and dials.made == []


def test_opaque_tcp_refuses_a_peer_address_resolving_to_metadata(dials: Dials) -> None:
    from portico.core.mesh.l4route import L4Limits, Target, TcpUpstream
    from portico.mesh.l4outbound import OutboundTcp
    from portico.mesh.l4pipe import Pipe

    async def attempt() -> bool:
        out = OutboundTcp(
            TcpUpstream(9000, "db", 5432),
            None,  # type: ignore[arg-type]  # _dial reads no mesh state
            service="app",
            tls_context=lambda: None,
            verify_server=lambda obj, svc: None,
            rng=random.Random(0),
            resolver=dials.lying_resolver,
        )
        pipe = Pipe(lambda p: None)
        target = Target("db", None, 5432, "db.default")
        evil = Instance("db", "i-1", "evil.test", 15443)
        literal = Instance("db", "i-2", METADATA, 15443)
        return await out._dial(pipe, evil, target, L4Limits()) or await out._dial(pipe, literal, target, L4Limits())

    assert asyncio.run(attempt()) is False
    assert dials.lookups == ["evil.test"] and dials.made == []
