"""Consent-management storage: per-tenant PII categories, purpose categories and purposes
(integer ids), and the users' consent receipts with their services, purposes and PII links.

Every id is looked up inside the caller's tenant, so another tenant's metadata or receipts are
simply not found. Receipts are never deleted by the API: a revoke is a compare-and-set of
``state`` and ``version`` (so two racing revokes, or a revoke racing an ``If-Match``, cannot
both win), and the row stays as history. Metadata that a purpose or a receipt refers to is
refused deletion with a clear error; the NO ACTION foreign keys catch a race with a new
receipt.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from typing import TypeVar

import peewee

from scim_me.core import consent as core
from scim_me.core.consent import ConsentedPii
from scim_me.core.consent import ConsentedPurpose
from scim_me.core.consent import ConsentedService
from scim_me.core.consent import PiiCategory
from scim_me.core.consent import Purpose
from scim_me.core.consent import PurposeCategory
from scim_me.core.consent import PurposePii
from scim_me.core.consent import Receipt
from scim_me.storage.db import write_transaction
from scim_me.storage.models import ConsentPiiCategory
from scim_me.storage.models import ConsentPurpose
from scim_me.storage.models import ConsentPurposeCategory
from scim_me.storage.models import ConsentPurposePii
from scim_me.storage.models import ConsentReceipt
from scim_me.storage.models import ConsentReceiptPii
from scim_me.storage.models import ConsentReceiptPurpose
from scim_me.storage.models import ConsentReceiptPurposeCategory
from scim_me.storage.models import ConsentReceiptService
from scim_me.storage.models import Tenant
from scim_me.storage.users import now

# ---------------------------------------------------------------- metadata, shared


MetadataRow = TypeVar("MetadataRow", ConsentPiiCategory, ConsentPurposeCategory, ConsentPurpose)


def _page(model: type[MetadataRow], tenant_id: int, limit: int, offset: int, *where: Any) -> list[MetadataRow]:
    """A tenant's metadata rows (matching ``where``) in creation order, one page of them."""
    query = model.select().where(model.tenant == tenant_id, *where)
    rows: list[MetadataRow] = list(query.order_by(model.id).limit(limit).offset(offset))
    return rows


def _owned(model: type[MetadataRow], tenant_id: int, row_id: int) -> MetadataRow | None:
    """The row with this id if it belongs to the tenant (another tenant's id is not found)."""
    row: MetadataRow | None = model.get_or_none((model.id == row_id) & (model.tenant == tenant_id))
    return row


# ---------------------------------------------------------------- metadata: PII categories


def _pii(row: ConsentPiiCategory) -> PiiCategory:
    return PiiCategory(row.id, row.name, row.description or "", row.display_name, bool(row.sensitive))


def list_pii_categories(tenant_id: int, limit: int, offset: int) -> list[PiiCategory]:
    return [_pii(row) for row in _page(ConsentPiiCategory, tenant_id, limit, offset)]


def get_pii_category(tenant_id: int, category_id: int) -> PiiCategory | None:
    row = _owned(ConsentPiiCategory, tenant_id, category_id)
    return _pii(row) if row else None


def create_pii_category(
    tenant_id: int, name: str, description: str, display_name: str | None, sensitive: bool
) -> PiiCategory:
    try:
        with write_transaction():
            if ConsentPiiCategory.get_or_none(
                (ConsentPiiCategory.tenant == tenant_id) & (ConsentPiiCategory.name == name)
            ):
                raise core.already_exists("PII category", name)
            row = ConsentPiiCategory.create(
                tenant=tenant_id,
                name=name,
                description=description,
                display_name=display_name,
                sensitive=sensitive,
                created_at=now(),
            )
    except peewee.IntegrityError as exc:  # a concurrent create of the same name
        raise core.already_exists("PII category", name) from exc
    return _pii(row)


def delete_pii_category(tenant_id: int, category_id: int) -> None:
    with write_transaction():
        if get_pii_category(tenant_id, category_id) is None:
            raise core.not_found("PII category", category_id)
        if ConsentReceiptPii.select().where(ConsentReceiptPii.pii_category == category_id).exists():
            raise core.in_use("PII category", category_id, "consent receipts")
        if ConsentPurposePii.select().where(ConsentPurposePii.pii_category == category_id).exists():
            raise core.in_use("PII category", category_id, "purposes")
        _delete_guarded(
            ConsentPiiCategory.delete().where(ConsentPiiCategory.id == category_id), "PII category", category_id
        )


def _delete_guarded(query: peewee.ModelDelete, kind: str, identifier: int) -> None:
    try:
        query.execute()
    except peewee.IntegrityError as exc:
        raise core.in_use(kind, identifier, "a consent receipt") from exc


# ---------------------------------------------------------------- metadata: purpose categories


def _purpose_category(row: ConsentPurposeCategory) -> PurposeCategory:
    return PurposeCategory(row.id, row.name, row.description or "")


def list_purpose_categories(tenant_id: int, limit: int, offset: int) -> list[PurposeCategory]:
    return [_purpose_category(row) for row in _page(ConsentPurposeCategory, tenant_id, limit, offset)]


def get_purpose_category(tenant_id: int, category_id: int) -> PurposeCategory | None:
    row = _owned(ConsentPurposeCategory, tenant_id, category_id)
    return _purpose_category(row) if row else None


def create_purpose_category(tenant_id: int, name: str, description: str) -> PurposeCategory:
    try:
        with write_transaction():
            if ConsentPurposeCategory.get_or_none(
                (ConsentPurposeCategory.tenant == tenant_id) & (ConsentPurposeCategory.name == name)
            ):
                raise core.already_exists("purpose category", name)
            row = ConsentPurposeCategory.create(tenant=tenant_id, name=name, description=description, created_at=now())
    except peewee.IntegrityError as exc:
        raise core.already_exists("purpose category", name) from exc
    return _purpose_category(row)


def delete_purpose_category(tenant_id: int, category_id: int) -> None:
    with write_transaction():
        if get_purpose_category(tenant_id, category_id) is None:
            raise core.not_found("purpose category", category_id)
        used = ConsentReceiptPurposeCategory.select().where(
            ConsentReceiptPurposeCategory.purpose_category == category_id
        )
        if used.exists():
            raise core.in_use("purpose category", category_id, "consent receipts")
        _delete_guarded(
            ConsentPurposeCategory.delete().where(ConsentPurposeCategory.id == category_id),
            "purpose category",
            category_id,
        )


# ---------------------------------------------------------------- metadata: purposes


def _purpose_links(purpose_ids: Iterable[int]) -> dict[int, list[PurposePii]]:
    ids = list(purpose_ids)
    links: dict[int, list[PurposePii]] = defaultdict(list)
    if not ids:
        return links
    query = (
        ConsentPurposePii.select(ConsentPurposePii, ConsentPiiCategory)
        .join(ConsentPiiCategory)
        .where(ConsentPurposePii.purpose.in_(ids))
        .order_by(ConsentPurposePii.id)
    )
    for row in query:
        links[row.purpose_id].append(PurposePii(_pii(row.pii_category), bool(row.mandatory)))  # type: ignore[attr-defined]
    return links


def _purpose(row: ConsentPurpose, links: list[PurposePii]) -> Purpose:
    return Purpose(row.id, row.name, row.description or "", row.group_name, row.group_type, tuple(links))


def list_purposes(
    tenant_id: int, limit: int, offset: int, group: str | None = None, group_type: str | None = None
) -> list[Purpose]:
    where = []
    if group is not None:
        where.append(ConsentPurpose.group_name == group)
    if group_type is not None:
        where.append(ConsentPurpose.group_type == group_type)
    rows = _page(ConsentPurpose, tenant_id, limit, offset, *where)
    links = _purpose_links(row.id for row in rows)
    return [_purpose(row, links.get(row.id, [])) for row in rows]


def get_purpose(tenant_id: int, purpose_id: int) -> Purpose | None:
    row = _owned(ConsentPurpose, tenant_id, purpose_id)
    if row is None:
        return None
    return _purpose(row, _purpose_links([row.id]).get(row.id, []))


def create_purpose(
    tenant_id: int,
    name: str,
    description: str,
    group: str,
    group_type: str,
    pii_categories: list[tuple[int, bool]],
) -> Purpose:
    try:
        with write_transaction():
            clash = ConsentPurpose.get_or_none(
                (ConsentPurpose.tenant == tenant_id)
                & (ConsentPurpose.name == name)
                & (ConsentPurpose.group_name == group)
                & (ConsentPurpose.group_type == group_type)
            )
            if clash is not None:
                raise core.already_exists("purpose", name)
            seen: set[int] = set()
            for category_id, _mandatory in pii_categories:
                if get_pii_category(tenant_id, category_id) is None:
                    raise core.unknown_reference("PII category", category_id)
                if category_id in seen:
                    raise core.INVALID(f"PII category {category_id} is listed twice.")
                seen.add(category_id)
            row = ConsentPurpose.create(
                tenant=tenant_id,
                name=name,
                description=description,
                group_name=group,
                group_type=group_type,
                created_at=now(),
            )
            for category_id, mandatory in pii_categories:
                ConsentPurposePii.create(purpose=row.id, pii_category=category_id, mandatory=mandatory)
    except peewee.IntegrityError as exc:
        raise core.already_exists("purpose", name) from exc
    created = get_purpose(tenant_id, row.id)
    assert created is not None
    return created


def delete_purpose(tenant_id: int, purpose_id: int) -> None:
    with write_transaction():
        if get_purpose(tenant_id, purpose_id) is None:
            raise core.not_found("purpose", purpose_id)
        if ConsentReceiptPurpose.select().where(ConsentReceiptPurpose.purpose == purpose_id).exists():
            raise core.in_use("purpose", purpose_id, "consent receipts")
        _delete_guarded(ConsentPurpose.delete().where(ConsentPurpose.id == purpose_id), "purpose", purpose_id)


# ---------------------------------------------------------------- receipts


@dataclass(frozen=True)
class NewPii:
    pii_category_id: int
    validity: str


@dataclass(frozen=True)
class NewPurpose:
    purpose_id: int
    purpose_category_ids: tuple[int, ...]
    consent_type: str
    pii: tuple[NewPii, ...]
    primary_purpose: bool
    termination: str
    third_party_disclosure: bool
    third_party_name: str | None


@dataclass(frozen=True)
class NewService:
    service: str
    display_name: str | None
    description: str | None
    tenant_domain: str
    purposes: tuple[NewPurpose, ...]


@dataclass(frozen=True)
class NewReceipt:
    collection_method: str
    jurisdiction: str
    language: str
    policy_url: str
    services: tuple[NewService, ...]
    properties: tuple[tuple[str, str], ...]
    expires_at: datetime | None


def _check_references(tenant_id: int, request: NewReceipt) -> None:
    """Every id must name this tenant's metadata; a purpose that declares PII categories takes
    only those, and its mandatory ones must be there."""
    for service in request.services:
        for item in service.purposes:
            purpose = get_purpose(tenant_id, item.purpose_id)
            if purpose is None:
                raise core.unknown_reference("purpose", item.purpose_id)
            for category_id in item.purpose_category_ids:
                if get_purpose_category(tenant_id, category_id) is None:
                    raise core.unknown_reference("purpose category", category_id)
            given = [pii.pii_category_id for pii in item.pii]
            if len(set(given)) != len(given):
                raise core.INVALID(f"Purpose {item.purpose_id} lists a PII category twice.")
            for category_id in given:
                if get_pii_category(tenant_id, category_id) is None:
                    raise core.unknown_reference("PII category", category_id)
            declared = {link.category.id for link in purpose.pii_categories}
            if declared:
                extra = sorted(set(given) - declared)
                if extra:
                    raise core.UNDECLARED_PII(
                        f"PII categories {extra} are not part of purpose {purpose.id} ({purpose.name!r})."
                    )
                missing = sorted(
                    link.category.id
                    for link in purpose.pii_categories
                    if link.mandatory and link.category.id not in given
                )
                if missing:
                    raise core.MANDATORY_PII_MISSING(
                        f"Purpose {purpose.id} ({purpose.name!r}) needs consent to its mandatory PII categories"
                        f" {missing}."
                    )


def add_receipt(tenant_id: int, user_id: str, principal: str, request: NewReceipt) -> tuple[str, list[str]]:
    """Store a receipt for ``user_id``; return its id and the ids of the user's earlier ACTIVE
    receipts for the same services, which it replaces (revoked here, as WSO2 does when My
    Account posts a new receipt to change a consent)."""
    _check_references(tenant_id, request)
    receipt_id = str(uuid.uuid4())
    stamp = now()
    with write_transaction():
        replaced = _active_receipts_for_services(
            tenant_id, user_id, {(s.service, s.tenant_domain) for s in request.services}
        )
        if replaced:
            ConsentReceipt.update(state=core.REVOKED, revoked_at=stamp, version=ConsentReceipt.version + 1).where(
                ConsentReceipt.id.in_(replaced) & (ConsentReceipt.state == core.ACTIVE)
            ).execute()
        ConsentReceipt.create(
            id=receipt_id,
            tenant=tenant_id,
            user=user_id,
            pii_principal_id=principal,
            collection_method=request.collection_method,
            jurisdiction=request.jurisdiction,
            language=request.language,
            policy_url=request.policy_url,
            state=core.ACTIVE,
            created_at=stamp,
            expires_at=request.expires_at,
            version=1,
            properties=json.dumps([list(pair) for pair in request.properties]),
        )
        for s_pos, service in enumerate(request.services):
            service_row = ConsentReceiptService.create(
                receipt=receipt_id,
                position=s_pos,
                service=service.service,
                display_name=service.display_name,
                description=service.description,
                tenant_domain=service.tenant_domain,
            )
            for p_pos, item in enumerate(service.purposes):
                purpose_row = ConsentReceiptPurpose.create(
                    receipt_service=service_row.id,
                    position=p_pos,
                    purpose=item.purpose_id,
                    consent_type=item.consent_type,
                    primary_purpose=item.primary_purpose,
                    termination=item.termination,
                    third_party_disclosure=item.third_party_disclosure,
                    third_party_name=item.third_party_name,
                )
                for category_id in dict.fromkeys(item.purpose_category_ids):
                    ConsentReceiptPurposeCategory.create(receipt_purpose=purpose_row.id, purpose_category=category_id)
                for pos, pii in enumerate(item.pii):
                    ConsentReceiptPii.create(
                        receipt_purpose=purpose_row.id,
                        pii_category=pii.pii_category_id,
                        position=pos,
                        validity=pii.validity,
                    )
    return receipt_id, replaced


def _active_receipts_for_services(tenant_id: int, user_id: str, services: set[tuple[str, str]]) -> list[str]:
    if not services:
        return []
    query = (
        ConsentReceiptService.select(
            ConsentReceiptService.receipt, ConsentReceiptService.service, ConsentReceiptService.tenant_domain
        )
        .join(ConsentReceipt)
        .where(
            (ConsentReceipt.tenant == tenant_id)
            & (ConsentReceipt.user == user_id)
            & (ConsentReceipt.state == core.ACTIVE)
            & ConsentReceiptService.service.in_(sorted({name for name, _ in services}))
        )
    )
    found = {row.receipt_id for row in query if (row.service, row.tenant_domain) in services}  # type: ignore[attr-defined]
    return sorted(found)


def _receipt_query(tenant_id: int, *columns: Any) -> Any:
    return ConsentReceipt.select(*columns).where(ConsentReceipt.tenant == tenant_id)


def _state_filter(query: Any, state: str | None, at: datetime) -> Any:
    if state == core.REVOKED:
        return query.where(ConsentReceipt.state == core.REVOKED)
    if state == core.EXPIRED:
        return query.where(
            (ConsentReceipt.state == core.ACTIVE)
            & ConsentReceipt.expires_at.is_null(False)
            & (ConsentReceipt.expires_at <= at)
        )
    if state == core.ACTIVE:
        return query.where(
            (ConsentReceipt.state == core.ACTIVE)
            & (ConsentReceipt.expires_at.is_null() | (ConsentReceipt.expires_at > at))
        )
    return query


def _receipt_page(
    tenant_id: int,
    user_id: str,
    state: str | None,
    service: str | None,
    sp_tenant_domain: str | None,
    limit: int,
    offset: int,
    *columns: Any,
) -> Any:
    """The query of a page of the user's receipts, newest first, with the filters of ``GET /consents``."""
    query = _state_filter(_receipt_query(tenant_id, *columns).where(ConsentReceipt.user == user_id), state, now())
    if service is not None or sp_tenant_domain is not None:
        services = ConsentReceiptService.select(ConsentReceiptService.receipt)
        if service is not None:
            services = services.where(ConsentReceiptService.service == service)
        if sp_tenant_domain is not None:
            services = services.where(ConsentReceiptService.tenant_domain == sp_tenant_domain)
        query = query.where(ConsentReceipt.id.in_(services))
    return query.order_by(ConsentReceipt.created_at.desc(), ConsentReceipt.id).limit(limit).offset(offset)


def list_receipt_summaries(
    tenant_id: int,
    tenant_name: str,
    user_id: str,
    *,
    state: str | None = None,
    service: str | None = None,
    sp_tenant_domain: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[core.ReceiptSummary]:
    """A page of the user's receipts as ``GET /consents`` shows them, newest first: each with its
    first service only, in two statements whatever the page holds (full receipts take eight)."""
    r = ConsentReceipt
    rows = list(
        _receipt_page(
            tenant_id,
            user_id,
            state,
            service,
            sp_tenant_domain,
            limit,
            offset,
            r.id,
            r.pii_principal_id,
            r.language,
            r.state,
            r.expires_at,
        ).tuples()
    )
    if not rows:
        return []
    first: dict[str, tuple[str | None, str | None, str | None]] = {}
    s = ConsentReceiptService
    services: Any = (  # tuples: (receipt id, service, display name, description)
        s.select(s.receipt, s.service, s.display_name, s.description)
        .where(s.receipt.in_([row[0] for row in rows]))
        .order_by(s.receipt, s.position)
        .tuples()
    )
    for receipt_id, name, display_name, description in services:
        first.setdefault(receipt_id, (name, display_name, description))
    summaries = []
    for receipt_id, principal_id, language, stored_state, expires_at in rows:
        name, display_name, description = first.get(receipt_id, (None, None, None))
        summaries.append(
            core.ReceiptSummary(
                id=receipt_id,
                pii_principal_id=principal_id,
                tenant_domain=tenant_name,
                language=language,
                state=stored_state,
                expires_at=expires_at,
                first_service=name,
                first_display_name=display_name,
                first_description=description,
            )
        )
    return summaries


def get_receipt(tenant_id: int, receipt_id: str) -> Receipt | None:
    if not receipt_id or len(receipt_id) > 36:
        return None
    row = ConsentReceipt.get_or_none((ConsentReceipt.id == receipt_id) & (ConsentReceipt.tenant == tenant_id))
    if row is None:
        return None
    return _assemble(tenant_id, [row])[0]


def revoke_receipt(tenant_id: int, receipt_id: str, expected_version: int | None = None) -> bool:
    """ACTIVE → REVOKED, compare-and-set on the version the caller saw. False when the receipt
    was already revoked or changed meanwhile."""
    query = ConsentReceipt.update(state=core.REVOKED, revoked_at=now(), version=ConsentReceipt.version + 1).where(
        (ConsentReceipt.id == receipt_id) & (ConsentReceipt.tenant == tenant_id) & (ConsentReceipt.state == core.ACTIVE)
    )
    if expected_version is not None:
        query = query.where(ConsentReceipt.version == expected_version)
    with write_transaction():
        return bool(query.execute())


def _assemble(tenant_id: int, rows: list[ConsentReceipt]) -> list[Receipt]:
    """Load the services, purposes, categories and PII links of ``rows`` in a few queries."""
    if not rows:
        return []
    tenant_name = Tenant.get_by_id(tenant_id).name
    ids = [row.id for row in rows]
    services = list(
        ConsentReceiptService.select()
        .where(ConsentReceiptService.receipt.in_(ids))
        .order_by(ConsentReceiptService.position)
    )
    service_ids = [s.id for s in services]
    purposes = (
        list(
            ConsentReceiptPurpose.select()
            .where(ConsentReceiptPurpose.receipt_service.in_(service_ids))
            .order_by(ConsentReceiptPurpose.position)
        )
        if service_ids
        else []
    )
    purpose_row_ids = [p.id for p in purposes]
    metadata_purposes = {p.id: p for p in _purposes_by_id({p.purpose_id for p in purposes})}  # type: ignore[attr-defined]
    categories: dict[int, list[PurposeCategory]] = defaultdict(list)
    piis: dict[int, list[ConsentedPii]] = defaultdict(list)
    if purpose_row_ids:
        for link in (
            ConsentReceiptPurposeCategory.select(ConsentReceiptPurposeCategory, ConsentPurposeCategory)
            .join(ConsentPurposeCategory)
            .where(ConsentReceiptPurposeCategory.receipt_purpose.in_(purpose_row_ids))
            .order_by(ConsentReceiptPurposeCategory.id)
        ):
            categories[link.receipt_purpose_id].append(_purpose_category(link.purpose_category))  # type: ignore[attr-defined]
        for pii_link in (
            ConsentReceiptPii.select(ConsentReceiptPii, ConsentPiiCategory)
            .join(ConsentPiiCategory)
            .where(ConsentReceiptPii.receipt_purpose.in_(purpose_row_ids))
            .order_by(ConsentReceiptPii.position)
        ):
            piis[pii_link.receipt_purpose_id].append(ConsentedPii(_pii(pii_link.pii_category), pii_link.validity))  # type: ignore[attr-defined]
    by_service: dict[int, list[ConsentedPurpose]] = defaultdict(list)
    for p in purposes:
        by_service[p.receipt_service_id].append(  # type: ignore[attr-defined]
            ConsentedPurpose(
                purpose=metadata_purposes[p.purpose_id],  # type: ignore[attr-defined]
                categories=tuple(categories.get(p.id, [])),
                consent_type=p.consent_type,
                pii=tuple(piis.get(p.id, [])),
                primary_purpose=bool(p.primary_purpose),
                termination=p.termination,
                third_party_disclosure=bool(p.third_party_disclosure),
                third_party_name=p.third_party_name,
            )
        )
    by_receipt: dict[str, list[ConsentedService]] = defaultdict(list)
    for s in services:
        by_receipt[s.receipt_id].append(  # type: ignore[attr-defined]
            ConsentedService(s.service, s.display_name, s.description, s.tenant_domain, tuple(by_service.get(s.id, [])))
        )
    return [
        Receipt(
            id=row.id,
            user_id=row.user_id,  # type: ignore[attr-defined]
            pii_principal_id=row.pii_principal_id,
            tenant_domain=tenant_name,
            collection_method=row.collection_method,
            jurisdiction=row.jurisdiction,
            language=row.language,
            policy_url=row.policy_url,
            state=row.state,
            created_at=row.created_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
            version=row.version,
            properties=tuple((str(k), str(v)) for k, v in json.loads(row.properties or "[]")),
            services=tuple(by_receipt.get(row.id, [])),
        )
        for row in rows
    ]


def _purposes_by_id(ids: set[int]) -> list[Purpose]:
    if not ids:
        return []
    rows = list(ConsentPurpose.select().where(ConsentPurpose.id.in_(sorted(ids))))
    links = _purpose_links(row.id for row in rows)
    return [_purpose(row, links.get(row.id, [])) for row in rows]


def all_receipts(tenant_id: int, user_id: str) -> list[Receipt]:
    """Every receipt of the user (history included), for the data export."""
    rows = list(
        _receipt_query(tenant_id)
        .where(ConsentReceipt.user == user_id)
        .order_by(ConsentReceipt.created_at.desc(), ConsentReceipt.id)
    )
    return _assemble(tenant_id, rows)
