"""What a self-service UI reads about the tenant's rules, on WSO2's paths (bare and under
``/t/{tenant}/``):

- ``GET /api/server/v1/validation-rules``: the password and username rules the server enforces,
  in WSO2's input-validation shape (core/validation_rules.py). WSO2 guards it with admin view
  scopes for its Console, yet My Account calls it with the signed-in user's token; scim-me
  answers any authenticated caller of the tenant (a user's bearer token or Basic, or a client's
  token): the rules are what the sign-up, change-password and recovery forms must show anyway,
  and nothing in them is about a user. No credential: 401.
- ``POST /api/server/v1/identity-governance/preferences``: the governance connector properties
  asked for, computed from the tenant's settings (services/governance.py). WSO2's definition
  asks for ``internal_login``; a token without it is 403. An unknown connector is 400
  ``IDG-50011``, an unknown property 400 ``IDG-50012`` (WSO2's codes and messages); a body that
  is not a list of ``{"connector-name": string, "properties"?: [string]}`` is 400 ``IDG-60001``
  (scim-me's own number: WSO2's bean validation answers without a code of the family).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import Response
from marshmallow import fields

from scim_me.auth.credentials import policy_for
from scim_me.core.validation_rules import validation_rules
from scim_me.errors import IDG
from scim_me.services.governance import UnknownConnector
from scim_me.services.governance import UnknownProperty
from scim_me.services.governance import preferences as connector_preferences
from scim_me.storage.users import USER_NAME_LENGTH
from scim_me.web.bodies import Body
from scim_me.web.bodies import StrictString
from scim_me.web.bodies import Wso2Body
from scim_me.web.bodies import load
from scim_me.web.bodies import messages
from scim_me.web.bodies import read_json
from scim_me.web.context import settings
from scim_me.web.guards import require_scope
from scim_me.web.principal import LOGIN_SCOPE
from scim_me.web.rest import caller
from scim_me.web.rest import json_response

bp = Blueprint("tenant_rules", __name__)

VALIDATION_RULES = "/api/server/v1/validation-rules"
PREFERENCES = "/api/server/v1/identity-governance/preferences"

_LIST = 'The body must be a JSON array of {"connector-name": string, "properties": [string]} objects.'
_NAME = "connector-name is required and must be a string."
_PROPERTIES = "properties must be an array of strings."


class PreferenceSearch(Body):
    """One element of the request (WSO2's ``PreferenceSearchAttribute``)."""

    not_an_object = _LIST

    connector_name = StrictString(data_key="connector-name", required=True, error_messages=messages(_NAME))
    properties = fields.List(
        StrictString(error_messages=messages(_PROPERTIES)),
        load_default=None,
        allow_none=True,
        error_messages=messages(_PROPERTIES),
    )


_BODY = Wso2Body(IDG.kind("60001", "Invalid input."))


@bp.get(VALIDATION_RULES)
def get_validation_rules() -> Response:
    principal = caller()
    policy = policy_for(principal.tenant.settings, settings())
    return json_response(validation_rules(policy, USER_NAME_LENGTH))


@bp.post(PREFERENCES)
def get_preferences() -> Response:
    principal = caller()
    require_scope(principal, LOGIN_SCOPE)
    value = read_json(_BODY)
    if not isinstance(value, list):
        raise _BODY.error(_LIST)
    searches = [load(PreferenceSearch(), item, _BODY) for item in value]
    answer: list[dict[str, Any]] = []
    for search in searches:
        name = search["connector_name"]
        try:
            properties = connector_preferences(principal.tenant, settings(), name, search["properties"])
        except UnknownConnector as exc:
            raise IDG.error(
                "50011", f"Unable to find a connector with the name {name}.", message="Invalid connector name"
            ) from exc
        except UnknownProperty as exc:
            raise IDG.error(
                "50012",
                f"The property {exc.args[0]} is not supported by this API.",
                message="Unsupported property is requested.",
            ) from exc
        answer.append({"connector-name": name, "properties": properties})
    return json_response(answer)
