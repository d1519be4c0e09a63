"""The body of WSO2's verification-code resends (``api.identity.user`` v1.0, identity-governance
``MeResendCodeRequest`` / ``ResendCodeRequest``), read alike by the signed-in
``/me/resend-code`` (``api/email_verification.py``) and the anonymous ``/resend-code``
(``api/resend_code.py``): ``{"properties": [{"key": "RecoveryScenario", "value": ...}]}``, and
how that API answers a body it cannot use (400 ``UMG-10000``)."""

from __future__ import annotations

from typing import Any

from marshmallow import fields

from scim_me.errors import UMG
from scim_me.web.bodies import Body
from scim_me.web.bodies import Wso2Body
from scim_me.web.bodies import messages

BAD_REQUEST = UMG.kind("10000")
# Braces doubled: marshmallow formats its messages.
PROPERTIES = "properties must be a list of {{key, value}} objects."
RESEND_BODY = Wso2Body(BAD_REQUEST, reason_messages=True)


class ResendRequest(Body):
    not_an_object = PROPERTIES.format()

    # Items that are not {key, value} objects are skipped when looking for the scenario.
    properties = fields.List(fields.Raw(), load_default=list, error_messages=messages(PROPERTIES))


def recovery_scenario(properties: list[Any]) -> Any:
    """The value of the first ``RecoveryScenario`` property, or None; items that are not objects
    are skipped."""
    return next(
        (p.get("value") for p in properties if isinstance(p, dict) and p.get("key") == "RecoveryScenario"), None
    )
