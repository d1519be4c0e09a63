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

import numbers
from typing import Any

from flask import Blueprint
from flask import Response
from flask import request
from marshmallow import EXCLUDE
from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate

from scim_me.core import consent as core
from scim_me.core.consent import ADD_SCOPE
from scim_me.core.consent import DELETE_SCOPE
from scim_me.core.consent import VIEW_SCOPE
from scim_me.core.consent import Receipt
from scim_me.storage import consent_mgt as store
from scim_me.storage.users import find_user
from scim_me.storage.users import now
from scim_me.storage.users import user_name_key
from scim_me.web.context import base_url
from scim_me.web.principal import Principal
from scim_me.web.rest import caller
from scim_me.web.rest import conditional_get
from scim_me.web.rest import empty
from scim_me.web.rest import if_match_fails
from scim_me.web.rest import is_self_service
from scim_me.web.rest import json_body
from scim_me.web.rest import json_response
from scim_me.web.rest import paging
from scim_me.web.rest import record
from scim_me.web.sections import register_export_section

PREFIX = "/api/identity/consent-mgt/v1.0"
bp = Blueprint("consent_mgt", __name__, url_prefix=PREFIX)

NAME = validate.Length(min=1, max=255)
SHORT = validate.Length(max=255)
TEXT = validate.Length(max=4096)


class StrictInteger(fields.Integer):
    """An integer given as a JSON number (no strings, no booleans, no fractions)."""

    def _validated(self, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise self.make_error("invalid")
        return super()._validated(value)


class StrictBoolean(fields.Boolean):
    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class StrictString(fields.String):
    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        return value


class _Base(Schema):
    class Meta:
        unknown = EXCLUDE  # WSO2 ignores members it does not know; so do we


class PiiConsentSchema(_Base):
    piiCategoryId = StrictInteger(required=True, validate=validate.Range(min=1))
    validity = StrictString(load_default="DATE_UNTIL:INDEFINITE", validate=SHORT)


class PurposeConsentSchema(_Base):
    purposeId = StrictInteger(required=True, validate=validate.Range(min=1))
    purposeCategoryId = fields.List(StrictInteger(validate=validate.Range(min=1)), required=True)
    consentType = StrictString(required=True, validate=validate.Length(min=1, max=64))
    piiCategory = fields.List(fields.Nested(PiiConsentSchema), required=True)
    primaryPurpose = StrictBoolean(required=True)
    termination = StrictString(required=True, validate=SHORT)
    thirdPartyDisclosure = StrictBoolean(required=True)
    thirdPartyName = StrictString(allow_none=True, load_default=None, validate=SHORT)


class ServiceConsentSchema(_Base):
    service = StrictString(required=True, validate=NAME)
    serviceDisplayName = StrictString(allow_none=True, load_default=None, validate=SHORT)
    serviceDescription = StrictString(allow_none=True, load_default=None, validate=TEXT)
    tenantDomain = StrictString(allow_none=True, load_default=None, validate=SHORT)
    purposes = fields.List(fields.Nested(PurposeConsentSchema), required=True, validate=validate.Length(min=1))


class PropertySchema(_Base):
    key = StrictString(required=True, validate=NAME)
    value = StrictString(required=True, validate=TEXT)


class ConsentRequestSchema(_Base):
    services = fields.List(fields.Nested(ServiceConsentSchema), required=True, validate=validate.Length(min=1, max=50))
    collectionMethod = StrictString(required=True, validate=NAME)
    jurisdiction = StrictString(required=True, validate=NAME)
    language = StrictString(required=True, validate=validate.Length(min=1, max=64))
    policyURL = StrictString(required=True, validate=validate.Length(min=1, max=2048))
    properties = fields.List(fields.Nested(PropertySchema), load_default=list)
    # Beyond WSO2: when the consent ends (epoch milliseconds); the receipt then reports EXPIRED.
    expiryTime = StrictInteger(allow_none=True, load_default=None, validate=validate.Range(min=1))


class PurposePiiSchema(_Base):
    piiCategoryId = StrictInteger(required=True, validate=validate.Range(min=1))
    mandatory = StrictBoolean(load_default=False)


class PurposeRequestSchema(_Base):
    purpose = StrictString(required=True, validate=NAME)
    description = StrictString(load_default="", validate=TEXT)
    group = StrictString(load_default="DEFAULT", validate=NAME)
    groupType = StrictString(load_default="SYSTEM", validate=NAME)
    piiCategories = fields.List(fields.Nested(PurposePiiSchema), load_default=list)


class PurposeCategoryRequestSchema(_Base):
    purposeCategory = StrictString(required=True, validate=NAME)
    description = StrictString(load_default="", validate=TEXT)


class PiiCategoryRequestSchema(_Base):
    piiCategory = StrictString(required=True, validate=NAME)
    description = StrictString(load_default="", validate=TEXT)
    displayName = StrictString(allow_none=True, load_default=None, validate=SHORT)
    sensitive = StrictBoolean(load_default=False)


def _flatten(messages: Any, path: str = "") -> list[str]:
    if isinstance(messages, dict):
        out: list[str] = []
        for key, value in messages.items():
            out += _flatten(value, f"{path}.{key}" if path else str(key))
        return out
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [f"{path or 'body'}: {' '.join(messages)}"]
    if isinstance(messages, list):
        return [line for item in messages for line in _flatten(item, path)]
    return [f"{path or 'body'}: {messages}"]


def _load(schema: Schema) -> dict[str, Any]:
    body = json_body(core.bad_request)
    if not isinstance(body, dict):
        raise core.bad_request("The request body must be a JSON object.")
    try:
        loaded: dict[str, Any] = schema.load(body)
    except ValidationError as exc:
        problems = _flatten(exc.messages)
        raise core.bad_request("Invalid request: " + "; ".join(problems[:10])) from exc
    return loaded


def _require(principal: Principal, scope: str, action: str) -> None:
    if scope not in principal.scopes:
        raise core.not_authorized(f"{action} needs the {scope} scope.")


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
            raise core.bad_request("expiryTime must be in the future (epoch milliseconds).")
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
        raise core.not_authorized("Recording a consent needs a user token with the internal_login scope.")
    body = _load(ConsentRequestSchema())
    receipt_id, replaced = store.add_receipt(
        principal.tenant.id,
        principal.user_id,
        principal.user.user_name,
        _to_new_receipt(body, principal.tenant.name),
    )
    services = [s["service"] for s in body["services"]]
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
            raise core.not_authorized("Listing consents needs the internal_login scope.")
        return principal.user_id
    if VIEW_SCOPE not in principal.scopes:
        raise core.not_authorized(f"Listing another user's consents needs the {VIEW_SCOPE} scope.")
    found = find_user(principal.tenant.id, named)
    return found.id if found else None


@bp.get("/consents")
def list_consents() -> Response:
    principal = caller()
    limit, offset = paging(core.bad_request)
    state = request.args.get("state")
    if state is not None:
        state = state.upper()
        if state not in core.STATES:
            raise core.bad_request(f"'state' must be one of {', '.join(core.STATES)}.")
    subject = _subject_of_listing(principal)
    if subject is None:
        return json_response([])
    receipts = store.list_receipts(
        principal.tenant.id,
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
        changed = store.revoke_receipt(principal.tenant.id, receipt.id, expected_version=receipt.version)
        if changed:
            record(principal, receipt.user_id, "consent.revoked", receiptId=receipt.id)
        elif request.headers.get("If-Match") not in (None, "*"):
            # Changed between our read and our write: the version the client named is gone.
            current = store.get_receipt(principal.tenant.id, receipt.id)
            assert current is not None
            raise core.precondition_failed(core.entity_tag(core.receipt_document(current, now())))
    # Revoking a revoked receipt changes nothing and succeeds (DELETE is idempotent, RFC 9110 §9.2.2).
    return empty(200)


# ------------------------------------------------------------------------------- metadata


@bp.get("/consents/purposes")
def list_purposes() -> Response:
    principal = caller()
    limit, offset = paging(core.bad_request)
    purposes = store.list_purposes(
        principal.tenant.id, limit, offset, request.args.get("group"), request.args.get("groupType")
    )
    return json_response([core.purpose_summary(p) for p in purposes])


@bp.post("/consents/purposes")
def add_purpose() -> Response:
    principal = caller()
    _require(principal, ADD_SCOPE, "Adding a purpose")
    body = _load(PurposeRequestSchema())
    purpose = store.create_purpose(
        principal.tenant.id,
        body["purpose"],
        body["description"],
        body["group"],
        body["groupType"],
        [(item["piiCategoryId"], item["mandatory"]) for item in body["piiCategories"]],
    )
    document = core.purpose_document(purpose)
    headers = {"Location": _location(f"/consents/purposes/{purpose.id}"), "ETag": core.entity_tag(document)}
    return json_response(document, 200, headers=headers)


@bp.get("/consents/purposes/<raw_id>")
def get_purpose(raw_id: str) -> Response:
    principal = caller()
    purpose = store.get_purpose(principal.tenant.id, _metadata_id(raw_id, "purpose"))
    if purpose is None:
        raise core.not_found("purpose", raw_id)
    document = core.purpose_document(purpose)
    return conditional_get(document, core.entity_tag(document))


@bp.delete("/consents/purposes/<raw_id>")
def delete_purpose(raw_id: str) -> Response:
    principal = caller()
    _require(principal, DELETE_SCOPE, "Deleting a purpose")
    purpose = store.get_purpose(principal.tenant.id, _metadata_id(raw_id, "purpose"))
    if purpose is None:
        raise core.not_found("purpose", raw_id)
    tag = core.entity_tag(core.purpose_document(purpose))
    if if_match_fails(tag):
        raise core.precondition_failed(tag)
    store.delete_purpose(principal.tenant.id, purpose.id)
    return empty(200)


@bp.get("/consents/purpose-categories")
def list_purpose_categories() -> Response:
    principal = caller()
    limit, offset = paging(core.bad_request)
    categories = store.list_purpose_categories(principal.tenant.id, limit, offset)
    return json_response([core.purpose_category_document(c) for c in categories])


@bp.post("/consents/purpose-categories")
def add_purpose_category() -> Response:
    principal = caller()
    _require(principal, ADD_SCOPE, "Adding a purpose category")
    body = _load(PurposeCategoryRequestSchema())
    category = store.create_purpose_category(principal.tenant.id, body["purposeCategory"], body["description"])
    document = core.purpose_category_document(category)
    headers = {
        "Location": _location(f"/consents/purpose-categories/{category.id}"),
        "ETag": core.entity_tag(document),
    }
    return json_response(document, 200, headers=headers)


@bp.get("/consents/purpose-categories/<raw_id>")
def get_purpose_category(raw_id: str) -> Response:
    principal = caller()
    category = store.get_purpose_category(principal.tenant.id, _metadata_id(raw_id, "purpose category"))
    if category is None:
        raise core.not_found("purpose category", raw_id)
    document = core.purpose_category_document(category)
    return conditional_get(document, core.entity_tag(document))


@bp.delete("/consents/purpose-categories/<raw_id>")
def delete_purpose_category(raw_id: str) -> Response:
    principal = caller()
    _require(principal, DELETE_SCOPE, "Deleting a purpose category")
    category = store.get_purpose_category(principal.tenant.id, _metadata_id(raw_id, "purpose category"))
    if category is None:
        raise core.not_found("purpose category", raw_id)
    tag = core.entity_tag(core.purpose_category_document(category))
    if if_match_fails(tag):
        raise core.precondition_failed(tag)
    store.delete_purpose_category(principal.tenant.id, category.id)
    return empty(200)


@bp.get("/consents/pii-categories")
def list_pii_categories() -> Response:
    principal = caller()
    limit, offset = paging(core.bad_request)
    categories = store.list_pii_categories(principal.tenant.id, limit, offset)
    return json_response([core.pii_category_document(c) for c in categories])


@bp.post("/consents/pii-categories")
def add_pii_category() -> Response:
    principal = caller()
    _require(principal, ADD_SCOPE, "Adding a PII category")
    body = _load(PiiCategoryRequestSchema())
    category = store.create_pii_category(
        principal.tenant.id, body["piiCategory"], body["description"], body["displayName"], body["sensitive"]
    )
    document = core.pii_category_document(category)
    headers = {"Location": _location(f"/consents/pii-categories/{category.id}"), "ETag": core.entity_tag(document)}
    return json_response(document, 201, headers=headers)


@bp.get("/consents/pii-categories/<raw_id>")
def get_pii_category(raw_id: str) -> Response:
    principal = caller()
    category = store.get_pii_category(principal.tenant.id, _metadata_id(raw_id, "PII category"))
    if category is None:
        raise core.not_found("PII category", raw_id)
    document = core.pii_category_document(category)
    return conditional_get(document, core.entity_tag(document))


@bp.delete("/consents/pii-categories/<raw_id>")
def delete_pii_category(raw_id: str) -> Response:
    principal = caller()
    _require(principal, DELETE_SCOPE, "Deleting a PII category")
    category = store.get_pii_category(principal.tenant.id, _metadata_id(raw_id, "PII category"))
    if category is None:
        raise core.not_found("PII category", raw_id)
    tag = core.entity_tag(core.pii_category_document(category))
    if if_match_fails(tag):
        raise core.precondition_failed(tag)
    store.delete_pii_category(principal.tenant.id, category.id)
    return empty(200)


def _export_consents(tenant_id: int, user_id: str) -> list[dict[str, Any]]:
    at = now()
    return [core.receipt_document(r, at) for r in store.all_receipts(tenant_id, user_id)]


register_export_section("consents", _export_consents)
