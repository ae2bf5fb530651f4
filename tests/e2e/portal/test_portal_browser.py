"""The developer portal driven end to end in a real browser (Playwright with Debian's Chromium), as a consumer uses it.

Real parts throughout: the front door process runs the edge against DynamoDB tables on the local AWS endpoint, the
dev issuer process serves the login page and the token endpoint, and Chromium signs in, creates a key, calls the API
from "Try it", watches the usage move, revokes the key and sees the next call fail.

Set PORTICO_E2E_FRONT_DOOR=http://127.0.0.1:8080 to run the same journey against a running `make dev` instead.
Screenshots land in the test's tmp folder (PORTICO_E2E_SCREENSHOTS=DIR keeps them somewhere you choose).
"""

from __future__ import annotations

import http.client
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.e2e

REFRESH_SECONDS = 1.0
CONFIG = """
apiVersion: portico/v1
kind: Issuer
metadata: {{name: dev}}
spec:
  issuer: "{issuer}"
  jwksUri: "{issuer}.well-known/jwks.json"
  authorizationEndpoint: "{issuer}authorize"
  tokenEndpoint: "{issuer}token"
  audiences: ["api://portico-demo"]
---
apiVersion: portico/v1
kind: RateLimitPolicy
metadata: {{name: demo-per-consumer}}
spec:
  key: consumer
  limits: [{{requests: 10, window: 1m, name: burst}}, {{requests: 1000, window: 1d, name: daily}}]
---
apiVersion: portico/v1
kind: Route
metadata: {{name: demo-keyed}}
spec:
  match: {{pathPrefix: /keyed}}
  auth: {{apiKey: {{}}}}
  rateLimit: demo-per-consumer
  upstream: {{mock: {{json: {{orders: []}}}}}}
---
apiVersion: portico/v1
kind: Portal
metadata: {{name: portal}}
spec:
  signIn: {{issuer: dev, clientId: portico-portal, redirectUri: "{door}/_portico/portal/callback"}}
  plan: demo-per-consumer
"""


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("Chromium is missing: run `make system-deps` (apt-get install chromium)")
    return found


@pytest.fixture
def front_door(spawn: Callable[..., str], tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    running = os.environ.get("PORTICO_E2E_FRONT_DOOR")
    if running:
        yield running.rstrip("/")
        return
    request.getfixturevalue("tables")  # fresh DynamoDB tables on the local endpoint; PORTICO_*_TABLE name them
    from portico.adapters.dynamodb.config_store import DynamoDbConfigStore
    from portico.controlplane import apply_documents
    from portico.core.config.context import ValidationSettings
    from portico.core.config.loader import parse_documents

    issuer = spawn("localdev.issuer", "--dir", str(tmp_path / "issuer")) + "/"
    env = {
        "PORTICO_ALLOW_LOOPBACK_UPSTREAMS": "true",
        "PORTICO_CONFIG_REFRESH_SECONDS": str(REFRESH_SECONDS),
        "PORTICO_PORTAL_SESSION_KEY": "e2e-" + os.urandom(24).hex(),
    }
    door = spawn("localdev.frontdoor", env=env)
    docs, issues = parse_documents(
        CONFIG.format(issuer=issuer, door=door), settings=ValidationSettings(allow_loopback=True)
    )
    assert not issues, issues
    apply_documents(DynamoDbConfigStore(os.environ["PORTICO_CONFIG_TABLE"]), docs)
    # the front door started before the config was written and serves the Portal only after its next refresh: the
    # account API answers 404 until then and 401 (with the sign-in link the page renders) after; the page is not
    # opened before that, or it renders without a sign-in link (seen in a CI-like run)
    deadline = time.monotonic() + 20 * REFRESH_SECONDS
    while (status := call(door, "/_portico/portal/api/me", "")) != 401:
        if time.monotonic() > deadline:
            pytest.fail(f"the front door did not serve the Portal within {20 * REFRESH_SECONDS:.0f} s ({status})")
        time.sleep(REFRESH_SECONDS / 2)
    yield door


def call(base: str, path: str, key: str) -> int:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", path, headers={"x-api-key": key})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_sign_in_create_a_key_try_it_see_usage_revoke_and_fail(front_door: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    shots = Path(os.environ.get("PORTICO_E2E_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    user = f"e2e-{os.getpid()}-{int(time.time())}"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium(),
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"],
        )
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 1000})
            page = context.new_page()
            page.set_default_timeout(15_000)
            page.goto(f"{front_door}/_portico/docs")
            page.click("#sign-in")
            page.fill("#username", user)  # the dev issuer's login page
            page.screenshot(path=str(shots / "1-issuer-login.png"))
            page.click("#sign-in")
            expect(page.locator("#who")).to_contain_text("Signed in as portal-")
            expect(page.locator("#plan")).to_contain_text("10 requests per 1m")

            cookies = {c["name"]: c for c in page.context.cookies()}
            session = cookies["portico_session"]
            assert session["httpOnly"] and session["sameSite"] == "Strict" and session["path"] == "/_portico/portal"

            page.fill("#key-label", "browser test")
            page.click("#create-key")
            key = page.locator("#new-key-value").inner_text(timeout=15_000).strip()
            assert key.startswith("ptk_")
            assert key not in page.url
            expect(page.locator("#usage")).to_be_visible()
            # the daily window: a minute window could roll over between the two readings
            daily = page.locator("#usage tr[data-limit='daily'] .used")
            before = int(daily.inner_text())
            page.screenshot(path=str(shots / "2-key-created.png"), full_page=True)

            # a form posted from another origin: no session cookie (SameSite=Strict) and no CSRF token
            attacker = context.new_page()  # same browser profile: its cookies too
            attacker.set_content(
                f'<form id="f" method="post" action="{front_door}/_portico/portal/api/keys">'
                '<input name="label" value="stolen"></form>'
            )
            with attacker.expect_navigation() as navigation:
                attacker.evaluate("document.getElementById('f').submit()")
            assert navigation.value is not None and navigation.value.status in (401, 403)
            attacker.close()
            page.reload()
            expect(page.locator("table.keys tr[data-key]")).to_have_count(1)

            time.sleep(REFRESH_SECONDS + 0.5)  # the edge takes the new key on its next config refresh
            operation = page.locator("details.op[data-route='demo-keyed']").first
            operation.locator(":scope > summary").click()
            form = operation.locator("form.try")
            form.locator("input[name='path:path']").fill("orders")
            form.locator("input[type='password']").fill(key)  # the reload above cleared the page's memory: paste
            result = form.locator("pre.result")
            for _ in range(3):
                form.locator("button.send").click()
                expect(result).to_have_attribute("data-status", "200")
                result.evaluate("node => node.removeAttribute('data-status')")
            expect(result).to_contain_text("ratelimit")
            expect(daily).to_have_text(str(before + 3))
            page.screenshot(path=str(shots / "3-tried-and-usage.png"), full_page=True)

            key_id = page.locator("table.keys tr[data-status='active']").first.get_attribute("data-key")
            page.click(f"button.revoke[data-key='{key_id}']")
            expect(page.locator(f"table.keys tr[data-key='{key_id}']")).to_have_attribute("data-status", "revoked")
            revoked_at = time.monotonic()
            while call(front_door, "/keyed/orders", key) != 401:
                assert time.monotonic() - revoked_at < REFRESH_SECONDS + 3, "the revoked key still works"
                time.sleep(0.1)
            form.locator("input[type='password']").fill(key)
            form.locator("button.send").click()
            expect(result).to_have_attribute("data-status", "401")
            page.screenshot(path=str(shots / "4-revoked.png"), full_page=True)
        finally:
            browser.close()
    for log in tmp_path.glob("*.log"):  # the front door's and the issuer's output (access logs included)
        assert key not in log.read_text(errors="replace"), f"the key leaked into {log.name}"
