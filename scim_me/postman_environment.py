"""The demo's Postman environment: ``scim-me demo seed --postman-environment FILE`` writes the
variables of postman/scim-me.postman_collection.json for the demo tenant (its URL, user, admin and
the confidential clients' ids and secrets), so Postman and ``make newman`` need nothing typed.

The file holds client secrets (demo ones): it is written owner-only, and a later seed reads the
secrets back from it instead of rotating them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

NAME = "scim-me demo (make run)"
# Postman's variable names, in the committed environment's order; True: a secret (masked in Postman).
VARIABLES: dict[str, bool] = {
    "base_url": False,
    "tenant_path": False,
    "client_id": False,
    "client_secret": True,
    "username": False,
    "password": True,
    "scope": False,
    "access_token": True,
    "refresh_token": True,
    "consent_admin_client_id": False,
    "consent_admin_client_secret": True,
    "recovery_client_id": False,
    "recovery_client_secret": True,
    "admin_username": False,
    "admin_password": True,
    "admin_client_id": False,
    "admin_client_secret": True,
}
# Which secret variable belongs to which client id variable.
CLIENT_PAIRS = {
    "client_id": "client_secret",
    "consent_admin_client_id": "consent_admin_client_secret",
    "recovery_client_id": "recovery_client_secret",
    "admin_client_id": "admin_client_secret",
}


def read_client_secrets(path: Path) -> dict[str, str]:
    """``{client_id: secret}`` from an environment file written earlier; empty when there is none
    (or it is not one of ours)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        values = {item["key"]: item["value"] for item in document["values"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {
        str(values[id_key]): str(values[secret_key])
        for id_key, secret_key in CLIENT_PAIRS.items()
        if values.get(id_key) and values.get(secret_key)
    }


def write_environment(path: Path, values: dict[str, str]) -> None:
    """Write a Postman v2.1 environment with ``values`` (missing variables empty), owner-only."""
    unknown = set(values) - set(VARIABLES)
    if unknown:
        raise ValueError(f"not variables of the collection: {sorted(unknown)}")
    document = {
        "name": NAME,
        "values": [
            {"key": key, "value": values.get(key, ""), "type": "secret" if secret else "default", "enabled": True}
            for key, secret in VARIABLES.items()
        ],
        "_postman_variable_scope": "environment",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(json.dumps(document, indent=2) + "\n")
    path.chmod(0o600)
