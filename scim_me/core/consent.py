"""Kantara consent receipts (KI-CR-v1.1.0) as WSO2's consent-management API shows them.

Pure: the storage layer hands over plain records, this module decides the receipt's effective
state (ACTIVE, REVOKED, or EXPIRED once its expiry has passed), builds the wire documents
(wso2-api.md §7.1) and the entity tags, and names the errors. Nothing here knows about Flask or
the database.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Any

from scim_me.errors import CM
from scim_me.errors import ApiError

RECEIPT_VERSION = "KI-CR-v1.1.0"
ACTIVE = "ACTIVE"
REVOKED = "REVOKED"
EXPIRED = "EXPIRED"
STATES = (ACTIVE, REVOKED, EXPIRED)

# Scopes of the consent administrators (WSO2 identity.xml.j2: POST needs _add, DELETE _delete).
ADD_SCOPE = "internal_consent_mgt_add"
DELETE_SCOPE = "internal_consent_mgt_delete"
# Beyond WSO2: lets an administrator list and read another user's receipts.
VIEW_SCOPE = "internal_consent_mgt_view"


@dataclass(frozen=True)
class PiiCategory:
    id: int
    name: str
    description: str
    display_name: str | None
    sensitive: bool


@dataclass(frozen=True)
class PurposeCategory:
    id: int
    name: str
    description: str


@dataclass(frozen=True)
class PurposePii:
    category: PiiCategory
    mandatory: bool


@dataclass(frozen=True)
class Purpose:
    id: int
    name: str
    description: str
    group: str
    group_type: str
    pii_categories: tuple[PurposePii, ...]


@dataclass(frozen=True)
class ConsentedPii:
    category: PiiCategory
    validity: str


@dataclass(frozen=True)
class ConsentedPurpose:
    purpose: Purpose
    categories: tuple[PurposeCategory, ...]
    consent_type: str
    pii: tuple[ConsentedPii, ...]
    primary_purpose: bool
    termination: str
    third_party_disclosure: bool
    third_party_name: str | None


@dataclass(frozen=True)
class ConsentedService:
    service: str
    display_name: str | None
    description: str | None
    tenant_domain: str
    purposes: tuple[ConsentedPurpose, ...]


@dataclass(frozen=True)
class Receipt:
    id: str
    user_id: str
    pii_principal_id: str
    tenant_domain: str
    collection_method: str
    jurisdiction: str
    language: str
    policy_url: str
    state: str  # as stored: ACTIVE or REVOKED
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    version: int
    properties: tuple[tuple[str, str], ...]
    services: tuple[ConsentedService, ...]


@dataclass(frozen=True)
class ReceiptSummary:
    """What one item of ``GET /consents`` shows: the receipt's own fields and its first service."""

    id: str
    pii_principal_id: str
    tenant_domain: str
    language: str
    state: str  # as stored: ACTIVE or REVOKED
    expires_at: datetime | None
    first_service: str | None
    first_display_name: str | None
    first_description: str | None


def epoch_ms(value: datetime) -> int:
    """Naive UTC (the stored form) to epoch milliseconds."""
    return int(value.replace(tzinfo=UTC).timestamp() * 1000)


def from_epoch_ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC).replace(tzinfo=None)


def effective_state(receipt: Receipt | ReceiptSummary, now: datetime) -> str:
    """REVOKED stays REVOKED; an ACTIVE receipt past its expiry reports EXPIRED."""
    if receipt.state == ACTIVE and receipt.expires_at is not None and receipt.expires_at <= now:
        return EXPIRED
    return receipt.state


def pii_category_document(category: PiiCategory) -> dict[str, Any]:
    return {
        "piiCategoryId": category.id,
        "piiCategory": category.name,
        "description": category.description,
        "displayName": category.display_name,
        "sensitive": category.sensitive,
    }


def purpose_category_document(category: PurposeCategory) -> dict[str, Any]:
    return {"purposeCategoryId": category.id, "purposeCategory": category.name, "description": category.description}


def purpose_summary(purpose: Purpose) -> dict[str, Any]:
    return {
        "purposeId": purpose.id,
        "purpose": purpose.name,
        "description": purpose.description,
        "group": purpose.group,
        "groupType": purpose.group_type,
    }


def purpose_document(purpose: Purpose) -> dict[str, Any]:
    body = purpose_summary(purpose)
    body["piiCategories"] = [
        {**pii_category_document(link.category), "mandatory": link.mandatory} for link in purpose.pii_categories
    ]
    return body


def _purpose_in_receipt(item: ConsentedPurpose) -> dict[str, Any]:
    return {
        "purpose": item.purpose.name,
        "purposeId": item.purpose.id,
        "purposeCategory": [category.name for category in item.categories],
        "consentType": item.consent_type,
        "piiCategory": [
            {
                "piiCategoryName": pii.category.name,
                "piiCategoryId": pii.category.id,
                "validity": pii.validity,
                "piiCategoryDisplayName": pii.category.display_name or pii.category.name,
            }
            for pii in item.pii
        ],
        "primaryPurpose": item.primary_purpose,
        "termination": item.termination,
        "thirdPartyDisclosure": item.third_party_disclosure,
        "thirdPartyName": item.third_party_name or "",
    }


def receipt_document(receipt: Receipt, now: datetime) -> dict[str, Any]:
    """The full ConsentReceipt (``GET /consents/receipts/{id}``)."""
    sensitive = sorted(
        {
            pii.category.name
            for service in receipt.services
            for purpose in service.purposes
            for pii in purpose.pii
            if pii.category.sensitive
        }
    )
    body: dict[str, Any] = {
        "version": RECEIPT_VERSION,
        "jurisdiction": receipt.jurisdiction,
        "consentTimestamp": epoch_ms(receipt.created_at),
        "collectionMethod": receipt.collection_method,
        "consentReceiptID": receipt.id,
        "publicKey": None,
        "language": receipt.language,
        "piiPrincipalId": receipt.pii_principal_id,
        "tenantDomain": receipt.tenant_domain,
        "state": effective_state(receipt, now),
        "piiControllers": [],
        "policyUrl": receipt.policy_url,
        "services": [
            {
                "service": service.service,
                "serviceDisplayName": service.display_name,
                "serviceDescription": service.description,
                "tenantDomain": service.tenant_domain,
                "purposes": [_purpose_in_receipt(item) for item in service.purposes],
            }
            for service in receipt.services
        ],
        "sensitive": bool(sensitive),
        "spiCat": sensitive,
    }
    # Beyond WSO2 (documented in docs/privacy.md): the expiry, the revocation time, the properties.
    if receipt.expires_at is not None:
        body["expiryTime"] = epoch_ms(receipt.expires_at)
    if receipt.revoked_at is not None:
        body["revokedTimestamp"] = epoch_ms(receipt.revoked_at)
    if receipt.properties:
        body["properties"] = [{"key": key, "value": value} for key, value in receipt.properties]
    return body


def receipt_summary(receipt: ReceiptSummary, now: datetime) -> dict[str, Any]:
    """One item of ``GET /consents`` (note the spelling ``consentReceiptID`` there)."""
    listed = receipt.first_service is not None
    body: dict[str, Any] = {
        "consentReceiptID": receipt.id,
        "language": receipt.language,
        "piiPrincipalId": receipt.pii_principal_id,
        "tenantDomain": receipt.tenant_domain,
        "state": effective_state(receipt, now),
        "spDisplayName": (receipt.first_display_name or receipt.first_service) if listed else None,
        "spDescription": receipt.first_description if listed else None,
    }
    if receipt.expires_at is not None:
        body["expiryTime"] = epoch_ms(receipt.expires_at)
    return body


def entity_tag(document: Any) -> str:
    """A strong entity tag over the canonical JSON of what a GET returns: it changes exactly when
    the representation does (a revoke, an expiry passing)."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return '"' + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32] + '"'


# --- errors (wso2-api.md §7.1: CM_ codes; the CM_6xxxx ones are scim-me's, see docs/privacy.md) ---


INVALID = CM.kind("60001", "Invalid request")
# A receipt naming PII categories its purpose does not declare / leaving out mandatory ones.
UNDECLARED_PII = CM.kind("60002", "Invalid request")
MANDATORY_PII_MISSING = CM.kind("60003", "Invalid request")
_CODES_NOT_FOUND = {"purpose": "00024", "purpose category": "00027", "PII category": "00035", "receipt": "00068"}


def not_found(kind: str, identifier: object, *, status: int = 404) -> ApiError:
    return CM.error(
        _CODES_NOT_FOUND[kind],
        f"No {kind} with id {identifier} was found.",
        status=status,
        message=f"Invalid {kind} id",
    )


def unknown_reference(kind: str, identifier: object) -> ApiError:
    """An id in a request body that names nothing in this tenant: the request is wrong (400),
    with WSO2's code for the kind of id."""
    return not_found(kind, identifier, status=400)


def already_exists(kind: str, name: str) -> ApiError:
    codes = {"purpose": "00022", "purpose category": "00029", "PII category": "00032"}
    return CM.error(
        codes[kind], f"A {kind} named {name!r} already exists.", status=409, message=f"{kind.capitalize()} exists"
    )


def in_use(kind: str, identifier: object, used_by: str) -> ApiError:
    return CM.error(
        "60409",
        f"The {kind} {identifier} is used by {used_by} and cannot be deleted.",
        status=409,
        message=f"{kind.capitalize()} in use",
    )


NOT_AUTHORIZED = CM.kind("00076", "Not authorized", 403)


def no_user() -> ApiError:
    return CM.error(
        "00075", "This operation needs a token issued to a user (a piiPrincipalId).", status=403, message="No user"
    )


def precondition_failed(current: str) -> ApiError:
    return CM.error(
        "60412",
        "The resource has changed since the version given in If-Match.",
        status=412,
        message="Precondition Failed",
        headers={"ETag": current},
    )
