"""Assembles the OpenAPI 3.1 document from every family's ``OPERATIONS`` (spec.py explains the
pieces). The tenant is a server, not a path parameter: every path exists bare (the default
tenant) and under ``/t/{tenant}``, so the paths are written once and ``servers`` names the
prefix; the document served under ``/t/acme/`` names ``{base}/t/acme`` as its only server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from scim_me.core.schemas import SchemaRegistry
from scim_me.openapi import account
from scim_me.openapi import admin
from scim_me.openapi import alerts
from scim_me.openapi import consent
from scim_me.openapi import groups
from scim_me.openapi import oauth
from scim_me.openapi import operator
from scim_me.openapi import pages
from scim_me.openapi import recovery
from scim_me.openapi import scim
from scim_me.openapi import tenant_rules
from scim_me.openapi import webauthn
from scim_me.openapi.spec import ERROR_SCHEMAS
from scim_me.openapi.spec import Operation
from scim_me.openapi.spec import error_responses
from scim_me.openapi.spec import security_schemes
from scim_me.openapi.spec import to_path_item

VERSION = "0.1.0"
DESCRIPTION = """\
A self-service identity API, wire-compatible with WSO2 Identity Server and Asgardeo: SCIM 2.0
`/scim2/Me` (RFC 7643/7644), WSO2's My Account REST APIs, and an OAuth 2.0 / OpenID Connect issuer.

**Tenants.** Every path exists bare (the default tenant) and under `/t/{tenant}/`; pick the tenant
with the server URL. Each tenant has its own users, clients and signing keys.

**Error dialects.** SCIM endpoints answer RFC 7644 §3.12 errors (`status` a string, `scimType`),
the WSO2 REST APIs `{code, message, description, traceId}`, the OAuth endpoints RFC 6749 §5.2.

**Dialects.** A `wso2` tenant answers WSO2's shapes (plain-string emails, `/Schemas` as a bare
array, 501 for an unknown schema), an `rfc` tenant the RFCs'. Both are in this document.

Every endpoint also answers `OPTIONS` (CORS preflight, WSO2 semantics).
"""


def families() -> Iterator[Operation]:
    for module in (
        scim,
        admin,
        groups,
        oauth,
        account,
        webauthn,
        alerts,
        tenant_rules,
        recovery,
        consent,
        operator,
        pages,
    ):
        yield from module.OPERATIONS


def schema_name(schema: Any) -> str:
    """Component name of an endpoint's marshmallow schema: its blueprint module and class
    (``api/account.py`` ChangePasswordRequest → ``AccountChangePasswordRequest``), so two APIs'
    ``ResendRequest`` never collide."""
    cls = schema if isinstance(schema, type) else type(schema)
    module = cls.__module__.rsplit(".", 1)[-1]
    prefix = "".join(part.capitalize() for part in module.split("_"))
    return prefix + cls.__name__.removesuffix("Schema")


def build_document(registry: SchemaRegistry, *, servers: list[dict[str, Any]], base: str) -> dict[str, Any]:
    """The document for ``servers``; ``base`` is the tenant root the OAuth flows' URLs name."""
    spec = APISpec(
        title="scim-me",
        version=VERSION,
        openapi_version="3.1.0",
        plugins=[MarshmallowPlugin(schema_name_resolver=schema_name)],
        info={"description": DESCRIPTION, "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}},
        servers=servers,
    )
    for name, schema in {
        **ERROR_SCHEMAS,
        **scim.schemas(registry),
        **oauth.schemas(),
        **account.schemas(),
        **alerts.schemas(),
        **consent.schemas(),
        **admin.schemas(),
        **groups.schemas(),
        **recovery.schemas(),
        **tenant_rules.schemas(),
        **webauthn.schemas(),
    }.items():
        spec.components.schema(name, schema)
    for name, response in error_responses().items():
        spec.components.response(name, response)
    for name, scheme in security_schemes(base).items():
        spec.components.security_scheme(name, scheme)
    for tag in dict.fromkeys(op.tag for op in families()):
        spec.tag({"name": tag})
    by_path: dict[str, dict[str, Any]] = {}
    for op in families():
        by_path.setdefault(op.path, {})[op.method.lower()] = to_path_item(op)
    for path in sorted(by_path):
        spec.path(path=path, operations=by_path[path])
    return spec.to_dict()
