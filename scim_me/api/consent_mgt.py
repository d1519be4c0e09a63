"""WSO2's consent-management API v1.0 (wso2-api.md §7.1) under
``/api/identity/consent-mgt/v1.0`` (``/t/{tenant}/...`` and bare).

- Receipts (``/consents``, ``/consents/receipts/{id}``): the caller's own, with ``internal_login``;
  another user's receipt is 404, never readable or revocable. Administrators may name another
  ``piiPrincipalId`` with ``internal_consent_mgt_view`` (list, read) or revoke with
  ``internal_consent_mgt_delete``.
- Metadata (purposes, purpose categories, PII categories): GET for any authenticated caller,
  POST with ``internal_consent_mgt_add``, DELETE with ``internal_consent_mgt_delete``.
- Beyond WSO2: strong ETags on every single resource, ``If-None-Match`` (304) and ``If-Match``
  (412) on reads and deletes; receipts may carry ``expiryTime`` (epoch ms) and then report
  EXPIRED.

Status codes follow WSO2's implementation, not its spec: POST /consents, /purposes and
/purpose-categories answer 200, POST /pii-categories 201, each with ``Location``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from typing import Generic
from typing import Protocol
from typing import TypeVar

from flask import Blueprint
from flask import Response
from flask import request
from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from scim_me.core import consent as core
from scim_me.core.consent import ADD_SCOPE
from scim_me.core.consent import DELETE_SCOPE
from scim_me.core.consent import VIEW_SCOPE
from scim_me.core.consent import Receipt
from scim_me.storage import consent_mgt as store
from scim_me.storage.db import write_transaction
from scim_me.storage.users import find_user
from scim_me.storage.users import now
from scim_me.storage.users import user_name_key
from scim_me.web.bodies import Body
from scim_me.web.bodies import StrictBoolean
from scim_me.web.bodies import StrictInteger
from scim_me.web.bodies import StrictString
from scim_me.web.bodies import Wso2Body
from scim_me.web.bodies import every_problem
from scim_me.web.bodies import read_body
from scim_me.web.context import base_url
from scim_me.web.principal import Principal
from scim_me.web.rest import caller
from scim_me.web.rest import conditional_get
from scim_me.web.rest import empty
from scim_me.web.rest import if_match_fails
from scim_me.web.rest import is_self_service
from scim_me.web.rest import json_response
from scim_me.web.rest import paging
from scim_me.web.rest import record
from scim_me.web.sections import register_export_section


class _HasId(Protocol):
    @property
    def id(self) -> int: ...


Item = TypeVar("Item", bound=_HasId)

PREFIX = "/api/identity/consent-mgt/v1.0"
bp = Blueprint("consent_mgt", __name__, url_prefix=PREFIX)

NAME = validate.Length(min=1, max=255)
SHORT = validate.Length(max=255)
TEXT = validate.Length(max=4096)


class PiiConsentSchema(Body):
    piiCategoryId = StrictInteger(required=True, validate=validate.Range(min=1))
    validity = StrictString(load_default="DATE_UNTIL:INDEFINITE", validate=SHORT)


class PurposeConsentSchema(Body):
    purposeId = StrictInteger(required=True, validate=validate.Range(min=1))
    purposeCategoryId = fields.List(StrictInteger(validate=validate.Range(min=1)), required=True)
    consentType = StrictString(required=True, validate=validate.Length(min=1, max=64))
    piiCategory = fields.List(fields.Nested(PiiConsentSchema), required=True)
    primaryPurpose = StrictBoolean(required=True)
    termination = StrictString(required=True, validate=SHORT)
    thirdPartyDisclosure = StrictBoolean(required=True)
    thirdPartyName = StrictString(allow_none=True, load_default=None, validate=SHORT)


class ServiceConsentSchema(Body):
    service = StrictString(required=True, validate=NAME)
    serviceDisplayName = StrictString(allow_none=True, load_default=None, validate=SHORT)
    serviceDescription = StrictString(allow_none=True, load_default=None, validate=TEXT)
    tenantDomain = StrictString(allow_none=True, load_default=None, validate=SHORT)
    purposes = fields.List(fields.Nested(PurposeConsentSchema), required=True, validate=validate.Length(min=1))


class PropertySchema(Body):
    key = StrictString(required=True, validate=NAME)
    value = StrictString(required=True, validate=TEXT)


class ConsentRequestSchema(Body):
    services = fields.List(fields.Nested(ServiceConsentSchema), required=True, validate=validate.Length(min=1, max=50))
    collectionMethod = StrictString(required=True, validate=NAME)
    jurisdiction = StrictString(required=True, validate=NAME)
    language = StrictString(required=True, validate=validate.Length(min=1, max=64))
    policyURL = StrictString(required=True, validate=validate.Length(min=1, max=2048))
    properties = fields.List(fields.Nested(PropertySchema), load_default=list)
    # Beyond WSO2: when the consent ends (epoch milliseconds); the receipt then reports EXPIRED.
    expiryTime = StrictInteger(allow_none=True, load_default=None, validate=validate.Range(min=1))


class PurposePiiSchema(Body):
    piiCategoryId = StrictInteger(required=True, validate=validate.Range(min=1))
    mandatory = StrictBoolean(load_default=False)


class PurposeRequestSchema(Body):
    purpose = StrictString(required=True, validate=NAME)
    description = StrictString(load_default="", validate=TEXT)
    group = StrictString(load_default="DEFAULT", validate=NAME)
    groupType = StrictString(load_default="SYSTEM", validate=NAME)
    piiCategories = fields.List(fields.Nested(PurposePiiSchema), load_default=list)


class PurposeCategoryRequestSchema(Body):
    purposeCategory = StrictString(required=True, validate=NAME)
    description = StrictString(load_default="", validate=TEXT)


class PiiCategoryRequestSchema(Body):
    piiCategory = StrictString(required=True, validate=NAME)
    description = StrictString(load_default="", validate=TEXT)
    displayName = StrictString(allow_none=True, load_default=None, validate=SHORT)
    sensitive = StrictBoolean(load_default=False)


_BODY = Wso2Body(core.INVALID, describe=every_problem)


def _load(schema: Schema) -> dict[str, Any]:
    return read_body(schema, _BODY)


def _require(principal: Principal, scope: str, action: str) -> None:
    if scope not in principal.scopes:
        raise core.NOT_AUTHORIZED(f"{action} needs the {scope} scope.")


def _metadata_id(raw: str, kind: str) -> int:
    if not raw.isdigit() or len(raw) > 12:
        raise core.not_found(kind, raw)
    return int(raw)


def _location(path: str) -> str:
    return f"{base_url()}{PREFIX}{path}"


# ------------------------------------------------------------------------------- receipts


def _to_new_receipt(body: dict[str, Any], tenant_name: str) -> store.NewReceipt:
    expires = None
    if body["expiryTime"] is not None:
        expires = core.from_epoch_ms(body["expiryTime"])
        if expires <= now():
            raise core.INVALID("expiryTime must be in the future (epoch milliseconds).")
    return store.NewReceipt(
        collection_method=body["collectionMethod"],
        jurisdiction=body["jurisdiction"],
        language=body["language"],
        policy_url=body["policyURL"],
        properties=tuple((p["key"], p["value"]) for p in body["properties"]),
        expires_at=expires,
        services=tuple(
            store.NewService(
                service=s["service"],
                display_name=s["serviceDisplayName"],
                description=s["serviceDescription"],
                tenant_domain=s["tenantDomain"] or tenant_name,
                purposes=tuple(
                    store.NewPurpose(
                        purpose_id=p["purposeId"],
                        purpose_category_ids=tuple(p["purposeCategoryId"]),
                        consent_type=p["consentType"],
                        pii=tuple(store.NewPii(x["piiCategoryId"], x["validity"]) for x in p["piiCategory"]),
                        primary_purpose=p["primaryPurpose"],
                        termination=p["termination"],
                        third_party_disclosure=p["thirdPartyDisclosure"],
                        third_party_name=p["thirdPartyName"],
                    )
                    for p in s["purposes"]
                ),
            )
            for s in body["services"]
        ),
    )


def _receipt_url(receipt_id: str) -> str:
    return _location(f"/consents/receipts/{receipt_id}")


@bp.post("/consents")
def add_consent() -> Response:
    principal = caller()
    if principal.user_id is None or principal.user is None:
        raise core.no_user()
    if not is_self_service(principal):
        raise core.NOT_AUTHORIZED("Recording a consent needs a user token with the internal_login scope.")
    body = _load(ConsentRequestSchema())
    services = [s["service"] for s in body["services"]]
    # The receipts and their history together (GDPR Art. 7(1): the consent must be demonstrable).
    with write_transaction():
        receipt_id, replaced = store.add_receipt(
            principal.tenant.id,
            principal.user_id,
            principal.user.user_name,
            _to_new_receipt(body, principal.tenant.name),
        )
        for old in replaced:
            record(principal, principal.user_id, "consent.revoked", receiptId=old, replacedBy=receipt_id)
        record(principal, principal.user_id, "consent.given", receiptId=receipt_id, services=services)
    payload = {
        "consentReceiptId": receipt_id,
        "collectionMethod": body["collectionMethod"],
        "language": body["language"],
        "piiPrincipalId": principal.user.user_name,
        "tenantDomain": principal.tenant.name,
    }
    return json_response(payload, 200, headers={"Location": _receipt_url(receipt_id)})


def _subject_of_listing(principal: Principal) -> str | None:
    """Whose receipts ``GET /consents`` lists: the caller's, or with the view scope the user named
    by ``piiPrincipalId``; None when that user does not exist."""
    named = request.args.get("piiPrincipalId")
    own = principal.user.user_name if principal.user is not None else None
    if named is None or (own is not None and user_name_key(named) == user_name_key(own)):
        if principal.user_id is None:
            raise core.no_user()
        if not is_self_service(principal) and VIEW_SCOPE not in principal.scopes:
            raise core.NOT_AUTHORIZED("Listing consents needs the internal_login scope.")
        return principal.user_id
    if VIEW_SCOPE not in principal.scopes:
        raise core.NOT_AUTHORIZED(f"Listing another user's consents needs the {VIEW_SCOPE} scope.")
    found = find_user(principal.tenant.id, named)
    return found.id if found else None


@bp.get("/consents")
def list_consents() -> Response:
    principal = caller()
    limit, offset = paging(core.INVALID)
    state = request.args.get("state")
    if state is not None:
        state = state.upper()
        if state not in core.STATES:
            raise core.INVALID(f"'state' must be one of {', '.join(core.STATES)}.")
    subject = _subject_of_listing(principal)
    if subject is None:
        return json_response([])
    receipts = store.list_receipt_summaries(
        principal.tenant.id,
        principal.tenant.name,
        subject,
        state=state,
        service=request.args.get("service") or None,
        sp_tenant_domain=request.args.get("spTenantDomain") or None,
        limit=limit,
        offset=offset,
    )
    at = now()
    return json_response([core.receipt_summary(r, at) for r in receipts])


def _visible_receipt(principal: Principal, receipt_id: str, admin_scope: str) -> Receipt:
    """The receipt if the caller owns it (or holds ``admin_scope``); 404 otherwise, so a receipt
    id of another user reveals nothing."""
    receipt = store.get_receipt(principal.tenant.id, receipt_id)
    if receipt is None:
        raise core.not_found("receipt", receipt_id)
    own = principal.user_id is not None and receipt.user_id == principal.user_id and is_self_service(principal)
    if not own and admin_scope not in principal.scopes:
        raise core.not_found("receipt", receipt_id)
    return receipt


@bp.get("/consents/receipts/<receipt_id>")
def get_receipt(receipt_id: str) -> Response:
    principal = caller()
    receipt = _visible_receipt(principal, receipt_id, VIEW_SCOPE)
    document = core.receipt_document(receipt, now())
    return conditional_get(document, core.entity_tag(document))


@bp.delete("/consents/receipts/<receipt_id>")
def revoke_receipt(receipt_id: str) -> Response:
    principal = caller()
    receipt = _visible_receipt(principal, receipt_id, DELETE_SCOPE)
    tag = core.entity_tag(core.receipt_document(receipt, now()))
    if if_match_fails(tag):
        raise core.precondition_failed(tag)
    if receipt.state == core.ACTIVE:
        with write_transaction():
            changed = store.revoke_receipt(principal.tenant.id, receipt.id, expected_version=receipt.version)
            if changed:
                record(principal, receipt.user_id, "consent.revoked", receiptId=receipt.id)
        if not changed and request.headers.get("If-Match") not in (None, "*"):
            # Changed between our read and our write: the version the client named is gone.
            current = store.get_receipt(principal.tenant.id, receipt.id)
            assert current is not None
            raise core.precondition_failed(core.entity_tag(core.receipt_document(current, now())))
    # Revoking a revoked receipt changes nothing and succeeds (DELETE is idempotent, RFC 9110 §9.2.2).
    return empty(200)


# ------------------------------------------------------------------------------- metadata


@dataclass(frozen=True)
class Metadata(Generic[Item]):
    """One kind of consent metadata (purposes, purpose categories, PII categories): WSO2 gives
    each the same four routes, ``GET|POST {path}`` and ``GET|DELETE {path}/{id}``."""

    kind: str  # names it in errors and scope messages ("purpose category")
    name: str  # endpoint names: list_{plural}, add_{name}, get_{name}, delete_{name}
    plural: str
    path: str
    schema: type[Schema]
    created_status: int  # WSO2's implementation: 200, but 201 for PII categories
    listing: Callable[[int, int, int], list[dict[str, Any]]]  # tenant, limit, offset → documents
    create: Callable[[int, dict[str, Any]], Item]  # tenant, loaded body → the new item
    get: Callable[[int, int], Item | None]
    delete: Callable[[int, int], None]
    document: Callable[[Item], dict[str, Any]]


def register_metadata(metadata: Metadata[Any]) -> None:
    m = metadata

    def find(principal: Principal, raw_id: str) -> Any:
        item = m.get(principal.tenant.id, _metadata_id(raw_id, m.kind))
        if item is None:
            raise core.not_found(m.kind, raw_id)
        return item

    def list_items() -> Response:
        principal = caller()
        limit, offset = paging(core.INVALID)
        return json_response(m.listing(principal.tenant.id, limit, offset))

    def add_item() -> Response:
        principal = caller()
        _require(principal, ADD_SCOPE, f"Adding a {m.kind}")
        item = m.create(principal.tenant.id, _load(m.schema()))
        document = m.document(item)
        headers = {"Location": _location(f"{m.path}/{item.id}"), "ETag": core.entity_tag(document)}
        return json_response(document, m.created_status, headers=headers)

    def get_item(raw_id: str) -> Response:
        principal = caller()
        document = m.document(find(principal, raw_id))
        return conditional_get(document, core.entity_tag(document))

    def delete_item(raw_id: str) -> Response:
        principal = caller()
        _require(principal, DELETE_SCOPE, f"Deleting a {m.kind}")
        item = find(principal, raw_id)
        tag = core.entity_tag(m.document(item))
        if if_match_fails(tag):
            raise core.precondition_failed(tag)
        m.delete(principal.tenant.id, item.id)
        return empty(200)

    bp.add_url_rule(m.path, f"list_{m.plural}", list_items, methods=["GET"])
    bp.add_url_rule(m.path, f"add_{m.name}", add_item, methods=["POST"])
    bp.add_url_rule(f"{m.path}/<raw_id>", f"get_{m.name}", get_item, methods=["GET"])
    bp.add_url_rule(f"{m.path}/<raw_id>", f"delete_{m.name}", delete_item, methods=["DELETE"])


def _list_purposes(tenant_id: int, limit: int, offset: int) -> list[dict[str, Any]]:
    group, group_type = request.args.get("group"), request.args.get("groupType")
    return [core.purpose_summary(p) for p in store.list_purposes(tenant_id, limit, offset, group, group_type)]


def _create_purpose(tenant_id: int, body: dict[str, Any]) -> core.Purpose:
    pii = [(item["piiCategoryId"], item["mandatory"]) for item in body["piiCategories"]]
    return store.create_purpose(tenant_id, body["purpose"], body["description"], body["group"], body["groupType"], pii)


register_metadata(
    Metadata(
        kind="purpose",
        name="purpose",
        plural="purposes",
        path="/consents/purposes",
        schema=PurposeRequestSchema,
        created_status=200,
        listing=_list_purposes,
        create=_create_purpose,
        get=store.get_purpose,
        delete=store.delete_purpose,
        document=core.purpose_document,
    )
)
register_metadata(
    Metadata(
        kind="purpose category",
        name="purpose_category",
        plural="purpose_categories",
        path="/consents/purpose-categories",
        schema=PurposeCategoryRequestSchema,
        created_status=200,
        listing=lambda tenant_id, limit, offset: [
            core.purpose_category_document(c) for c in store.list_purpose_categories(tenant_id, limit, offset)
        ],
        create=lambda tenant_id, body: store.create_purpose_category(
            tenant_id, body["purposeCategory"], body["description"]
        ),
        get=store.get_purpose_category,
        delete=store.delete_purpose_category,
        document=core.purpose_category_document,
    )
)
register_metadata(
    Metadata(
        kind="PII category",
        name="pii_category",
        plural="pii_categories",
        path="/consents/pii-categories",
        schema=PiiCategoryRequestSchema,
        created_status=201,
        listing=lambda tenant_id, limit, offset: [
            core.pii_category_document(c) for c in store.list_pii_categories(tenant_id, limit, offset)
        ],
        create=lambda tenant_id, body: store.create_pii_category(
            tenant_id, body["piiCategory"], body["description"], body["displayName"], body["sensitive"]
        ),
        get=store.get_pii_category,
        delete=store.delete_pii_category,
        document=core.pii_category_document,
    )
)


def _export_consents(tenant_id: int, user_id: str) -> list[dict[str, Any]]:
    at = now()
    return [core.receipt_document(r, at) for r in store.all_receipts(tenant_id, user_id)]


register_export_section("consents", _export_consents)
