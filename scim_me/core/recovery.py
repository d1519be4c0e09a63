"""Account recovery, the pure part: codes, their digests, and what an init request names.

- The codes handed to the caller (``recoveryCode``, ``flowConfirmationCode``, ``resendCode``,
  ``resetCode``, a mailed reset link) are 192-bit random strings, always 32 characters, stored as
  SHA-256 digests: they cannot be guessed, and a database dump does not hold them.
- The code mailed to the user for the ``confirm`` step is short (digits, typed by a person), so it
  is bound to its flow and keyed: its digest is an HMAC under a key derived from the master key
  over the flow id and the code. It only works together with its flow's
  ``flowConfirmationCode``, within its flow's attempt limit; a dump cannot be brute-forced offline.
- Comparisons are constant-time (``hmac.compare_digest``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scim_me.core.email_change import primary_address
from scim_me.core.schemas import ENTERPRISE_URN
from scim_me.errors import InvalidValueError

# WSO2's claim URIs (wso2.org local claim dialect) an init request may name.
CLAIM_USERNAME = "http://wso2.org/claims/username"
CLAIM_EMAIL = "http://wso2.org/claims/emailaddress"
SUPPORTED_CLAIMS = frozenset({CLAIM_USERNAME, CLAIM_EMAIL})
WSO2_URN = "urn:scim:wso2:schema"
CODE_LENGTH = 32


def new_code() -> str:
    """A 192-bit code for the API's flow (always :data:`CODE_LENGTH` characters)."""
    return secrets.token_urlsafe(24)


def new_otp(digits: int) -> str:
    """The code mailed to the user: ``digits`` decimal digits."""
    return "".join(secrets.choice("0123456789") for _ in range(digits))


def code_digest(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8", "surrogatepass")).hexdigest()


def otp_key(master_key: bytes) -> bytes:
    return hmac.new(master_key, b"scim-me recovery otp", hashlib.sha256).digest()


def otp_digest(key: bytes, flow_id: str, otp: str) -> str:
    """The mailed code's digest, bound to its flow."""
    message = f"{flow_id}\0{otp.strip()}".encode("utf-8", "surrogatepass")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def otp_matches(key: bytes, flow_id: str, otp: str, stored: str | None) -> bool:
    if not stored:
        return False
    return hmac.compare_digest(otp_digest(key, flow_id, otp), stored)


def mask_email(address: str) -> str:
    """WSO2-style masked address for the channel list: the first two characters of the local part,
    the rest starred, the domain's top level kept (``ki**********.com``)."""
    local, _, domain = address.partition("@")
    top = domain.rsplit(".", 1)[-1] if "." in domain else ""
    stars = "*" * max(len(address) - len(local[:2]) - len(top) - 1, 3)
    return f"{local[:2]}{stars}.{top}" if top else f"{local[:2]}{stars}"


@dataclass(frozen=True)
class Identifier:
    """What an init request names: a userName or an e-mail address (one of them)."""

    user_name: str | None
    email: str | None

    @property
    def subject(self) -> str:
        """The value the per-account counters key on (known account or not)."""
        return f"u:{self.user_name}" if self.user_name is not None else f"e:{(self.email or '').strip().lower()}"


class ClaimsError(ValueError):
    """The claims of an init request do not name an account in a way this server supports."""


def read_claims(claims: list[Mapping[str, Any]], *, want_email: bool = False) -> Identifier:
    """The identifier in WSO2's ``claims`` list (``[{"uri", "value"}]``). Password recovery takes
    the username or the e-mail address; username recovery the e-mail address."""
    found: dict[str, str] = {}
    for claim in claims:
        uri, value = claim.get("uri"), claim.get("value")
        if not isinstance(uri, str) or not isinstance(value, str) or not value.strip():
            raise ClaimsError("Each claim needs a uri and a non-empty value (strings).")
        if uri not in SUPPORTED_CLAIMS:
            raise ClaimsError(f"Unsupported claim {uri}; use {CLAIM_USERNAME} or {CLAIM_EMAIL}.")
        if uri in found:
            raise ClaimsError(f"The claim {uri} is given twice.")
        found[uri] = value.strip()
    if want_email:
        if CLAIM_EMAIL not in found:
            raise ClaimsError(f"Username recovery needs the claim {CLAIM_EMAIL}.")
        return Identifier(None, found[CLAIM_EMAIL])
    if not found:
        raise ClaimsError(f"At least one claim is required: {CLAIM_USERNAME} or {CLAIM_EMAIL}.")
    return Identifier(found.get(CLAIM_USERNAME), found.get(CLAIM_EMAIL) if CLAIM_USERNAME not in found else None)


def verified_address(profile: Mapping[str, Any]) -> str | None:
    """The address recovery may mail: the primary one, and only when ``emailVerified`` is true
    (the same rule as an external issuer's e-mail mapping)."""
    extension = profile.get(WSO2_URN)
    if not isinstance(extension, Mapping) or extension.get("emailVerified") is not True:
        return None
    return primary_address(profile)


def reset_forced(profile: Mapping[str, Any]) -> bool:
    """WSO2's ``forcePasswordReset``: an administrator asked for a new password; the old one no
    longer signs in."""
    extension = profile.get(WSO2_URN)
    return isinstance(extension, Mapping) and as_flag(extension.get("forcePasswordReset")) is True


def with_forced_reset(profile: Mapping[str, Any], forced: bool) -> dict[str, Any]:
    extension = dict(profile.get(WSO2_URN) or {})
    if forced:
        extension["forcePasswordReset"] = True
    else:
        extension.pop("forcePasswordReset", None)
    out = dict(profile)
    if extension:
        out[WSO2_URN] = extension
    else:
        out.pop(WSO2_URN, None)
    return out


def take_ask_password(body: Any) -> tuple[Any, bool]:
    """WSO2's ``askPassword`` in a new user's body (``urn:scim:wso2:schema``): a request, not an
    attribute. Returns the body without it (WSO2 never stores it either; the body given is not
    changed) and whether it asks for an invitation (:func:`take_request_flag`)."""
    return take_request_flag(body, "askPassword", (WSO2_URN,))


def take_verify_email(body: Any) -> tuple[Any, bool]:
    """WSO2's ``verifyEmail`` in a new user's body, the same way: a request to confirm the address
    before the account signs in. WSO2 maps the claim under the enterprise extension too (its
    default extension file lists the identity attributes there), so both URIs are read."""
    return take_request_flag(body, "verifyEmail", (WSO2_URN, ENTERPRISE_URN))


def take_request_flag(body: Any, name: str, urns: tuple[str, ...], *, strict: bool = True) -> tuple[Any, bool]:
    """The boolean request ``name`` under any of ``urns`` (names compare case-insensitively, RFC
    7643 §2.1), taken out of ``body``: the body without it (the one given is not changed) and
    whether it is true, or the string "true" WSO2's documentation sends. Not ``strict``: another
    value is taken out as false rather than refused (a stored profile, not a request)."""
    if not isinstance(body, dict):
        return body, False
    wanted = {urn.lower() for urn in urns}
    without = dict(body)
    values: list[Any] = []
    for key, extension in body.items():
        if key.lower() not in wanted or not isinstance(extension, dict):
            continue
        names = [found for found in extension if found.lower() == name.lower()]
        if not names:
            continue
        values.extend(extension[found] for found in names)
        rest = {found: value for found, value in extension.items() if found not in names}
        if rest:
            without[key] = rest
        else:
            del without[key]
    flags = [as_flag(value) for value in values]
    if strict and None in flags:
        raise InvalidValueError(f"{name} must be a boolean.")
    if not values:
        return body, False
    return without, True in flags


def as_flag(value: Any) -> bool | None:
    """A request flag's value: a JSON boolean, or the text "true" / "false" WSO2's documentation
    sends; None for anything else. Compared by type, since 1 == True and 0 == False in Python."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in ("true", "false"):
        return value == "true"
    return None


@dataclass(frozen=True)
class UpdateRequests:
    """WSO2's request flags found in a write to an existing user (PUT, PATCH; /Users, /Me, Bulk).
    Like on creation they are requests, never attributes: identity-governance's
    UserEmailVerificationHandler removes ``verifyEmail`` from the claims of every
    PRE_SET_USER_CLAIMS event, whether or not it acts on it."""

    verify_email: bool = False
    ask_password: bool = False

    def __or__(self, other: UpdateRequests) -> UpdateRequests:
        return UpdateRequests(self.verify_email or other.verify_email, self.ask_password or other.ask_password)


NO_REQUESTS = UpdateRequests()
_FLAG_URNS = {"verifyEmail": (WSO2_URN, ENTERPRISE_URN), "askPassword": (WSO2_URN,)}


def _flag_names(admin: bool) -> tuple[str, ...]:
    # askPassword is readOnly on /Me (schemas/admin.json): there the PATCH engine refuses it and
    # a PUT ignores it, as for any readOnly attribute; only an administrator's write names it.
    return ("verifyEmail", "askPassword") if admin else ("verifyEmail",)


def take_body_requests(body: Any, admin: bool) -> tuple[Any, UpdateRequests]:
    """The request flags of a PUT body, taken out before the body replaces the profile (so the
    string "true" WSO2's documentation sends is accepted, and the enterprise spelling of
    ``verifyEmail``, which no schema declares, is not an unknown attribute)."""
    found: dict[str, bool] = {}
    for name in _flag_names(admin):
        body, found[name] = take_request_flag(body, name, _FLAG_URNS[name])
    return body, UpdateRequests(found.get("verifyEmail", False), found.get("askPassword", False))


def take_patch_requests(operations: list[Any], admin: bool) -> tuple[list[Any], UpdateRequests]:
    """The request flags of PATCH operations, taken out before the engine runs: an operation whose
    ``path`` names a flag (``urn:scim:wso2:schema:verifyEmail``, any case) is dropped (add/replace
    ask for it when the value is true or "true", remove asks for nothing); a flag inside an
    add/replace value (no path, or the extension's URI as path) is taken out of the value, and
    an operation left with nothing to do is dropped. As on creation, "true" is accepted (the
    engine, which checks the schema's boolean, would refuse it) and so is the enterprise URI. A
    later operation on the same flag wins."""
    names = _flag_names(admin)
    paths = {f"{urn}:{name}".lower(): name for name in names for urn in _FLAG_URNS[name]}
    urns = {urn.lower() for name in names for urn in _FLAG_URNS[name]}
    kept: list[Any] = []
    found: dict[str, bool] = {}
    for operation in operations:
        op = operation.get("op") if isinstance(operation, dict) else None
        if not isinstance(op, str) or op.lower() not in ("add", "replace", "remove"):
            kept.append(operation)  # the engine's to judge (and refuse)
            continue
        path = operation.get("path")
        name = paths.get(path.strip().lower()) if isinstance(path, str) else None
        value = operation.get("value")
        if name is not None:
            asked_for = as_flag(value)
            if op.lower() != "remove" and asked_for is None:
                raise InvalidValueError(f"{name} must be a boolean.")
            found[name] = op.lower() != "remove" and asked_for is True
            continue
        if op.lower() == "remove" or not isinstance(value, dict):
            kept.append(operation)
            continue
        scoped = isinstance(path, str) and path.strip().lower() in urns
        if path is not None and not scoped:
            kept.append(operation)
            continue
        body = {path: value} if scoped else value
        for flag in names:
            taken, asked = take_request_flag(body, flag, _FLAG_URNS[flag])
            if taken is not body:  # the flag was there (take_request_flag copies only then)
                found[flag], body = asked, taken
        rest = body.get(path, {}) if scoped else body
        if rest:
            kept.append({**operation, "value": rest})
    return kept, UpdateRequests(found.get("verifyEmail", False), found.get("askPassword", False))


_REQUEST_NAMES = frozenset(name.lower() for name in _FLAG_URNS)


def _may_hold_requests(profile: dict[str, Any]) -> bool:
    """Whether a profile has a request flag under an extension's schema URN. A profile's keys are
    the schemas' own spellings (the PATCH engine and PUT write them so), so two lookups find the
    extensions; their attributes are compared case-insensitively, as a request may spell them."""
    for urn in (WSO2_URN, ENTERPRISE_URN):
        extension = profile.get(urn)
        if isinstance(extension, dict) and any(key.lower() in _REQUEST_NAMES for key in extension):
            return True
    return False


def take_profile_requests(profile: dict[str, Any], *, strict: bool = True) -> tuple[dict[str, Any], UpdateRequests]:
    """The request flags a profile carries, taken out of it: a changed profile (a PATCH value
    ``{"verifyEmail": true}`` under the extension), or, not ``strict``, a stored one (a profile
    written before these flags were requests still holds them)."""
    if not _may_hold_requests(profile):
        return profile, NO_REQUESTS  # every write's case: no copy, no scan of the whole profile
    profile, verify = take_request_flag(profile, "verifyEmail", _FLAG_URNS["verifyEmail"], strict=strict)
    profile, ask = take_request_flag(profile, "askPassword", _FLAG_URNS["askPassword"], strict=strict)
    return profile, UpdateRequests(verify, ask)
