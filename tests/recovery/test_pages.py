"""The sign-in page's recovery pages: "Forgot password?" from an authorization request, the
mailed code, a new password, and back to that request, where the user signs in with it (and
meets their second factor); the same look and protections as the sign-in page; the same answer
for unknown accounts; open redirects refused; "Forgot username?" mails the username."""

from __future__ import annotations

import base64
import html
import re
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

from tests.factories import bearer
from tests.factories import make_token
from tests.factories import make_user
from tests.recovery.support import ADDRESS
from tests.recovery.support import NEW_PASSWORD
from tests.recovery.support import PASSWORD
from tests.recovery.support import WSO2
from tests.recovery.support import code_from
from tests.recovery.support import confirm
from tests.recovery.support import reset
from tests.recovery.support import start_and_send
from tests.support.privacy import make_spa
from tests.support.privacy import sign_in

AUTHORIZE = "/t/acme/oauth2/authorize"
PAGE = "/t/acme/accountrecoveryendpoint/recoverpassword.do"


def _csrf(text: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert match, text
    return match.group(1)


def _authorize_url(spa) -> str:
    params = {
        "response_type": "code",
        "client_id": spa.client_id,
        "redirect_uri": "http://localhost:5173/callback",
        "scope": "openid internal_login",
        "state": "st",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    return f"{AUTHORIZE}?{urlencode(params)}"


def _forgot_link(browser, spa) -> str:
    signin = browser.get(_authorize_url(spa)).get_data(as_text=True)
    match = re.search(r'id="forgot-password" href="([^"]+)"', signin)
    assert match, signin
    assert 'id="forgot-username"' in signin
    return html.unescape(match.group(1))


def _post(browser, url: str, text: str, **form: str):
    return browser.post(url, data={"csrf_token": _csrf(text), **form})


def test_forgot_password_returns_to_the_authorization_request(app, tenant, kim, mail):
    spa = make_spa(app, tenant)
    browser = app.test_client()
    link = _forgot_link(browser, spa)
    assert link.startswith(PAGE + "?return_to=")
    start = browser.get(link)
    assert start.status_code == 200
    assert start.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in start.headers["Content-Security-Policy"]
    assert start.headers["Cache-Control"] == "no-store"
    text = start.get_data(as_text=True)
    return_to = html.unescape(re.search(r'name="return_to" value="([^"]+)"', text).group(1))
    assert return_to == _authorize_url(spa)

    code_page = _post(browser, link, text, step="init", identifier="kim", return_to=return_to)
    assert code_page.status_code == 200
    assert 'name="code"' in code_page.get_data(as_text=True)
    otp = code_from(mail.wait_for(1)[0])
    password_page = _post(browser, link, code_page.get_data(as_text=True), step="code", code=otp, return_to=return_to)
    assert 'autocomplete="new-password"' in password_page.get_data(as_text=True)
    mismatch = _post(
        browser,
        link,
        password_page.get_data(as_text=True),
        step="reset",
        password=NEW_PASSWORD,
        password2="other",
        return_to=return_to,
    )
    assert mismatch.status_code == 400
    done = _post(
        browser,
        link,
        mismatch.get_data(as_text=True),
        step="reset",
        password=NEW_PASSWORD,
        password2=NEW_PASSWORD,
        return_to=return_to,
    )
    assert done.status_code == 303
    assert done.headers["Location"] == return_to
    back = browser.get(done.headers["Location"]).get_data(as_text=True)
    assert "Sign in with the new one" in back
    # The new password signs in through the same request; the old one no longer does.
    assert sign_in(app, tenant, spa, "kim", password=NEW_PASSWORD).access_token


def test_unknown_account_sees_the_same_code_page(app, tenant, kim, mail):
    pages = []
    for name in ("kim", "nobody"):
        browser = app.test_client()
        start = browser.get(PAGE)
        answer = _post(browser, PAGE, start.get_data(as_text=True), step="init", identifier=name)
        pages.append((answer.status_code, re.sub(r'value="[^"]{20,}"', "", answer.get_data(as_text=True))))
    assert pages[0] == pages[1]
    assert len(mail.wait_for(1)) == 1


def test_wrong_code_and_csrf(app, tenant, kim, mail):
    browser = app.test_client()
    start = browser.get(PAGE)
    code_page = _post(browser, PAGE, start.get_data(as_text=True), step="init", identifier="kim")
    otp = code_from(mail.wait_for(1)[0])
    wrong = _post(
        browser, PAGE, code_page.get_data(as_text=True), step="code", code="0" * 8 if otp != "0" * 8 else "1" * 8
    )
    assert wrong.status_code == 401
    assert "not valid" in wrong.get_data(as_text=True)
    forged = browser.post(PAGE, data={"csrf_token": "forged", "step": "code", "code": otp})
    assert forged.status_code == 400
    assert _post(browser, PAGE, wrong.get_data(as_text=True), step="code", code=otp).status_code == 200


def test_resend_on_the_page_replaces_the_code(app, tenant, kim, mail):
    browser = app.test_client()
    start = browser.get(PAGE)
    code_page = _post(browser, PAGE, start.get_data(as_text=True), step="init", identifier="kim")
    first = code_from(mail.wait_for(1)[0])
    again = _post(browser, PAGE, code_page.get_data(as_text=True), step="resend")
    assert "previous one no longer works" in again.get_data(as_text=True)
    second = code_from(mail.wait_for(2)[1])
    if first != second:
        assert _post(browser, PAGE, again.get_data(as_text=True), step="code", code=first).status_code == 401
    assert _post(browser, PAGE, again.get_data(as_text=True), step="code", code=second).status_code == 200


def test_sixth_send_from_the_page_is_429(app, tenant, kim, mail):
    browser = app.test_client()
    text = browser.get(PAGE).get_data(as_text=True)
    for _ in range(5):
        answer = _post(browser, PAGE, text, step="init", identifier="kim")
        assert answer.status_code == 200
        text = answer.get_data(as_text=True)
    refused = _post(browser, PAGE, text, step="init", identifier="kim")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    mail.wait_for(5)


def test_return_to_elsewhere_is_dropped(app, tenant, kim):
    browser = app.test_client()
    for target in (
        "https://evil.example/oauth2/authorize",
        "//evil.example/t/acme/oauth2/authorize",
        "/t/other/oauth2/authorize",
    ):
        text = browser.get(f"{PAGE}?{urlencode({'return_to': target})}").get_data(as_text=True)
        assert 'name="return_to" value=""' in text, target


def test_mfa_user_meets_the_second_factor_after_a_reset(app, client, tenant, kim, mail):
    """A reset proves the mailbox, not the second factor: the next sign-in still asks for it."""
    import time

    from scim_me.core import otp

    auth = bearer(make_token(app, tenant, kim))
    init = client.post("/t/acme/api/users/v1/me/totp", json={"action": "INIT"}, headers=auth).json
    secret = parse_qs(urlsplit(base64.b64decode(init["qrCodeUrl"]).decode()).query)["secret"][0]
    code = int(otp.code_at(secret, time.time(), otp.TotpPolicy()))
    validated = client.post(
        "/t/acme/api/users/v1/me/totp", json={"action": "VALIDATE", "verificationCode": code}, headers=auth
    )
    assert validated.json == {"isValid": True}
    sent = start_and_send(client)
    reset_code = confirm(client, sent["flowConfirmationCode"], code_from(mail.wait_for(1)[0])).json["resetCode"]
    assert reset(client, reset_code).status_code == 200

    spa = make_spa(app, tenant)
    browser = app.test_client()
    url = _authorize_url(spa)
    text = browser.get(url).get_data(as_text=True)
    after = _post(browser, url, text, action="login", username="kim", password=NEW_PASSWORD)
    assert after.status_code == 200
    assert 'name="action" value="mfa"' in after.get_data(as_text=True)


def test_forgot_username_page_mails_it(app, tenant, kim, mail):
    browser = app.test_client()
    url = "/t/acme/accountrecoveryendpoint/recoverusername.do"
    start = browser.get(url)
    sent = _post(browser, url, start.get_data(as_text=True), email=ADDRESS)
    assert sent.status_code == 200
    assert "we mailed its username" in sent.get_data(as_text=True)
    assert "kim" not in sent.get_data(as_text=True).replace(ADDRESS, "")
    assert "Username: kim" in mail.wait_for(1)[0].text


def test_unverified_address_gets_the_same_page_and_no_mail(app, tenant, mail):
    make_user(app, tenant, "lee", PASSWORD, emails=[{"value": "lee@example.com", "primary": True}], **{WSO2: {}})
    browser = app.test_client()
    url = "/t/acme/accountrecoveryendpoint/recoverusername.do"
    sent = _post(browser, url, browser.get(url).get_data(as_text=True), email="lee@example.com")
    assert "we mailed its username" in sent.get_data(as_text=True)
    assert mail.messages == []
