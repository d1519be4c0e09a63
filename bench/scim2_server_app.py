"""The comparison point of bench/run.py: scim2-server (the python-scim reference server) serving
``/v2/Me`` of one user from its in-memory storage, behind the same gunicorn command as scim-me.

It runs in its own virtualenv (bench/.work/scim2-venv, from bench/scim2-server.txt), never in
the project's: ``gunicorn bench.scim2_server_app:app`` from the repository root. Each worker
seeds the same user under the same id, so ``/Me`` answers alike whichever worker serves it; the
one static bearer token stands for that user, as scim2-server's own test server accepts one.
"""

from __future__ import annotations

from typing import Any

from scim2_models import User
from scim2_server.memory import InMemoryStorage
from scim2_server.service import ScimService
from scim2_server.testserver.application import BearerTokenApplication
from scim2_server.utils import load_default_provider

TOKEN = "scim2-server-bench-token"  # a local benchmark's static token
USER_ID = "5f0c1c8e6a8d4d0e9a573b1d2c4e5f60"
# The same profile as bench/bare_app.py's body and scim-me's bench user.
PROFILE: dict[str, Any] = {
    "userName": "bench",
    "name": {"givenName": "Bench", "familyName": "Mark"},
    "nickName": "bench",
    "emails": [{"value": "bench@example.com", "primary": True}],
}


class _FixedIdStorage(InMemoryStorage):
    def generate_id(self, resource_type: Any, resource: Any) -> str:
        return USER_ID


class _MeService(ScimService):
    """``/Me`` is the seeded user for the one accepted token (RFC 7644 §3.11)."""

    def me_target(self, request: Any) -> tuple[Any, str]:
        return self.resource_type_at("Users"), USER_ID


def build() -> BearerTokenApplication:
    provider = load_default_provider()
    storage = _FixedIdStorage()
    service = _MeService(provider, secret="scim2-server-bench")
    application = BearerTokenApplication(storage, provider, service=service, bearer_tokens=[TOKEN])
    with storage.operation():
        storage.create(service.resource_type_at("Users"), User.model_validate(PROFILE))
    return application


app = build()
