"""The signed-in portal through the real edge pipeline: OIDC sign-in with PKCE, self-service keys, usage, isolation,
CSRF, cookies, approval, and that a key never reaches a log line."""

from __future__ import annotations

import json
import logging
from urllib.parse import parse_qsl, urlsplit

import pytest
from portal_kit import ORIGIN, Browser, PortalEdge, body, cookie_pair

from portico.core.portal.accounts import consumer_name


def test_sign_in_sets_a_strict_httponly_secure_session_cookie_and_goes_to_the_docs() -> None:
    edge = PortalEdge()
    browser = Browser(edge)
    login = edge.request("GET", "/_portico/portal/login")
    location = login.headers.get("location") or ""
    assert location.startswith("https://login.example.test/authorize?")
    assert "code_challenge_method=S256" in location and "code_challenge=" in location and "nonce=" in location
    assert "redirect_uri=https%3A%2F%2Fapi.example.test%2F_portico%2Fportal%2Fcallback" in location
    (login_cookie,) = login.cookies
    assert "HttpOnly" in login_cookie and "SameSite=Lax" in login_cookie and "Secure" in login_cookie

    done = browser.sign_in("alice")
    assert done.status == 302 and done.headers.get("location") == "/_portico/docs"
    session = next(c for c in done.cookies if c.startswith("__Secure-portico_session="))
    for attribute in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/_portico/portal", "Max-Age=1800"):
        assert attribute in session
    assert edge.grants.exchanged == 1


def test_first_visit_signs_up_a_consumer_with_the_portals_plan() -> None:
    edge = PortalEdge()
    browser = Browser(edge)
    browser.sign_in("alice")
    me = browser.api("GET", "me")
    assert me.status == 200 and me.headers.get("cache-control") == "no-store"
    data = body(me)
    assert data["consumer"] == consumer_name("https://login.example.test/", "alice")
    assert data["status"] == "active" and data["plan"] == "gold"
    assert data["planText"] == "100 requests per 1m, 10,000 requests per 1d"
    stored = {d.name: d for d in edge.store.snapshot().documents}
    assert stored[data["consumer"]].body["spec"]["subjects"] == ["alice"]


def test_a_key_works_at_the_edge_its_usage_moves_and_revoking_it_refuses_it(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    edge = PortalEdge()
    browser = Browser(edge)
    browser.sign_in("alice")
    browser.api("GET", "me")
    created = browser.api("POST", "keys", {"label": "laptop"})
    assert created.status == 201, created.body
    made = body(created)
    key = made["key"]
    assert key.startswith("ptk_") and len(key) > 40

    before = {w["limit"]: w["used"] for w in body(browser.api("GET", "usage"))["windows"]}
    for _ in range(3):
        assert edge.request("GET", "/keyed/orders", headers=[("x-api-key", key)]).status == 200
    after = {w["limit"]: w["used"] for w in body(browser.api("GET", "usage"))["windows"]}
    assert after == {name: used + 3 for name, used in before.items()}

    listed = body(browser.api("GET", "me"))["keys"]
    assert listed == [{"id": made["id"], "label": "laptop", "status": "active", "created": int(edge.now)}]
    assert browser.api("POST", f"keys/{made['id']}/revoke").status == 200
    assert edge.request("GET", "/keyed/orders", headers=[("x-api-key", key)]).status == 401

    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert key not in text and "portal key created" in text


def test_rotate_replaces_the_key_in_one_write() -> None:
    edge = PortalEdge()
    browser = Browser(edge)
    browser.sign_in("alice")
    browser.api("GET", "me")
    old = body(browser.api("POST", "keys", {"label": "ci"}))
    version = edge.store.version()
    new = body(browser.api("POST", f"keys/{old['id']}/rotate"))
    assert edge.store.version() == version + 1 and new["replaces"] == old["id"]
    assert edge.request("GET", "/keyed/x", headers=[("x-api-key", old["key"])]).status == 401
    assert edge.request("GET", "/keyed/x", headers=[("x-api-key", new["key"])]).status == 200
    keys = {k["id"]: k for k in body(browser.api("GET", "me"))["keys"]}
    assert keys[old["id"]]["status"] == "revoked" and keys[new["id"]]["label"] == "ci"


def test_max_keys_is_enforced() -> None:
    edge = PortalEdge()
    browser = Browser(edge)
    browser.sign_in("alice")
    browser.api("GET", "me")
    assert [browser.api("POST", "keys", {}).status for _ in range(3)] == [201, 201, 409]


def test_a_consumer_cannot_see_or_touch_another_consumers_keys_or_usage() -> None:
    edge = PortalEdge()
    alice, mallory = Browser(edge), Browser(edge)
    alice.sign_in("alice")
    alice.api("GET", "me")
    alice_key = body(alice.api("POST", "keys", {"label": "prod"}))
    mallory.sign_in("mallory")
    seen = body(mallory.api("GET", "me"))
    assert seen["keys"] == [] and seen["consumer"] != body(alice.api("GET", "me"))["consumer"]
    for action in ("revoke", "rotate"):
        assert mallory.api("POST", f"keys/{alice_key['id']}/{action}").status == 404
    assert body(mallory.api("GET", "usage"))["windows"][0]["used"] == 0
    # Alice's key still works and still belongs to her
    assert edge.request("GET", "/keyed/x", headers=[("x-api-key", alice_key["key"])]).status == 200
    assert [k["status"] for k in body(alice.api("GET", "me"))["keys"]] == ["active"]


@pytest.mark.parametrize(
    ("csrf", "origin"),
    [("", ORIGIN), ("wrong-token", ORIGIN), (None, "https://evil.example")],
    ids=["no-token", "wrong-token", "cross-origin"],
)
def test_state_changing_calls_need_the_csrf_token_and_our_origin(csrf: str | None, origin: str) -> None:
    edge = PortalEdge()
    browser = Browser(edge)
    browser.sign_in("alice")
    browser.api("GET", "me")
    version = edge.store.version()
    response = browser.api("POST", "keys", {"label": "x"}, csrf=csrf, origin=origin)
    assert response.status == 403
    assert edge.store.version() == version


def test_a_forged_tampered_or_expired_session_is_not_signed_in() -> None:
    edge = PortalEdge()
    browser = Browser(edge)
    browser.sign_in("alice")
    good = browser.jar["__Secure-portico_session"]
    head, _, tag = good.partition(".")
    for forged in (head + ".AAAA", "x" * 5000, "not-a-session", head[:-2] + "AA." + tag):
        browser.jar["__Secure-portico_session"] = forged
        assert browser.api("GET", "me").status == 401
    browser.jar["__Secure-portico_session"] = good
    assert browser.api("GET", "me").status == 200
    edge.now += 1801  # past sessionTtl
    assert browser.api("GET", "me").status == 401


def test_callback_refuses_a_missing_or_mismatched_state_and_a_replayed_code() -> None:
    edge = PortalEdge()
    browser = Browser(edge)
    login = edge.request("GET", "/_portico/portal/login")
    assert edge.request("GET", "/_portico/portal/callback?code=x&state=y").status == 400  # no login cookie
    browser.keep(login)
    bad = edge.request("GET", "/_portico/portal/callback?code=x&state=other", cookies=browser.cookies())
    assert bad.status == 400 and "state" in body(bad)["detail"]
    bob = Browser(edge)
    assert bob.sign_in("bob").status == 302
    # a code is single-use: bob's code replayed with a fresh, valid login state is refused by the issuer
    again = edge.request("GET", "/_portico/portal/login")
    attacker = Browser(edge)
    attacker.keep(again)
    state = dict(parse_qsl(urlsplit(again.headers.get("location") or "").query))["state"]
    replay = edge.request(
        "GET", f"/_portico/portal/callback?code={bob.last_code}&state={state}", cookies=attacker.cookies()
    )
    assert replay.status == 401 and "__Secure-portico_session" not in "".join(replay.cookies)


def test_manual_approval_keeps_a_new_consumer_pending_until_approved() -> None:
    edge = PortalEdge(approval="manual")
    browser = Browser(edge)
    browser.sign_in("carol")
    me = body(browser.api("GET", "me"))
    assert me["status"] == "pending"
    assert browser.api("POST", "keys", {}).status == 403


def test_without_a_portal_document_sign_in_is_404_and_the_docs_still_serve() -> None:
    edge = PortalEdge()
    edge.store.apply([], [("Portal", "portal")], expected_version=edge.store.version())
    assert edge.request("GET", "/_portico/portal/login").status == 404
    assert edge.request("GET", "/_portico/docs").status == 200


def test_the_portal_endpoints_are_rate_limited_per_address() -> None:
    edge = PortalEdge()
    statuses = [edge.request("GET", "/_portico/portal/api/me").status for _ in range(61)]
    assert statuses[:60] == [401] * 60 and statuses[60] == 429
    assert edge.request("GET", "/_portico/portal/api/me", source_ip="198.51.100.8").status == 401


def test_docs_csp_forbids_inline_script_and_other_origins() -> None:
    edge = PortalEdge()
    csp = edge.request("GET", "/_portico/docs").headers.get("content-security-policy") or ""
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "connect-src 'self'" in csp
    page = edge.request("GET", "/_portico/docs").body.decode()
    assert "<script>" not in page and "http" not in page.replace("http-equiv", "")
    assert edge.request("GET", "/_portico/static/account.js").status == 200


def test_session_cookie_has_no_secure_flag_on_loopback_http() -> None:
    edge = PortalEdge()
    doc = edge.store.snapshot()
    portal = next(d for d in doc.documents if d.kind == "Portal")
    body_ = json.loads(json.dumps(dict(portal.body)))
    body_["spec"]["signIn"]["redirectUri"] = "http://127.0.0.1:8080/_portico/portal/callback"
    from portico.core.ports import StoredDocument

    edge.store.apply([StoredDocument("Portal", "portal", body_)], [], expected_version=edge.store.version())
    browser = Browser(edge)
    done = browser.sign_in("dave")
    session = next(c for c in done.cookies if c.startswith("portico_session="))
    assert "Secure" not in session and "HttpOnly" in session and "SameSite=Strict" in session
    assert cookie_pair(session).startswith("portico_session=")


@pytest.mark.parametrize(
    "payload",
    [b"[" * 3000 + b"]" * 3000, b'{"label": ' * 400 + b"1" + b"}" * 400, b"\xff\xfe", b'{"label": 5}', b"x" * 5000],
    ids=["deep-array", "deep-object", "not-utf8", "label-not-a-string", "oversized"],
)
def test_a_bad_body_gets_400_and_writes_nothing(payload: bytes) -> None:
    edge = PortalEdge()
    browser = Browser(edge)
    browser.sign_in("alice")
    browser.api("GET", "me")
    version = edge.store.version()
    response = edge.request(
        "POST",
        "/_portico/portal/api/keys",
        cookies=browser.cookies(),
        headers=[("origin", ORIGIN), ("x-csrf-token", browser.csrf)],
        body=payload,
    )
    assert response.status == 400 and response.headers.get("content-type") == "application/problem+json"
    assert edge.store.version() == version


def test_every_portal_change_is_in_the_history_with_its_subject_and_no_key() -> None:
    edge = PortalEdge()
    edge.backend.history_keep = 3
    browser = Browser(edge)
    browser.sign_in("alice")
    browser.api("GET", "me")  # signs up: the first record
    made = body(browser.api("POST", "keys", {"label": "ci"}))
    rotated = body(browser.api("POST", f"keys/{made['id']}/rotate"))
    browser.api("POST", f"keys/{rotated['id']}/revoke")
    records = edge.store.history().records  # newest first, trimmed to history_keep after each change
    assert [r.note for r in records] == [
        f"revoke {rotated['id']}",
        f"rotate {made['id']} to {rotated['id']}",
        f"create {made['id']}",
    ]
    assert {r.action for r in records} == {"portal"} and {r.who for r in records} == {"portal:alice"}
    assert [r.version for r in records] == [edge.store.version() - i for i in range(3)]
    assert all(r.at == edge.now for r in records)
    for raw in (made["key"], rotated["key"]):
        assert raw not in repr(records)  # only the key's hash is stored, in the history as in the document
