"""What a failed client authentication says (RFC 6749 §5.2 ``invalid_client``).

authlib's descriptions hide the cause ("The client cannot authenticate with methods: [...]") or
tell one cause apart from another ("The client does not exist on this server"). Here the
description names what the client sent and what can be wrong with it:

- a secret was sent (HTTP Basic or ``client_secret_post``): the secret is wrong, *or* no client
  has that id;
- none was sent: no client has that id, *or* the client is confidential and must send its secret;
- nothing identifies a client at all: say how to.

Unknown id and wrong secret get the same words on purpose. RFC 6749 §2.2 makes a client id no
secret, but a confidential (back-end) client's id need never reach a browser, and a token
endpoint that answered "unknown client" and "wrong secret" differently would let anyone list
which ids exist before guessing at their secrets. Saying both causes costs a developer nothing:
the id is in their own configuration. The status is always 401 with ``WWW-Authenticate: Basic``
(§5.2: MUST when the client used HTTP Basic, MAY otherwise).
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import InvalidClientError

WRONG_SECRET = "Client authentication failed: the client_secret is wrong, or no client has this client_id."
NO_SECRET = (
    "Client authentication failed: no client has this client_id, or it is a confidential client "
    "that must send its client_secret (HTTP Basic or client_secret_post)."
)
NO_CLIENT = (
    "Client authentication failed: send the client's credentials (HTTP Basic or client_secret_post), "
    "or client_id for a public client."
)


def _sent_basic(request: Any) -> bool:
    header = str(request.headers.get("Authorization") or "")
    return header.partition(" ")[0].lower() == "basic"


def named_failure(request: Any, failure: InvalidClientError) -> InvalidClientError:
    """``failure`` again, its description naming what can be wrong with what the client sent."""
    form = request.form
    if _sent_basic(request) or form.get("client_secret"):
        description = WRONG_SECRET
    elif form.get("client_id") or request.payload.client_id:
        description = NO_SECRET
    else:
        description = NO_CLIENT
    # Always 401 (§5.2 allows it for every invalid_client), so the status tells no cause apart
    # either (authlib answers an unknown id sent in the body with 400, a wrong secret with 401).
    return InvalidClientError(description=description, status_code=401, state=failure.state)
