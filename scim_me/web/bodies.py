"""The one way an endpoint reads a JSON body: parsed by ``negotiation.parse_body`` (content type,
size, depth, duplicate keys, invalid UTF-8, lone surrogates, NaN/Infinity rejected once), then
loaded through a marshmallow schema with strict types. Failures are raised in the dialect of the
endpoint's API family, described by a :class:`Wso2Body`, and rendered by ``web/handlers.py``.

SCIM endpoints call ``parse_body`` directly: its errors already are SCIM's (``invalidSyntax``).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import ClassVar

from flask import request
from marshmallow import EXCLUDE
from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields

from scim_me.errors import ApiError
from scim_me.errors import ApiErrorKind
from scim_me.errors import ScimError
from scim_me.errors import reason
from scim_me.web.negotiation import parse_body

NOT_AN_OBJECT = "The request body must be a JSON object."


def first_problem(messages: Mapping[str, Any]) -> str:
    """The first message marshmallow found (fields are checked in declaration order)."""
    pending: list[Any] = [messages]
    while pending:
        item = pending.pop(0)
        if isinstance(item, str):
            return item
        if isinstance(item, Mapping):
            pending[:0] = list(item.values())
        elif isinstance(item, list):
            pending[:0] = item
    return NOT_AN_OBJECT


def _flatten(messages: Any, path: str = "") -> list[str]:
    if isinstance(messages, Mapping):
        out: list[str] = []
        for key, value in messages.items():
            out += _flatten(value, f"{path}.{key}" if path else str(key))
        return out
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [f"{path or 'body'}: {' '.join(messages)}"]
    if isinstance(messages, list):
        return [line for item in messages for line in _flatten(item, path)]
    return [f"{path or 'body'}: {messages}"]


def every_problem(messages: Mapping[str, Any]) -> str:
    """``Invalid request: path: message; ...`` (at most ten), naming where each problem is."""
    if set(messages) == {"_schema"}:
        return first_problem(messages)
    return "Invalid request: " + "; ".join(_flatten(messages)[:10])


@dataclass(frozen=True)
class Wso2Body:
    """How one WSO2 REST API answers a body it cannot use.

    ``error`` answers what the parser rejects and, unless ``members`` names a member with its own
    code, what the schema rejects (``_schema`` is the body as a whole: not an object).
    ``media_status`` keeps an API's historical status for a non-JSON Content-Type (the
    change-password API has always answered 400)."""

    error: ApiErrorKind
    members: Mapping[str, ApiErrorKind] = field(default_factory=dict)
    describe: Callable[[Mapping[str, Any]], str] = first_problem
    media_status: int = 415
    check_type: bool = True
    # The user-management API has always named a 413/415 by its reason ("Payload Too Large").
    reason_messages: bool = False

    def unreadable(self, problem: ScimError) -> ApiError:
        status = self.media_status if problem.status == 415 else problem.status
        message = reason(status) if self.reason_messages and status != 400 else None
        return self.error(problem.detail, status=status, message=message)

    def invalid(self, messages: Mapping[str, Any]) -> ApiError:
        for name, kind in self.members.items():
            if name in messages:
                return kind(self.describe({name: messages[name]}))
        return self.error(self.describe(messages))


def read_json(dialect: Wso2Body, *, optional: bool = False) -> Any:
    """The request's JSON value; an absent body is ``{}`` when ``optional`` (a JSON ``null`` is
    not absent: it is a body that is not an object)."""
    if optional and not _present():
        return {}
    try:
        return parse_body(check_type=dialect.check_type)
    except ScimError as problem:
        raise dialect.unreadable(problem) from problem


def load(schema: Schema, value: Any, dialect: Wso2Body) -> dict[str, Any]:
    """``value`` (a parsed body) through ``schema``; its problems in the API's dialect."""
    if not isinstance(value, dict):
        raise dialect.invalid({"_schema": [getattr(schema, "not_an_object", NOT_AN_OBJECT)]})
    try:
        loaded: dict[str, Any] = schema.load(value)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, Mapping) else {"_schema": exc.messages}
        raise dialect.invalid(messages) from exc
    return loaded


def read_body(schema: Schema, dialect: Wso2Body, *, optional: bool = False) -> dict[str, Any]:
    """Parse and load the request body in one step (an absent optional body loads as ``{}``)."""
    return load(schema, read_json(dialect, optional=optional), dialect)


def _present() -> bool:
    """Whether the request has a body; a declared length is trusted so an oversized body is
    answered by the parser (413 in the API's dialect), not read here."""
    if request.content_length is not None:
        return request.content_length > 0
    return bool(request.get_data(cache=True))


# --- schema building blocks ----------------------------------------------------------------------


class Body(Schema):
    """A request body: a JSON object; members it does not know are ignored, as WSO2 does."""

    class Meta:
        unknown = EXCLUDE

    # What a body that is not a JSON object is told (``_schema`` in a dialect's members).
    not_an_object: ClassVar[str] = NOT_AN_OBJECT


def messages(text: str) -> dict[str, str | list[Any] | dict[Any, Any]]:
    """One description for every way a member can be wrong (missing, null, wrong type)."""
    return {"required": text, "null": text, "invalid": text}


class StrictInteger(fields.Integer):
    """An integer given as a JSON number (no strings, no booleans, no fractions)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _validated(self, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


class StrictBoolean(fields.Boolean):
    """``true`` or ``false``, never a string or a number."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class StrictString(fields.String):
    """A JSON string, never a number or a boolean (marshmallow's String would not coerce them
    either, but its message does not show the value; ``{input!r}`` in a message does here)."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str):
            raise self.make_error("invalid", input=value)
        return value
