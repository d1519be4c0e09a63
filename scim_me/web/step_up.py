"""Step-up authentication (RFC 9470) for the riskiest self-service actions: disabling MFA
(TOTP delete, removing an authenticator), removing or regenerating backup codes, changing the
e-mail address and self-delete. A stolen or long-lived token should not be enough to lock the
owner out of their account, so these need a sign-in at most the tenant's ``max_auth_age``
seconds old, as the token's ``auth_time`` says (RFC 9068 §2.2.1). Otherwise the answer is 401
with ``WWW-Authenticate: Bearer error="insufficient_user_authentication", ..., max_age="N"``
(RFC 9470 §3), in the API family's own error body; the client then runs the authorization
request again with ``max_age=N`` (OIDC Core §3.1.2.1), which makes the user sign in again, and
retries with the new token.

A token without ``auth_time`` (an external issuer's that does not send it) counts as stale: the
server cannot tell how old its sign-in is. HTTP Basic proves the password on the request itself,
so it is always recent.
"""

from __future__ import annotations

import time

from scim_me.errors import StepUpRequiredError
from scim_me.web.principal import Principal


def require_recent_sign_in(principal: Principal, *, now: float | None = None) -> None:
    """Raise :class:`StepUpRequiredError` unless the caller signed in recently enough for the
    tenant (``max_auth_age``; 0 is off)."""
    max_age = principal.tenant.max_auth_age
    if not max_age:
        return
    current = time.time() if now is None else now
    if principal.auth_time is None or current - principal.auth_time > max_age:
        raise StepUpRequiredError(max_age)
