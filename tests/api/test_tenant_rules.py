"""``GET /api/server/v1/validation-rules`` and ``POST /api/server/v1/identity-governance/preferences``
on both backends: WSO2's shapes (wso2/identity-api-server ``inputValidation.yaml`` and
``identity-governance.yaml``), generated from the tenant's real settings.

The rules test reads the rules from the endpoint, builds passwords and usernames from them alone,
and checks that the server accepts what the rules admit and refuses what they do not, so the
rules a UI shows and the rules the server enforces cannot drift apart."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tests.factories import assert_wso2_error
from tests.factories import basic
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user

RULES = "/api/server/v1/validation-rules"
PREFERENCES = "/api/server/v1/identity-governance/preferences"
USERS = "/scim2/Users"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
PASSWORD = "correct-horse-battery-9"

STRICT = {
    "password_min_length": 12,
    "password_max_length": 40,
    "password_min_upper": 2,
    "password_min_lower": 2,
    "password_min_digits": 2,
    "password_min_special": 1,
    "password_min_unique": 9,
    "password_max_repeated": 2,
}


@pytest.fixture
def acme(app):
    return make_tenant(app, "acme", **STRICT)


@pytest.fixture
def kim(app, acme):
    return make_user(app, acme, "kim", PASSWORD)


def _user_headers(app, tenant, user) -> dict[str, str]:
    return bearer(make_token(app, tenant, user))


def _by_validator(field: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {rule["validator"]: {p["key"]: p["value"] for p in rule["properties"]} for rule in field["rules"]}


# --- GET /validation-rules ------------------------------------------------------------------------


def test_rules_in_wso2_shape_from_the_tenant_policy(app, client, acme, kim):
    response = client.get(f"/t/acme{RULES}", headers=_user_headers(app, acme, kim))
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.json
    assert [field["field"] for field in body] == ["password", "username"]
    for field in body:
        assert set(field) == {"field", "rules"}
        for rule in field["rules"]:
            assert set(rule) == {"validator", "properties"}
            for prop in rule["properties"]:
                assert set(prop) == {"key", "value"} and isinstance(prop["value"], str)
    password = _by_validator(body[0])
    assert password == {
        "LengthValidator": {"min.length": "12", "max.length": "40"},
        "NumeralValidator": {"min.length": "2"},
        "UpperCaseValidator": {"min.length": "2"},
        "LowerCaseValidator": {"min.length": "2"},
        "SpecialCharacterValidator": {"min.length": "1"},
        "UniqueCharacterValidator": {"min.unique.character": "9"},
        "RepeatedCharacterValidator": {"max.consecutive.character": "2"},
        "CommonPasswordValidator": {"enable.validator": "true"},
        "ContextWordsValidator": {"enable.validator": "true", "min.word.length": "4"},
    }
    assert _by_validator(body[1]) == {
        "LengthValidator": {"min.length": "1", "max.length": "255"},
        "AlphanumericValidator": {"enable.validator": "false"},
        "PrecisUsernameValidator": {"enable.validator": "true", "profile": "UsernameCaseMapped"},
    }


def test_default_tenant_rules_on_the_bare_path(app, client):
    default = make_tenant(app, "carbon.super")
    user = make_user(app, default, "lee", PASSWORD)
    response = client.get(RULES, headers=basic("lee", PASSWORD))
    assert response.status_code == 200
    password = _by_validator(response.json[0])
    # Server defaults (NIST SP 800-63B): length, blocklist and context words, no composition rules.
    assert password == {
        "LengthValidator": {"min.length": "8", "max.length": "256"},
        "CommonPasswordValidator": {"enable.validator": "true"},
        "ContextWordsValidator": {"enable.validator": "true", "min.word.length": "4"},
    }
    assert client.get(RULES, headers=_user_headers(app, default, user)).json == response.json


def test_rules_need_a_credential_not_a_scope(app, client, acme):
    assert_wso2_error(client.get(f"/t/acme{RULES}"), 401)
    machine = make_token(app, acme, None, scope="internal_user_mgt_create")
    assert client.get(f"/t/acme{RULES}", headers=bearer(machine)).status_code == 200


def test_a_token_of_another_tenant_is_refused(app, client, acme, kim):
    make_tenant(app, "globex")
    assert_wso2_error(client.get(f"/t/globex{RULES}", headers=_user_headers(app, acme, kim)), 401)


# --- the rules and the server agree --------------------------------------------------------------

UPPER = "QWRTYPLKHGFDSZXCVBNMJ"
LOWER = "qwrtyplkhgfdszxcvbnmj"
DIGITS = "7395186420"
SPECIAL = "!#%&*+=?@^~"


class Rules:
    """The password rules as numbers, read from the endpoint's answer only."""

    def __init__(self, field: dict[str, Any]) -> None:
        rules = _by_validator(field)

        def number(validator: str, key: str, default: int = 0) -> int:
            return int(rules.get(validator, {}).get(key, default))

        self.min_length = number("LengthValidator", "min.length")
        self.max_length = number("LengthValidator", "max.length")
        self.upper = number("UpperCaseValidator", "min.length")
        self.lower = number("LowerCaseValidator", "min.length")
        self.digits = number("NumeralValidator", "min.length")
        self.special = number("SpecialCharacterValidator", "min.length")
        self.unique = number("UniqueCharacterValidator", "min.unique.character")
        self.repeated = number("RepeatedCharacterValidator", "max.consecutive.character")

    def make(
        self, *, length: int | None = None, distinct: int | None = None, fill: str = "lower", **counts: int
    ) -> str:
        """A password with exactly the given class counts (the rules' minimums unless named),
        filled to ``length`` (the shortest allowed unless named) with more of the ``fill`` class;
        with ``distinct``, built from that many different characters only. No character repeats
        next to itself."""
        need = {"upper": self.upper, "lower": self.lower, "digits": self.digits, "special": self.special, **counts}
        pools = {"upper": UPPER, "lower": LOWER, "digits": DIGITS, "special": SPECIAL}
        length = self.min_length if length is None else length
        core = "".join(pools[name][: need[name]] for name in ("upper", "digits", "special", "lower"))
        if distinct is not None:
            extra = LOWER[need["lower"] : need["lower"] + max(distinct - len(core), 0)]
            alphabet = (core + extra)[:distinct]
            return "".join(itertools.islice(itertools.cycle(alphabet), length))
        pool = pools[fill][need[fill] :] or pools[fill]
        filler = itertools.cycle(pool)
        text = core
        while len(text) < length:
            text += next(filler)
        return text[:length]


def _create(client, headers, user_name: str, password: str):
    return client.post(
        f"/t/acme{USERS}",
        json={"schemas": [CORE], "userName": user_name, "password": password},
        headers=headers,
    )


def test_what_the_rules_admit_the_server_accepts_and_what_they_refuse_it_refuses(app, client, acme, kim):
    fields = {f["field"]: f for f in client.get(f"/t/acme{RULES}", headers=_user_headers(app, acme, kim)).json}
    rules = Rules(fields["password"])
    assert rules.min_length >= rules.upper + rules.lower + rules.digits + rules.special  # each case isolates one rule
    admin = bearer(
        make_token(app, acme, None, scope="internal_user_mgt_create"), **{"Content-Type": "application/scim+json"}
    )
    names = (f"probe{n:03d}" for n in itertools.count())

    admitted = {
        "the shortest": rules.make(),
        "the longest": rules.make(length=rules.max_length),
        "just enough different characters": rules.make(length=rules.min_length, distinct=rules.unique),
    }
    if rules.repeated:
        at_limit = rules.make()
        admitted["a run at the limit"] = at_limit[: -rules.repeated] + at_limit[-1] * rules.repeated
    refused = {
        ("minLength", "one too short"): rules.make(length=rules.min_length - 1),
        ("maxLength", "one too long"): rules.make(length=rules.max_length + 1),
        ("upperCase", "too few upper-case"): rules.make(upper=rules.upper - 1),
        ("lowerCase", "too few lower-case"): rules.make(lower=rules.lower - 1, fill="upper"),
        ("digits", "too few digits"): rules.make(digits=rules.digits - 1),
        ("specialCharacters", "too few special"): rules.make(special=rules.special - 1),
        ("uniqueCharacters", "too few different characters"): rules.make(
            length=rules.min_length, distinct=rules.unique - 1
        ),
        ("repeatedCharacters", "a run too long"): rules.make()[: -rules.repeated - 1] + "k" * (rules.repeated + 1),
    }
    for case, password in admitted.items():
        response = _create(client, admin, next(names), password)
        assert response.status_code == 201, (case, password, response.json)
    for (rule, case), password in refused.items():
        response = _create(client, admin, next(names), password)
        assert response.status_code == 400, (case, password, response.json)
        assert response.json["scimType"] == "invalidValue", (case, response.json)
        assert f"Password policy violation ({rule})" in response.json["detail"], (case, password, response.json)

    # The username inside an otherwise admitted password (ContextWordsValidator).
    context = _create(client, admin, "zebracorn", "Zebracorn" + rules.make())
    assert context.status_code == 400 and "contextWords" in context.json["detail"], context.json


def test_username_rules_match_what_the_server_accepts(app, client, acme, kim):
    fields = {f["field"]: f for f in client.get(f"/t/acme{RULES}", headers=_user_headers(app, acme, kim)).json}
    rules = _by_validator(fields["username"])
    longest = int(rules["LengthValidator"]["max.length"])
    admin = bearer(
        make_token(app, acme, None, scope="internal_user_mgt_create"), **{"Content-Type": "application/scim+json"}
    )
    good = Rules(fields["password"]).make()

    assert _create(client, admin, "n" * longest, good).status_code == 201
    too_long = _create(client, admin, "m" * (longest + 1), good)
    assert too_long.status_code == 400 and too_long.json["scimType"] == "invalidValue"
    assert rules["AlphanumericValidator"] == {"enable.validator": "false"}
    assert _create(client, admin, "kim.berry@example.com", good).status_code == 201  # not letters and digits only
    assert rules["PrecisUsernameValidator"]["profile"] == "UsernameCaseMapped"
    for refused in ("kim berry", "kim\u200bberry", "tab\tname"):  # RFC 8265 refuses spaces, ignorables, controls
        response = _create(client, admin, refused, good)
        assert response.status_code == 400 and response.json["scimType"] == "invalidValue", refused


def test_blocklist_and_context_rules_hold_on_the_default_policy(app, client):
    default = make_tenant(app, "acme")
    kim = make_user(app, default, "kim", PASSWORD)
    rules = _by_validator(client.get(f"/t/acme{RULES}", headers=_user_headers(app, default, kim)).json[0])
    assert rules["CommonPasswordValidator"] == {"enable.validator": "true"}
    admin = bearer(
        make_token(app, default, None, scope="internal_user_mgt_create"), **{"Content-Type": "application/scim+json"}
    )
    common = _create(client, admin, "probe-common", "password1")
    assert common.status_code == 400 and "commonPassword" in common.json["detail"]
    words = int(rules["ContextWordsValidator"]["min.word.length"])
    name = "zebracorn"[: words + 2]
    inside = _create(client, admin, name, f"the-{name}-river-9")
    assert inside.status_code == 400 and "contextWords" in inside.json["detail"]
    assert _create(client, admin, "probe-plain", "river-of-stones-9").status_code == 201


# --- POST /identity-governance/preferences --------------------------------------------------------


def _ask(client, headers, *searches: dict[str, Any], tenant: str = "/t/acme"):
    return client.post(f"{tenant}{PREFERENCES}", json=list(searches), headers=headers)


def test_preferences_answer_from_the_tenant_settings(app, client):
    tenant = make_tenant(
        app,
        "acme",
        self_registration="open",
        verify_email_on_update=True,
        password_history_count=5,
        password_max_age_days=90,
        username_recovery=False,
    )
    kim = make_user(app, tenant, "kim", PASSWORD)
    response = _ask(
        client,
        _user_headers(app, tenant, kim),
        {
            "connector-name": "self-sign-up",
            "properties": ["SelfRegistration.Enable", "SelfRegistration.LockOnCreation"],
        },
        {"connector-name": "user-claim-update", "properties": ["UserClaimUpdate.Email.EnableVerification"]},
        {"connector-name": "passwordHistory", "properties": ["passwordHistory.enable", "passwordHistory.count"]},
        {"connector-name": "passwordExpiry", "properties": ["passwordExpiry.passwordExpiryInDays"]},
        {
            "connector-name": "account-recovery",
            "properties": [
                "Recovery.Notification.Password.Enable",
                "Recovery.Notification.Username.Enable",
                "Recovery.Question.Password.Enable",
            ],
        },
        {"connector-name": "account.lock.handler", "properties": ["account.lock.handler.On.Failure.Max.Attempts"]},
        {"connector-name": "scim-me.mfa", "properties": ["TOTP.Enable", "BackupCodes.Count"]},
    )
    assert response.status_code == 200
    assert response.json == [
        {"connector-name": "self-sign-up", "properties": [
            {"name": "SelfRegistration.Enable", "value": "true"},
            {"name": "SelfRegistration.LockOnCreation", "value": "true"}]},
        {"connector-name": "user-claim-update", "properties": [
            {"name": "UserClaimUpdate.Email.EnableVerification", "value": "true"}]},
        {"connector-name": "passwordHistory", "properties": [
            {"name": "passwordHistory.enable", "value": "true"}, {"name": "passwordHistory.count", "value": "5"}]},
        {"connector-name": "passwordExpiry", "properties": [
            {"name": "passwordExpiry.passwordExpiryInDays", "value": "90"}]},
        {"connector-name": "account-recovery", "properties": [
            {"name": "Recovery.Notification.Password.Enable", "value": "true"},
            {"name": "Recovery.Notification.Username.Enable", "value": "false"},
            {"name": "Recovery.Question.Password.Enable", "value": "false"}]},
        {"connector-name": "account.lock.handler", "properties": [
            {"name": "account.lock.handler.On.Failure.Max.Attempts", "value": "5"}]},
        {"connector-name": "scim-me.mfa", "properties": [
            {"name": "TOTP.Enable", "value": "true"}, {"name": "BackupCodes.Count", "value": "10"}]},
    ]  # fmt: skip


def test_preferences_say_an_administrators_verify_email_and_invitation_are_offered(app, client):
    """verifyEmail and askPassword on POST /scim2/Users work on every tenant (tests/recovery
    test_verify_email.py, test_invite.py): WSO2's user-email-verification connector says so."""
    tenant = make_tenant(app, "acme")
    kim = make_user(app, tenant, "kim", PASSWORD)
    response = _ask(client, _user_headers(app, tenant, kim), {"connector-name": "user-email-verification"})
    assert response.status_code == 200
    assert response.json == [
        {"connector-name": "user-email-verification", "properties": [
            {"name": "EmailVerification.Enable", "value": "true"},
            {"name": "EmailVerification.LockOnCreation", "value": "true"},
            {"name": "EmailVerification.ExpiryTime", "value": "1440"},
            {"name": "EmailVerification.AskPassword.ExpiryTime", "value": "1440"}]},
    ]  # fmt: skip


def test_preferences_follow_a_settings_change(app, database_url, tmp_path):
    from scim_me.storage.tenants import update_tenant
    from tests.support.apps import build_app

    tenant = make_tenant(app, "acme")
    make_user(app, tenant, "kim", PASSWORD)
    client = build_app(database_url, tmp_path, tenant_cache_seconds=0).test_client()
    search = {"connector-name": "self-sign-up", "properties": ["SelfRegistration.Enable"]}
    headers = basic("kim", PASSWORD)
    assert _ask(client, headers, search).json[0]["properties"] == [
        {"name": "SelfRegistration.Enable", "value": "false"}
    ]
    with app.extensions["scim_me"].db.connection_context():
        update_tenant("acme", self_registration="scope", self_registration_confirm=False, password_history_count=3)
    search["properties"].append("SelfRegistration.LockOnCreation")
    answer = _ask(client, headers, search, {"connector-name": "passwordHistory"}).json
    assert answer[0]["properties"] == [
        {"name": "SelfRegistration.Enable", "value": "true"},
        {"name": "SelfRegistration.LockOnCreation", "value": "false"},
    ]
    assert answer[1] == {
        "connector-name": "passwordHistory",
        "properties": [
            {"name": "passwordHistory.enable", "value": "true"},
            {"name": "passwordHistory.count", "value": "3"},
        ],
    }


def test_a_connector_without_properties_answers_all_of_them(app, client):
    tenant = make_tenant(app, "acme")
    make_user(app, tenant, "kim", PASSWORD)
    answer = _ask(client, basic("kim", PASSWORD), {"connector-name": "passwordPolicy"}).json
    assert answer == [{"connector-name": "passwordPolicy", "properties": [
        {"name": "passwordPolicy.enable", "value": "true"},
        {"name": "passwordPolicy.min.length", "value": "8"},
        {"name": "passwordPolicy.max.length", "value": "256"}]}]  # fmt: skip
    assert _ask(client, basic("kim", PASSWORD)).json == []


def test_unknown_connector_and_property_are_wso2_errors(app, client):
    tenant = make_tenant(app, "acme")
    make_user(app, tenant, "kim", PASSWORD)
    headers = basic("kim", PASSWORD)
    body = assert_wso2_error(_ask(client, headers, {"connector-name": "typingdna"}), 400, "IDG-50011")
    assert body["message"] == "Invalid connector name"
    assert body["description"] == "Unable to find a connector with the name typingdna."
    body = assert_wso2_error(
        _ask(client, headers, {"connector-name": "self-sign-up", "properties": ["SelfRegistration.Nope"]}),
        400,
        "IDG-50012",
    )
    assert body["message"] == "Unsupported property is requested."
    assert body["description"] == "The property SelfRegistration.Nope is not supported by this API."


@pytest.mark.parametrize(
    "payload",
    [
        {"connector-name": "self-sign-up"},
        [{"properties": ["SelfRegistration.Enable"]}],
        [{"connector-name": 7}],
        [{"connector-name": "self-sign-up", "properties": "SelfRegistration.Enable"}],
        [{"connector-name": "self-sign-up", "properties": [1]}],
        ["self-sign-up"],
    ],
)
def test_malformed_bodies_are_idg_60001(app, client, payload):
    tenant = make_tenant(app, "acme")
    make_user(app, tenant, "kim", PASSWORD)
    response = client.post(f"/t/acme{PREFERENCES}", json=payload, headers=basic("kim", PASSWORD))
    assert_wso2_error(response, 400, "IDG-60001")


def test_preferences_need_internal_login(app, client):
    tenant = make_tenant(app, "acme")
    assert_wso2_error(_ask(client, {}, {"connector-name": "self-sign-up"}), 401)
    machine = bearer(make_token(app, tenant, None, scope="internal_user_mgt_create"))
    assert_wso2_error(_ask(client, machine, {"connector-name": "self-sign-up"}), 403)
    app_token = bearer(make_token(app, tenant, None, scope="internal_login"))
    assert _ask(client, app_token, {"connector-name": "self-sign-up"}).status_code == 200


def test_preferences_on_the_bare_path(app, client):
    default = make_tenant(app, "carbon.super", self_registration="open")
    make_user(app, default, "lee", PASSWORD)
    response = _ask(
        client, basic("lee", PASSWORD), {"connector-name": "self-sign-up", "properties": ["SelfRegistration.Enable"]},
        tenant="",
    )  # fmt: skip
    assert response.json == [
        {"connector-name": "self-sign-up", "properties": [{"name": "SelfRegistration.Enable", "value": "true"}]}
    ]
