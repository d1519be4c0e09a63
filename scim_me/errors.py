"""Typed errors, raised where a problem is found and rendered in one place (``web/handlers.py``).

Two wire dialects exist: SCIM endpoints answer RFC 7644 §3.12 error documents, the WSO2 REST
APIs (``/api/...``) answer ``{code, message, description, traceId}``. Both are described here as
plain data; nothing in this module knows about Flask.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SCIM_ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"


class ScimError(Exception):
    """An RFC 7644 §3.12 error: an HTTP status, an optional scimType and a human detail."""

    status: int = 400
    scim_type: str | None = None
    default_detail: str = "Request is unparsable, syntactically incorrect, or violates schema."

    def __init__(
        self, detail: str | None = None, *, headers: Mapping[str, str] | None = None, status: int | None = None
    ) -> None:
        self.detail = detail or self.default_detail
        self.headers: dict[str, str] = dict(headers or {})
        if status is not None:
            self.status = status
        super().__init__(self.detail)

    def to_dict(self) -> dict[str, Any]:
        """Return the error document; ``status`` is a string as RFC 7644 §3.12 requires."""
        body: dict[str, Any] = {"schemas": [SCIM_ERROR_URN], "status": str(self.status)}
        if self.scim_type:
            body["scimType"] = self.scim_type
        body["detail"] = self.detail
        return body


class InvalidSyntaxError(ScimError):
    scim_type = "invalidSyntax"


class InvalidPathError(ScimError):
    scim_type = "invalidPath"


class InvalidFilterError(ScimError):
    scim_type = "invalidFilter"


class InvalidCursorError(ScimError):
    """RFC 9865 §2.3: the cursor is not one this server issued for this query."""

    scim_type = "invalidCursor"


class NoTargetError(ScimError):
    scim_type = "noTarget"


class InvalidValueError(ScimError):
    scim_type = "invalidValue"


class MutabilityError(ScimError):
    scim_type = "mutability"


class ReadOnlyUserError(MutabilityError):
    """A write to a read-only user (core/accounts.is_read_only_user). WSO2 fails such a write in
    its user store (user-core 30002, "Invalid operation. User store is read only"); scim-me
    answers it as the 400 it is, never a 500."""

    default_detail = "Invalid operation. User store is read only: this user's profile and password cannot be changed."


class TooManyError(ScimError):
    scim_type = "tooMany"


class InvalidRequestError(ScimError):
    # WSO2's non-RFC scimType (with a space), used for "password update not allowed on /Me".
    scim_type = "invalid request"


class UniquenessError(ScimError):
    status = 409
    scim_type = "uniqueness"
    default_detail = "The specified value is already in use."


class UnauthorizedError(ScimError):
    status = 401
    default_detail = "Authorization failure. Authorization information was invalid or missing from your request."


class StepUpRequiredError(UnauthorizedError):
    """RFC 9470 §3: the token is valid but its user authenticated longer ago than ``max_age``
    seconds allow for this action; the client gets a token from a fresh sign-in (``max_age`` on
    the authorization request) and retries. The challenge carries the error and ``max_age``."""

    default_detail = "This action needs a recent sign-in."

    def __init__(self, max_age: int) -> None:
        self.max_age = max_age
        description = "A more recent authentication is required."
        super().__init__(
            f"{self.default_detail} Sign in again (max_age={max_age}) and retry with the new access token.",
            headers={
                "WWW-Authenticate": (
                    f'Bearer error="insufficient_user_authentication", '
                    f'error_description="{description}", max_age="{max_age}"'
                )
            },
        )


class ForbiddenError(ScimError):
    status = 403
    default_detail = "Operation is not permitted. You do not have permissions to make this request."


class NotFoundError(ScimError):
    status = 404
    default_detail = "Specified resource (e.g., User) or endpoint does not exist."


class MethodNotAllowedError(ScimError):
    status = 405
    default_detail = "The HTTP method is not supported on this endpoint."


class NotAcceptableError(ScimError):
    status = 406
    default_detail = "Requested format is not supported."


class PreconditionFailedError(ScimError):
    status = 412
    default_detail = "The resource has changed since the version given in If-Match."


class PayloadTooLargeError(ScimError):
    status = 413
    default_detail = "The request body is larger than this server accepts."


class TooManyOperationsError(PayloadTooLargeError):
    # RFC 7644 §3.7.4: a BulkRequest over maxOperations is 413; tooMany says which limit.
    scim_type = "tooMany"


class UnsupportedMediaTypeError(ScimError):
    status = 415
    default_detail = "Content-Type must be application/scim+json or application/json."


class ConflictError(ScimError):
    status = 409
    default_detail = "The resource was changed by another request; retry."


class UnresolvedBulkIdError(ConflictError):
    # RFC 7644 §3.7.2: a bulkId reference that no operation of the request creates.
    scim_type = "invalidValue"


class CircularBulkIdError(UnresolvedBulkIdError):
    # RFC 7644 §3.7.1: operations whose bulkIds reference each other (or an operation its own):
    # "MAY stop after a failed attempt and instead return HTTP status code 409 (Conflict)".
    pass


class TooManyRequestsError(ScimError):
    status = 429
    default_detail = "Too many failed attempts; retry after the time given in Retry-After."


class ServerError(ScimError):
    status = 500
    default_detail = "An internal error."


class NotImplementedScimError(ScimError):
    status = 501
    default_detail = "Service provider does not support the request operation."


class UnavailableError(ScimError):
    status = 503
    default_detail = "The service is busy; retry shortly."


_REASONS: dict[int, str] = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    412: "Precondition Failed",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def reason(status: int) -> str:
    """The ``message`` of a WSO2 error that has no message of its own: the status's reason."""
    return _REASONS.get(status, "Error")


class ApiError(Exception):
    """A WSO2 REST API error: ``{code, message, description, traceId}`` with a string code.

    Built complete where the problem is found, usually through a :class:`Wso2Family` or an
    :class:`ApiErrorKind`, and never changed afterwards."""

    def __init__(
        self,
        description: str,
        *,
        status: int = 400,
        code: str = "UMG-10000",
        message: str = "Bad Request",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.description = description
        self.status = status
        self.code = code
        self.message = message
        self.headers: dict[str, str] = dict(headers or {})
        super().__init__(description)

    def to_dict(self, trace_id: str | None = None) -> dict[str, Any]:
        """Return the WSO2 error body; null fields are left out as WSO2 does."""
        body: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "description": self.description,
        }
        if trace_id:
            body["traceId"] = trace_id
        return body


@dataclass(frozen=True)
class ApiErrorKind:
    """One WSO2 error code with its message and usual status; calling it with a description
    builds the error (``CM_INVALID("...")``)."""

    code: str
    message: str = "Bad Request"
    status: int = 400

    def __call__(
        self,
        description: str,
        *,
        status: int | None = None,
        message: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> ApiError:
        return ApiError(
            description,
            status=self.status if status is None else status,
            code=self.code,
            message=self.message if message is None else message,
            headers=headers,
        )


@dataclass(frozen=True)
class Wso2Family:
    """The error codes of one WSO2 REST API: ``{prefix}{separator}{number}`` (``TOTP-10002``,
    ``CM_60001``); wso2-api.md and docs/ list each family's numbers."""

    prefix: str
    separator: str = "-"

    def code(self, number: str) -> str:
        return f"{self.prefix}{self.separator}{number}"

    def kind(self, number: str, message: str = "Bad Request", status: int = 400) -> ApiErrorKind:
        return ApiErrorKind(self.code(number), message, status)

    def error(
        self,
        number: str,
        description: str,
        *,
        status: int = 400,
        message: str = "Bad Request",
        headers: Mapping[str, str] | None = None,
    ) -> ApiError:
        return ApiError(description, status=status, code=self.code(number), message=message, headers=headers)


# The families scim-me answers in (wso2-api.md; the 6xxxx numbers are scim-me's own, see docs/).
TOTP = Wso2Family("TOTP")  # /api/users/v1/me/totp
BCA = Wso2Family("BCA")  # /api/users/v1/me/backup-codes
MFA = Wso2Family("MFA")  # /api/users/v1/me/mfa/authenticators
PWD = Wso2Family("PWD")  # /api/users/v1/me/change-password
UE = Wso2Family("UE")  # WSO2's bean validation of a REST API body (a member missing or of the wrong type)
CM = Wso2Family("CM", "_")  # /api/identity/consent-mgt/v1.0
SEC = Wso2Family("SEC")  # /api/users/v1/me/security, security-events
EVU = Wso2Family("EVU")  # /api/users/v1/me/email-change and the e-mail verification extras
UMG = Wso2Family("UMG")  # /api/identity/user/v1.0 (user management)
RECOVERY = Wso2Family("", "")  # WSO2's identity-recovery codes are bare numbers (18001)
AAP = Wso2Family("AAP")  # /api/users/v1/me/authorized-apps
UEX = Wso2Family("UEX")  # /api/users/v1/me/export
USM = Wso2Family("USM")  # /api/users/v1/me/sessions
ALR = Wso2Family("ALR")  # /api/users/v1/me/alerts (scim-me's own: WSO2 has no such API)
DEV = Wso2Family("DEV")  # /api/users/v1/me/devices (scim-me's own)
OAUTH = Wso2Family("OAUTH")  # /oauth2/*
UAR = Wso2Family("UAR")  # /api/users/v2/recovery: user account recovery (codes, channels)
PWR = Wso2Family("PWR")  # /api/users/v2/recovery/password
UNR = Wso2Family("UNR")  # /api/users/v2/recovery/username
IDG = Wso2Family("IDG")  # /api/server/v1/identity-governance
APP = Wso2Family("APP")  # /api/users/v1/me/applications
FIDO = Wso2Family("FIDO")  # /api/users/v2/me/webauthn (WSO2's FIDO2 API; docs/passkeys.md lists the numbers)
