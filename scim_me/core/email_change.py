"""Verified e-mail change, the pure part: which write introduces a new address, what is stored
meanwhile, and what the profile becomes once the new address is verified.

WSO2's "email verification on update" (Asgardeo: *Email verification on update*; IS:
``UserClaimUpdate.Email.EnableVerification``): a PATCH or PUT that brings a new address keeps the
current ``emails`` as they are and puts the new address into
``urn:scim:wso2:schema`` ``pendingEmails``; the change takes effect when the code mailed to the
new address comes back. A stolen session therefore cannot move the account to an address its
holder does not control.

Rules (decided here, documented in docs/email-change.md):

- "New" means an address (case-insensitively) not among the user's current ``emails``. One write
  may bring at most one new address (one pending change at a time); more is 400 ``invalidValue``.
- A write with a new address holds its whole ``emails`` attribute back. On verification the new
  address is added, as the primary one when it was the write's primary (or first) address, and
  the addresses that write dropped are removed. Other edits to ``emails`` in the same write are
  not replayed: send them in a write of their own.
- A write without a new address applies at once. When it changes which address is primary,
  ``emailVerified`` becomes false: nothing proved the new primary address.
- Codes are 192-bit random strings, stored as SHA-256 digests and compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scim_me.errors import InvalidValueError

WSO2_URN = "urn:scim:wso2:schema"
MAX_ADDRESS_LENGTH = 254  # RFC 5321 §4.5.3.1.3 path limit, less the angle brackets
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$")
_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


@dataclass(frozen=True)
class RequestedChange:
    address: str  # the new address, as the user wrote it
    email_type: str | None  # its ``type`` (work, home, other) if the write gave one
    make_primary: bool  # it was the write's primary (or first) address
    flagged_primary: bool  # the write marked it ``"primary": true``
    removes: tuple[str, ...]  # current addresses the write dropped; removed on verification
    previous: str | None  # the primary address when the change was asked for: it gets the notice


def key(address: str) -> str:
    return address.strip().casefold()


def email_items(profile: Mapping[str, Any]) -> list[dict[str, Any]]:
    emails = profile.get("emails")
    if not isinstance(emails, list):
        return []
    return [dict(item) for item in emails if isinstance(item, Mapping) and isinstance(item.get("value"), str)]


def primary_item(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The ``primary`` address, else the first (WSO2's string form has no ``primary``)."""
    return next((item for item in items if item.get("primary") is True), items[0] if items else None)


def primary_address(profile: Mapping[str, Any]) -> str | None:
    chosen = primary_item(email_items(profile))
    return str(chosen["value"]) if chosen else None


def check_address(address: str) -> None:
    """A deliverable-looking ``local@domain`` (RFC 5321 §4.1.2 dot-atom, IDNA domains), nothing
    a mail header could be bent with. Quoted local parts and address literals are refused."""
    local, at, domain = address.rpartition("@")
    problem = None
    if not at or len(address) > MAX_ADDRESS_LENGTH:
        problem = "is not an e-mail address"
    elif not _LOCAL.match(local) or local.startswith(".") or local.endswith(".") or ".." in local:
        problem = "has a local part this server cannot deliver to"
    else:
        try:
            ascii_domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            ascii_domain = ""
        labels = ascii_domain.split(".")
        if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
            problem = "has an invalid domain"
    if problem:
        shown = address[:80].encode("unicode_escape").decode("ascii")
        raise InvalidValueError(f"The e-mail address {shown!r} {problem}.")


def hold_new_address(old: Mapping[str, Any], new: dict[str, Any]) -> tuple[dict[str, Any], RequestedChange | None]:
    """Split a write into what is stored now and the change that waits for verification."""
    old_items = email_items(old)
    new_items = email_items(new)
    known = {key(item["value"]) for item in old_items}
    added: dict[str, dict[str, Any]] = {}
    for item in new_items:
        if key(item["value"]) not in known:
            added.setdefault(key(item["value"]), item)
    if not added:
        return unverify_if_primary_changed(old, new), None
    if len(added) > 1:
        raise InvalidValueError("Only one new e-mail address can be verified at a time; add the addresses one by one.")
    (item,) = added.values()
    address = str(item["value"]).strip()
    check_address(address)
    chosen = primary_item(new_items)
    remaining = {key(i["value"]) for i in new_items}
    previous = primary_item(old_items)
    change = RequestedChange(
        address=address,
        email_type=item.get("type") if isinstance(item.get("type"), str) else None,
        make_primary=chosen is not None and key(chosen["value"]) == key(address),
        flagged_primary=item.get("primary") is True,
        removes=tuple(i["value"] for i in old_items if key(i["value"]) not in remaining),
        previous=str(previous["value"]) if previous else None,
    )
    held = dict(new)
    if "emails" in old:
        held["emails"] = old["emails"]
    else:
        held.pop("emails", None)
    return with_pending(held, change), change


def with_pending(profile: dict[str, Any], change: RequestedChange | None) -> dict[str, Any]:
    """``profile`` with ``pendingEmails`` naming ``change`` (or without it, for None)."""
    out = dict(profile)
    extension = dict(out.get(WSO2_URN) or {})
    if change is None:
        extension.pop("pendingEmails", None)
    else:
        pending: dict[str, Any] = {"value": change.address}
        if change.email_type:
            pending["type"] = change.email_type
        extension["pendingEmails"] = [pending]
    if extension:
        out[WSO2_URN] = extension
    else:
        out.pop(WSO2_URN, None)
    return out


def unverify_if_primary_changed(old: Mapping[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``emailVerified`` false when the primary address changed without verification."""
    before, after = primary_address(old), primary_address(new)
    if before is not None and after is not None and key(before) == key(after):
        return new
    if before is None and after is None:
        return new
    extension = new.get(WSO2_URN)
    if not isinstance(extension, Mapping) or not extension.get("emailVerified"):
        return new
    return {**new, WSO2_URN: {**extension, "emailVerified": False}}


def apply_verified(profile: Mapping[str, Any], change: RequestedChange) -> dict[str, Any]:
    """The profile once ``change.address`` is verified."""
    dropped = {key(address) for address in change.removes} | {key(change.address)}
    items = [item for item in email_items(profile) if key(item["value"]) not in dropped]
    new_item: dict[str, Any] = {"value": change.address}
    if change.email_type:
        new_item["type"] = change.email_type
    if change.make_primary:
        flags = change.flagged_primary or any(item.get("primary") is True for item in items)
        for item in items:
            item.pop("primary", None)
        if flags:
            new_item["primary"] = True
        items.insert(0, new_item)
    else:
        items.append(new_item)
    out = with_pending(dict(profile), None)
    out["emails"] = items
    if change.make_primary:
        out[WSO2_URN] = {**(out.get(WSO2_URN) or {}), "emailVerified": True}
        return out
    return unverify_if_primary_changed(profile, out)


def new_code() -> str:
    """A verification code: 192 random bits, URL-safe (it travels in a link)."""
    return secrets.token_urlsafe(24)


def code_digest(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8", "surrogatepass")).hexdigest()


def code_matches(code: str, digest: str) -> bool:
    return hmac.compare_digest(code_digest(code), digest)
