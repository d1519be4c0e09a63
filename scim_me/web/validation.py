"""marshmallow schemas for request envelopes only; the semantics live in ``core/``."""

from __future__ import annotations

from typing import Any

from marshmallow import INCLUDE
from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields

from scim_me.core.patch import PATCH_OP_URN
from scim_me.errors import InvalidSyntaxError


class PatchRequestSchema(Schema):
    """RFC 7644 §3.5.2 PatchOp message. ``schemas`` is optional, as WSO2 does not check it,
    but when present it must be a list of strings naming the PatchOp URN."""

    class Meta:
        unknown = INCLUDE

    schemas = fields.List(fields.String(), required=False)
    Operations = fields.List(fields.Raw(allow_none=True), required=True)


_PATCH = PatchRequestSchema()


def load_patch_request(body: Any) -> list[Any]:
    """Validate a PatchOp envelope and return its operations."""
    if not isinstance(body, dict):
        raise InvalidSyntaxError("The PatchOp message must be a JSON object.")
    if "Operations" not in body and "operations" in body:
        raise InvalidSyntaxError("Invalid JSON schema. The operations member is spelled 'Operations'.")
    operations = body.get("Operations")
    schemas = body.get("schemas", ())
    if (
        isinstance(operations, list)
        and isinstance(schemas, (list, tuple))
        and all(isinstance(name, str) for name in schemas)
    ):
        # What the schema below accepts, checked directly (it costs more than the PATCH engine);
        # anything else goes through it for its error message.
        if "schemas" in body and PATCH_OP_URN not in schemas:
            raise InvalidSyntaxError(f"'schemas' must contain {PATCH_OP_URN}.")
        return list(operations)
    try:
        loaded = _PATCH.load(body)
    except ValidationError as exc:
        fields_named = ", ".join(sorted(str(k) for k in exc.messages_dict))
        raise InvalidSyntaxError(f"Invalid PatchOp message (check: {fields_named}).") from exc
    schemas = loaded.get("schemas")
    if schemas is not None and PATCH_OP_URN not in schemas:
        raise InvalidSyntaxError(f"'schemas' must contain {PATCH_OP_URN}.")
    return list(loaded["Operations"])
