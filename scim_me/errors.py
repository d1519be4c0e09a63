"""Typed errors, raised where a problem is found and rendered in one place (``web/handlers.py``).

Two wire dialects exist: SCIM endpoints answer RFC 7644 §3.12 error documents, the WSO2 REST
APIs (``/api/...``) answer ``{code, message, description, traceId}``. Both are described here as
plain data; nothing in this module knows about Flask.
"""

from __future__ import annotations

from typing import Any

SCIM_ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"


class ScimError(Exception):
    """An RFC 7644 §3.12 error: an HTTP status, an optional scimType and a human detail."""

    status: int = 400
    scim_type: str | None = None
    default_detail: str = "Request is unparsable, syntactically incorrect, or violates schema."

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None) -> None:
        self.detail = detail or self.default_detail
        self.headers: dict[str, str] = dict(headers or {})
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


class NoTargetError(ScimError):
    scim_type = "noTarget"


class InvalidValueError(ScimError):
    scim_type = "invalidValue"


class MutabilityError(ScimError):
    scim_type = "mutability"


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


class UnsupportedMediaTypeError(ScimError):
    status = 415
    default_detail = "Content-Type must be application/scim+json or application/json."


class ConflictError(ScimError):
    status = 409
    default_detail = "The resource was changed by another request; retry."


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


class ApiError(Exception):
    """A WSO2 REST API error: ``{code, message, description, traceId}`` with a string code."""

    status: int = 400
    code: str = "UMG-10000"
    message: str = "Bad Request"

    def __init__(
        self,
        description: str,
        *,
        status: int | None = None,
        code: str | None = None,
        message: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.description = description
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        if message is not None:
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
